// The loopback stand-in for the app's Universal Link / App Link: on a device the OS hands the link to the app;
// here the browser navigates to this HTTP endpoint, which records exactly what it received (path and query), and
// lets the caller (the test, or the demo's app) handle it and answer with a small HTML page.
import http from 'node:http';
import { LOOPBACK } from '../lib/net.mjs';
import { SCREEN_HEADERS, asset } from './app-page.mjs';

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A minimal HTML page (no script) with a title and preformatted text lines. */
export function htmlPage(title, lines) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title></head><body><main><h1 id="title">${escapeHtml(title)}</h1>
<pre id="result">${lines.map(escapeHtml).join('\n')}</pre></main></body></html>\n`;
}

/** The answer for a page `out`: { status?, title, html } (a screen of app-page.mjs) or { status?, title, lines }. */
function pageAnswer(res, out, extra = {}) {
  const body = out.html ?? htmlPage(out.title, out.lines);
  const headers = out.html ? SCREEN_HEADERS : { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' };
  res.writeHead(out.status ?? 200, { ...headers, ...extra, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Start the app-link endpoint on `port` (0 = free port), serving `linkPath` (the app link's path) and the screens'
 * assets under /assets/ (app-page.mjs).
 * `onLink(record)` (optional, async) returns { status?, title, html } or { status?, title, lines } for the page the
 * browser shows; it may set record.result for the caller. `record.lang` is the browser's Accept-Language header.
 * `routes` maps other GET paths to async (url, { lang }) => ({ redirect } | { status?, title, html | lines }).
 * Returns { port, url (the app-link base URL), received: [{ path, search, params, at }], waitForLink(n, ms), close() }.
 */
export function startAppEndpoint({ port = 0, linkPath = '/app/oauth', onLink, routes = {} } = {}) {
  const received = [];
  const waiters = [];
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, `http://${LOOPBACK}`);
    const lang = req.headers['accept-language'];
    const file = req.method === 'GET' && url.pathname.startsWith('/assets/') ? asset(url.pathname.slice('/assets/'.length)) : undefined;
    if (file) {
      res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(file.body);
      return;
    }
    if (req.method === 'GET' && Object.hasOwn(routes, url.pathname)) {
      // e.g. the demo's /app/start: the app begins an authorization request and sends the browser to it
      try {
        const out = await routes[url.pathname](url, { lang });
        if (out.redirect) {
          res.writeHead(302, { location: out.redirect, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
          res.end();
          return;
        }
        pageAnswer(res, out);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
        res.end(`${err.message}\n`);
      }
      return;
    }
    if (req.method !== 'GET' || url.pathname !== linkPath) {
      res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end('not the app link\n');
      return;
    }
    const record = { path: url.pathname, search: url.search, params: url.searchParams, lang, at: Date.now(), result: undefined };
    received.push(record);
    for (const w of waiters.splice(0)) w();
    let page = { title: 'App received the link', lines: ['The app received the authorization response.'] };
    let status = 200;
    if (onLink) {
      try {
        const out = await onLink(record);
        if (out) {
          page = out;
          status = out.status ?? 200;
        }
      } catch (err) {
        status = 500;
        page = { title: 'App error', lines: [err.message] };
      }
    }
    pageAnswer(res, { ...page, status }, { 'referrer-policy': 'no-referrer' });
  });
  server.keepAliveTimeout = 500;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => {
      const actual = server.address().port;
      resolve({
        port: actual,
        url: `http://${LOOPBACK}:${actual}${linkPath}`,
        received,
        /** Resolves the n-th received link (1-based), waiting at most `timeoutMs`. */
        async waitForLink(n = received.length + 1, timeoutMs = 10_000) {
          const deadline = Date.now() + timeoutMs;
          while (received.length < n) {
            const left = deadline - Date.now();
            if (left <= 0) throw new Error(`the app endpoint received ${received.length} link(s) within ${timeoutMs} ms, expected ${n}`);
            await new Promise((r) => {
              const t = setTimeout(r, Math.min(left, 250));
              waiters.push(() => {
                clearTimeout(t);
                r();
              });
            });
          }
          return received[n - 1];
        },
        close() {
          return new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          });
        },
      });
    });
  });
}
