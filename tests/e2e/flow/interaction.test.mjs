// Our sign-in and consent screens on the real oidc-provider (startAuthServer's `interactions` option), over plain
// HTTP: the language follows Accept-Language, an empty name is refused on the screen, consent lists each scope
// once and ends at the redirect URI with code, state and iss, Cancel ends there with access_denied, a finished
// step says it is over, and the screens load nothing but their own assets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startAuthServer } from '../authz/server.mjs';
import { CookieJar, authorizationRequestUrl, pkcePair, randomState, runBrowserFlow } from '../authz/flow.mjs';
import { interactionScreens } from './interaction.mjs';

// Nothing listens here: the flow stops at the redirect, as the browser would hand it to the page.
const REDIRECT_URI = 'http://127.0.0.1:45998/app/callback';

let as;
before(async () => { as = await startAuthServer({ redirectUris: [REDIRECT_URI], interactions: interactionScreens }); });
after(async () => { await as?.close(); });

/** A user agent with a cookie jar and a language: get/post follow nothing, they return { status, location, html }. */
function agent(lang) {
  const jar = new CookieJar();
  const go = async (url, init = {}) => {
    const res = await fetch(new URL(url, as.issuer), {
      ...init, redirect: 'manual', headers: { ...(init.headers ?? {}), cookie: jar.header(), 'accept-language': lang },
    });
    jar.store(res);
    return { status: res.status, location: res.headers.get('location'), html: await res.text(), headers: res.headers };
  };
  return {
    get: (url) => go(url),
    post: (url, form) => go(url, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString(),
    }),
  };
}

/** Follow redirects from `url` until a 200 screen (returned with its URL) or the redirect URI (returned as `redirect`). */
async function follow(ua, url) {
  let next = url;
  for (let i = 0; i < 8; i += 1) {
    const r = await ua.get(next);
    if (r.status >= 300 && r.status < 400) {
      const to = new URL(r.location, new URL(next, as.issuer)).href;
      if (to.startsWith(REDIRECT_URI)) return { redirect: new URL(to) };
      next = to;
      continue;
    }
    return { ...r, url: next };
  }
  throw new Error('too many redirects');
}

function start() {
  const state = randomState();
  return { state, url: authorizationRequestUrl(as, { redirectUri: REDIRECT_URI, state, codeChallenge: pkcePair().challenge }) };
}

describe('our sign-in and consent screens on oidc-provider', () => {
  test('in German: an empty name is refused on the screen; consent lists each scope once; the redirect carries code, state, iss', async () => {
    const ua = agent('de-CH,de;q=0.9,en;q=0.5');
    const { state, url } = start();
    const login = await follow(ua, url);
    assert.equal(login.status, 200);
    assert.match(login.html, /<html lang="de" data-screen="login">/);
    assert.match(login.html, /<title>Anmelden<\/title>/);
    assert.equal(login.headers.get('content-security-policy')?.includes("script-src 'self'"), true);
    assert.doesNotMatch(login.html, /https?:\/\/(?!127\.0\.0\.1)/, 'nothing from outside loopback');
    const action = /<form action="([^"]+)" method="post"/.exec(login.html)[1];

    const empty = await ua.post(action, { prompt: 'login', login: '  ', password: 'x' });
    assert.equal(empty.status, 400);
    assert.match(empty.html, /<p class="error" id="form-error" role="alert">Geben Sie einen Namen ein \(bis zu 64 Zeichen\)\.<\/p>/);
    const wrongStep = await ua.post(action, { prompt: 'consent' });
    assert.equal(wrongStep.status, 400);

    const signedIn = await ua.post(action, { prompt: 'login', login: 'alice', password: 'TEST-ONLY-any-password' });
    assert.equal(signedIn.status, 303);
    const consent = await follow(ua, signedIn.location);
    assert.match(consent.html, /<title>Zugriff erlauben<\/title>/);
    assert.match(consent.html, /tollgate-mobile bittet um Zugriff als alice\./);
    const scopes = [...consent.html.matchAll(/<span class="scope-name">([^<]+)<\/span>/g)].map((m) => m[1]);
    assert.deepEqual(scopes, ['openid', 'orders:read']);
    assert.match(consent.html, /<li>Ihre Bestellungen sehen <span class="scope-name">orders:read<\/span><\/li>/);

    const allowed = await ua.post(/<form action="([^"]+)"/.exec(consent.html)[1], { prompt: 'consent' });
    assert.equal(allowed.status, 303);
    const { redirect } = await follow(ua, allowed.location);
    assert.deepEqual([...redirect.searchParams.keys()].sort(), ['code', 'iss', 'state']);
    assert.equal(redirect.searchParams.get('state'), state);
    assert.equal(redirect.searchParams.get('iss'), as.issuer);

    // going back to the finished consent step
    const over = await ua.get(consent.url);
    assert.equal(over.status, 400);
    assert.match(over.html, /<html lang="de" data-screen="expired">[\s\S]*<title>Dieser Anmeldeschritt ist vorbei<\/title>/);
  });

  test('Cancel on the sign-in screen ends at the redirect URI with access_denied, state and iss', async () => {
    const ua = agent('fr-FR');
    const { state, url } = start();
    const login = await follow(ua, url);
    assert.match(login.html, /<a class="button secondary" id="cancel" href="([^"]+)">Annuler<\/a>/);
    const { redirect } = await follow(ua, /id="cancel" href="([^"]+)"/.exec(login.html)[1]);
    assert.equal(redirect.searchParams.get('error'), 'access_denied');
    assert.equal(redirect.searchParams.get('state'), state);
    assert.equal(redirect.searchParams.get('iss'), as.issuer);
  });

  test('the plain-HTTP helper of the other suites fills them as it filled the development screens', async () => {
    const { url } = start();
    const { redirect, screens } = await runBrowserFlow(url, { redirectUri: REDIRECT_URI });
    assert.deepEqual(screens, ['login', 'consent']);
    assert.ok(redirect.searchParams.get('code'));
  });

  test('the screens load their stylesheets and script from the server itself', async () => {
    for (const [file, type] of [['page.css', 'text/css'], ['app.css', 'text/css'], ['app.js', 'text/javascript']]) {
      const res = await fetch(`${as.issuer}/assets/${file}`);
      assert.equal(res.status, 200, file);
      assert.match(res.headers.get('content-type'), new RegExp(`^${type}`));
    }
    assert.notEqual((await fetch(`${as.issuer}/assets/server.mjs`)).status, 200);
  });
});
