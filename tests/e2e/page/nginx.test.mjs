// The generated nginx snippets in a real nginx (Debian's package), over HTTPS with a certificate made here by
// openssl (TEST ONLY, in a temporary directory): nginx is started by the test on two loopback ports — one server block
// per origin, each with `root` at its document root of a copy of the build and `include` of its snippet, in an
// unprivileged-friendly config (single process, pid, logs and temp paths in the temporary directory).
//
// Every public file answers 200 with its exact type and every security header; every other file of the build
// (the snippets, _headers, the marker, the mobile snippets, files planted in the roots) and every other spelling of
// a path answers 404; the pages are not access-logged; `tollgate-site check` passes over HTTPS with --ca and fails
// without it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { freePort, LOOPBACK, waitFor } from '../lib/net.mjs';
import { runToCompletion, startProcess, stopProcess } from '../lib/proc.mjs';
import { SITE_BIN, SITE_CONFIG, SITE_DIR, requireBuiltSite } from './site.mjs';

const NGINX = process.env.NGINX_BIN || '/usr/sbin/nginx';
const OPENSSL = process.env.OPENSSL_BIN || '/usr/bin/openssl';
const config = requireBuiltSite();
const app = config.apps[0];

const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
/** What each origin must serve (independent of the snippets under test). */
const PUBLIC = {
  page: [
    [app.login_path, `${app.login_path.slice(1)}.html`, HTML],
    [app.logout_path, `${app.logout_path.slice(1)}.html`, HTML],
    ['/assets/page.css', 'assets/page.css', 'text/css; charset=utf-8'],
    ['/assets/boot.js', 'assets/boot.js', JS],
    ['/assets/fallback.js', 'assets/fallback.js', JS],
    ['/assets/fallback-data.js', 'assets/fallback-data.js', JS],
    ['/assets/tollgate_redirect_page.js', 'assets/tollgate_redirect_page.js', JS],
    ['/assets/tollgate_redirect_page_bg.wasm', 'assets/tollgate_redirect_page_bg.wasm', 'application/wasm'],
  ],
  'app-link': [
    [app.app_link_login_path, `${app.app_link_login_path.slice(1)}.html`, HTML],
    [app.app_link_logout_path, `${app.app_link_logout_path.slice(1)}.html`, HTML],
    ['/assets/page.css', 'assets/page.css', 'text/css; charset=utf-8'],
    ['/assets/not-installed.js', 'assets/not-installed.js', JS],
    ['/.well-known/apple-app-site-association', '.well-known/apple-app-site-association', 'application/json'],
    ['/.well-known/assetlinks.json', '.well-known/assetlinks.json', 'application/json'],
  ],
};
const SECURITY = {
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'strict-transport-security': `max-age=${config.hsts_max_age ?? 31536000}`,
};

let tmp;
let site;
let nginx;
const ports = {};
let ca;

function sh(cmd, args) {
  return runToCompletion(cmd, args, { timeoutMs: 20_000 }).then((r) => {
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}):\n${r.output}`);
    return r.output;
  });
}

/** A TEST-ONLY CA and a leaf certificate for 127.0.0.1 and localhost, made with openssl. */
async function makeCertificates(dir) {
  const p = (f) => path.join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await sh(OPENSSL, ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2',
    '-subj', '/CN=tollgate nginx test CA (TEST ONLY)',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await sh(OPENSSL, ['req', ...ec, '-keyout', p('leaf.key'), '-out', p('leaf.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(p('leaf.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n'
    + 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  await sh(OPENSSL, ['x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-out', p('leaf.pem'), '-days', '2', '-extfile', p('leaf.ext')]);
  writeFileSync(p('chain.pem'), readFileSync(p('leaf.pem'), 'utf8') + readFileSync(p('ca.pem'), 'utf8'));
  return readFileSync(p('ca.pem'));
}

function nginxConfig(dir) {
  const p = (f) => path.join(dir, f);
  const server = (root, port) => `
  server {
    listen ${LOOPBACK}:${port} ssl;
    server_name localhost;
    ssl_certificate ${p('chain.pem')};
    ssl_certificate_key ${p('leaf.key')};
    root ${path.join(site, root)};
    include ${path.join(site, `nginx-${root}.conf`)};
  }`;
  const mime = existsSync('/etc/nginx/mime.types') ? 'include /etc/nginx/mime.types;' : '';
  return `# TEST ONLY: one process, everything under ${dir}
daemon off;
master_process off;
worker_processes 1;
pid ${p('nginx.pid')};
error_log ${p('error.log')} info;
events { worker_connections 64; }
http {
  ${mime}
  access_log ${p('access.log')};
  client_body_temp_path ${p('client_body')};
  proxy_temp_path ${p('proxy')};
  fastcgi_temp_path ${p('fastcgi')};
  uwsgi_temp_path ${p('uwsgi')};
  scgi_temp_path ${p('scgi')};
  server_tokens off;
${server('page', ports.page)}
${server('app-link', ports['app-link'])}
}
`;
}

/** GET over HTTPS, trusting the test CA; the raw path goes on the request line as is. */
function get(root, rawPath) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: LOOPBACK, port: ports[root], path: rawPath, method: 'GET', ca, servername: 'localhost' }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function walk(dir, base = dir, out = []) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) walk(full, base, out);
    else out.push(path.relative(base, full));
  }
  return out;
}

before(async () => {
  for (const [bin, pkg] of [[NGINX, 'nginx'], [OPENSSL, 'openssl']]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: install Debian's ${pkg} package (scripts/setup.sh does)`);
  }
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tollgate-nginx-'));
  // A copy of the build, with files planted in the roots that must never be served.
  site = path.join(tmp, 'www');
  cpSync(SITE_DIR, site, { recursive: true });
  writeFileSync(path.join(site, 'page', 'secret.txt'), 'planted');
  writeFileSync(path.join(site, 'page', '.env'), 'planted');
  writeFileSync(path.join(site, 'page', 'assets', 'boot.js.map'), 'planted');
  mkdirSync(path.join(site, 'app-link', '.git'));
  writeFileSync(path.join(site, 'app-link', '.git', 'config'), 'planted');
  ca = await makeCertificates(tmp);
  ports.page = await freePort();
  ports['app-link'] = await freePort();
  writeFileSync(path.join(tmp, 'nginx.conf'), nginxConfig(tmp));
  await sh(NGINX, ['-t', '-p', tmp, '-c', path.join(tmp, 'nginx.conf'), '-e', path.join(tmp, 'error.log')]);
  nginx = startProcess(NGINX, ['-p', tmp, '-c', path.join(tmp, 'nginx.conf'), '-e', path.join(tmp, 'error.log')], {
    logFile: path.join(tmp, 'nginx.out'),
  });
  await waitFor('nginx', async () => (await get('app-link', '/.well-known/assetlinks.json').catch(() => null))?.status === 200
    && (await get('page', '/assets/page.css').catch(() => null))?.status === 200, {
    timeoutMs: 10_000,
    abort: async () => (nginx.running ? undefined : `nginx exited:\n${nginx.log()}\n${readFileSync(path.join(tmp, 'error.log'), 'utf8')}`),
  });
});

after(async () => {
  await stopProcess(nginx);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function assertSecurityHeaders(res, what) {
  for (const [name, value] of Object.entries(SECURITY)) assert.equal(res.headers[name], value, `${what}: ${name}`);
  const csp = res.headers['content-security-policy'] ?? '';
  assert.match(csp, /^default-src 'none'; script-src 'self' 'wasm-unsafe-eval';/, `${what}: CSP`);
  assert.match(csp, /frame-ancestors 'none'/, `${what}: CSP`);
}

describe('the generated nginx snippets in Debian nginx, over HTTPS', () => {
  it('every public file answers 200 with its exact type, its bytes and every security header, without redirects', async () => {
    for (const [root, files] of Object.entries(PUBLIC)) {
      for (const [urlPath, file, type] of files) {
        const res = await get(root, `${urlPath}${file.endsWith('.html') ? '?code=x&state=y' : ''}`);
        const what = `${root} ${urlPath}`;
        assert.equal(res.status, 200, what);
        assert.equal(res.headers['content-type'], type, what);
        assert.deepEqual(res.body, readFileSync(path.join(site, root, file)), `${what}: the built file`);
        assertSecurityHeaders(res, what);
      }
    }
  });

  it('every other file of the build, planted files and other spellings answer 404 (with the headers)', async () => {
    const publicFiles = Object.fromEntries(Object.entries(PUBLIC).map(([root, files]) => [root, new Set(files.map((f) => f[1]))]));
    const requests = [];
    // Every file of the whole build, at its path below each root and below the build's top directory.
    for (const rel of walk(site)) {
      const [root, ...rest] = rel.split(path.sep);
      const inRoot = rest.join('/');
      for (const server of ['page', 'app-link']) {
        if (!(root === server && publicFiles[server].has(inRoot))) requests.push([server, `/${rel.split(path.sep).join('/')}`]);
        if (root === server && !publicFiles[server].has(inRoot)) requests.push([server, `/${inRoot}`]);
      }
    }
    assert.ok(requests.some(([s, p]) => s === 'page' && p === '/_headers'), 'the internal files are among them');
    for (const p of ['/.tollgate-site', '/nginx-page.conf', '/nginx-app-link.conf', '/mobile/associated-domains.entitlements']) {
      assert.ok(requests.some(([, q]) => q === p), p);
    }
    // Other spellings of public paths, directories, the other origin's files.
    for (const server of ['page', 'app-link']) {
      for (const p of [
        `${app.login_path}.html`, `${app.login_path}/`, '/assets/', '/assets', '/.well-known/', '/', '/index.html',
        '/assets/..%2f_headers', '/assets/%2e%2e/_headers', '/.well-known/../_headers', '/_HEADERS',
      ]) requests.push([server, p]);
    }
    requests.push(['page', '/.well-known/apple-app-site-association'], ['app-link', '/assets/boot.js']);
    const served = [];
    for (const [server, p] of requests) {
      const res = await get(server, p);
      if (res.status !== 404) served.push(`${server} ${p} -> ${res.status}`);
      else assertSecurityHeaders(res, `${server} ${p}`);
    }
    assert.deepEqual(served, [], `only public files are served (${requests.length} requests)`);
    // Paths above the root or with a NUL byte: nginx refuses the request line itself (400), before any location.
    for (const server of ['page', 'app-link']) {
      for (const p of ['/../nginx-page.conf', '/%2e%2e/nginx-page.conf', '/assets/../../.tollgate-site', '/_headers%00']) {
        assert.equal((await get(server, p)).status, 400, `${server} ${p}`);
      }
    }
  });

  it('the pages are not written to the access log, the assets are', async () => {
    await get('page', `${app.login_path}?code=nginx-log-secret&state=s`);
    await get('app-link', `${app.app_link_login_path}?code=nginx-log-secret&state=s`);
    await get('page', '/assets/boot.js?marker=logged');
    const log = readFileSync(path.join(tmp, 'access.log'), 'utf8');
    assert.match(log, /marker=logged/);
    assert.doesNotMatch(log, /nginx-log-secret/);
  });

  it('tollgate-site check passes over HTTPS with --ca and names the untrusted certificate without it', async () => {
    const urls = ['--page-url', `https://${LOOPBACK}:${ports.page}`, '--app-link-url', `https://${LOOPBACK}:${ports['app-link']}`];
    const ok = await runToCompletion(SITE_BIN, ['check', '--config', SITE_CONFIG, ...urls, '--ca', path.join(tmp, 'ca.pem')], { timeoutMs: 30_000 });
    assert.equal(ok.code, 0, ok.output);
    assert.match(ok.output, /asset files served with 200 \(no redirect\) as application\/json, uncompressed, under 131072 bytes, as the config generates them/);
    assert.match(ok.output, /2 redirect page\(s\) with every security header, assets with their exact types/);
    const untrusted = await runToCompletion(SITE_BIN, ['check', '--config', SITE_CONFIG, ...urls], { timeoutMs: 30_000 });
    assert.equal(untrusted.code, 1, untrusted.output);
    assert.match(untrusted.output, /TLS certificate not trusted \(invalid peer certificate: UnknownIssuer\)/);
  });
});
