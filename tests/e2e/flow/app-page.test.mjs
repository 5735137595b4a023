// The demo's screens as HTML (app-page.mjs, interaction.mjs): the language choice, the result's cards and shortened
// tokens, the plain-words problem screens, each scope listed once on the consent screen, and every text in the three
// languages. The browser pass of the demo (stack.mjs --check, demo.test.mjs) checks their layout in Chromium.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  LANGS, Problem, appText, asset, chooseLang, problemScreen, resultScreen, shortToken,
} from './app-page.mjs';
import { consentScopes, consentScreen, expiredScreen, loginScreen } from './interaction.mjs';

const TOKEN = `eyJhbGciOiJFUzI1NiJ9.${'a'.repeat(400)}.sigSIGsig123456`;
const RESULT = {
  sub: 'alice',
  issuer: 'http://127.0.0.1:9000',
  scope: 'openid orders:read',
  expiresIn: 900,
  accessToken: TOKEN,
  refreshToken: 'r'.repeat(43),
  calls: [
    { method: 'GET', path: '/orders', status: 200, headers: { 'x-user-id': 'alice', 'x-token-scope': 'openid orders:read' } },
    { method: 'POST', path: '/orders', status: 403, wwwAuthenticate: 'Bearer realm="orders-api", error="insufficient_scope", scope="orders:write"' },
  ],
  startUrl: '/app/start',
};

describe('demo screens', () => {
  it('picks the first supported language of Accept-Language, else English', () => {
    assert.equal(chooseLang('de-AT,de;q=0.9,en;q=0.8'), 'de');
    assert.equal(chooseLang('it-IT, fr-CA;q=0.8, en;q=0.5'), 'fr');
    assert.equal(chooseLang('EN-gb'), 'en');
    assert.equal(chooseLang('ja-JP, zh'), 'en');
    assert.equal(chooseLang(undefined), 'en');
    assert.equal(chooseLang(''), 'en');
  });

  it('shortens a token to its first 10 and last 6 characters; short values stay whole', () => {
    assert.equal(shortToken(TOKEN), 'eyJhbGciOi…123456');
    assert.equal(shortToken('abc'), 'abc');
  });

  it('the result screen: steps, one card per API call with its status, tokens shortened with the full value behind a tap', () => {
    const html = resultScreen('en', RESULT);
    assert.match(html, /<html lang="en" data-screen="signed-in">/);
    assert.match(html, /<title>You are signed in<\/title>/);
    assert.match(html, /data-method="GET" data-status="200"/);
    assert.match(html, /data-method="POST" data-status="403"/);
    assert.match(html, /<dt>x-user-id<\/dt><dd>alice<\/dd>/);
    assert.match(html, /WWW-Authenticate: Bearer realm=&#34;orders-api&#34;, error=&#34;insufficient_scope&#34;/);
    assert.match(html, /<code class="token-short">eyJhbGciOi…123456<\/code>/);
    assert.match(html, new RegExp(`<code class="token-full" id="access-token-full">${TOKEN}</code>`));
    assert.equal(html.match(/data-copy=/g).length, 2);
    assert.doesNotMatch(html, /<pre|<script>|style=/, 'no preformatted walls, no inline script or style');
  });

  it('reload, cancel and refusal in plain words, with a way to start again', () => {
    const used = problemScreen('en', Problem.ALREADY_USED, { startUrl: '/app/start' });
    assert.match(used, /<h1 id="title">This sign-in was already used<\/h1>/);
    assert.match(used, /<a class="button" id="again" href="\/app\/start">Start again<\/a>/);
    const cancelled = problemScreen('en', Problem.CANCELLED, { startUrl: '/app/start' });
    assert.match(cancelled, /<h1 id="title">You cancelled the sign-in<\/h1>/);
    assert.doesNotMatch(cancelled, /refused|Reason/i);
    const refused = problemScreen('fr', Problem.REFUSED, { reason: 'issuer_mismatch', startUrl: '/app/start' });
    assert.match(refused, /<h1 id="title">L’application a arrêté cette connexion<\/h1>/);
    assert.match(refused, /<dt>Raison<\/dt><dd><code>issuer_mismatch<\/code><\/dd>/);
  });

  it('every language has every text, and none is left in English by mistake', () => {
    const en = appText('en');
    for (const lang of LANGS) {
      const t = appText(lang);
      assert.deepEqual(Object.keys(t).sort(), Object.keys(en).sort(), lang);
      if (lang !== 'en') {
        for (const key of ['signedInTitle', 'usedTitle', 'cancelledTitle', 'start', 'copy']) assert.notEqual(t[key], en[key], `${lang}.${key}`);
      }
    }
    assert.match(resultScreen('de', RESULT), /<title>Sie sind angemeldet<\/title>/);
    assert.match(problemScreen('de', Problem.CANCELLED, { startUrl: '/' }), /Sie haben die Anmeldung abgebrochen/);
  });

  it('consent lists each scope once with what it allows; sign-in keeps the form fields of the plain-HTTP helpers', () => {
    const scopes = consentScopes({ missingOIDCScope: ['openid', 'orders:read'], missingResourceScopes: { 'https://api.tollgate.test': ['orders:read'] } });
    assert.deepEqual(scopes, ['openid', 'orders:read']);
    const consent = consentScreen('en', { uid: 'u1', client: 'tollgate-mobile', account: 'alice', scopes: [...scopes, 'custom:x'] });
    assert.equal(consent.match(/<li>/g).length, 3);
    assert.match(consent, /<li>see your orders <span class="scope-name">orders:read<\/span><\/li>/);
    assert.match(consent, /<li><span class="scope-name">custom:x<\/span><\/li>/);
    assert.match(consent, /<form action="\/interaction\/u1" method="post">\n<input type="hidden" name="prompt" value="consent">/);
    assert.match(consentScreen('fr', { uid: 'u1', client: 'c', account: 'a', scopes }), /<li>voir vos commandes /);
    const login = loginScreen('de', { uid: 'u2', client: 'tollgate-mobile' });
    assert.match(login, /<title>Anmelden<\/title>/);
    assert.match(login, /name="prompt" value="login"/);
    assert.match(login, /<a class="button secondary" id="cancel" href="\/interaction\/u2\/abort">Abbrechen<\/a>/);
    assert.doesNotMatch(login, /debug|\[ Cancel \]/i);
    assert.match(expiredScreen('en'), /<html lang="en" data-screen="expired">[\s\S]*<h1 id="title">This sign-in step is over<\/h1>/);
    assert.match(expiredScreen('de'), /<h1 id="title">Dieser Anmeldeschritt ist vorbei<\/h1>/);
    assert.match(expiredScreen('fr'), /<h1 id="title">Cette étape de connexion est terminée<\/h1>/);
  });

  it('serves only its own assets', () => {
    assert.match(asset('page.css').body.toString(), /tollgate redirect page/);
    assert.equal(asset('app.js').type, 'text/javascript; charset=utf-8');
    assert.equal(asset('../server.mjs'), undefined);
    assert.equal(asset('constructor'), undefined);
  });
});
