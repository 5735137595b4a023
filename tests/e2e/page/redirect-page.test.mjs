// Browser end-to-end tests of the intermediate redirect page, against the built site served by
// `tollgate-site serve`, in headless Debian Chromium with a phone viewport and user agent.
//
// The app-link host (https://mobile.example.com in www/site.json) is intercepted with context.route:
// the test records exactly which URL a tap on Continue navigates to. Every behaviour runs twice:
// with WebAssembly (the Rust page) and with `window.WebAssembly` deleted (iOS Lockdown Mode), where
// boot.js loads the plain-JS fallback; both must produce identical links and screens. The app-link
// origin's own document root (the app-not-installed pages, the .well-known files) is served on a
// second loopback origin, as it is a different domain in a deployment; the store hosts are
// intercepted too.
//
// Needs: redirect-page/build.sh (site in $TOLLGATE_SITE_DIR or target/www). Writes screenshots to
// tests/e2e/artifacts/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ANDROID, APP_LINK_ROOT, IPHONE, PAGE_ROOT, SITE_DIR, SITE_BIN, SITE_CONFIG, artifactPath, launchPhone, requireBuiltSite,
  startSite,
} from './site.mjs';
import { runToCompletion } from '../lib/proc.mjs';

const config = requireBuiltSite();
const app = config.apps[0];
const LOGIN = app.login_path;
const LOGOUT = app.logout_path;
const LOGIN_LINK = config.app_link_origin + app.app_link_login_path;
const LOGOUT_LINK = config.app_link_origin + app.app_link_logout_path;
const APP_ORIGIN = new URL(config.app_link_origin).origin;
const APP_STORE = `https://apps.apple.com/app/id${app.app_store_id}`;
const PLAY_STORE = `https://play.google.com/store/apps/details?id=${app.android[0].package_name}`;
const STORE_ORIGINS = ['https://apps.apple.com', 'https://play.google.com'];

/** Percent-encoding as both page implementations do it: everything but RFC 3986 unreserved characters. */
const enc = (v) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

let site;
let linkSite;
before(async () => {
  site = await startSite(PAGE_ROOT);
  linkSite = await startSite(APP_LINK_ROOT);
});
after(async () => {
  await site?.stop();
  await linkSite?.stop();
});

/**
 * A phone browser whose navigations to the app-link origin are intercepted and recorded.
 * `engine`: 'wasm' (normal) or 'js' (WebAssembly deleted before any page script runs).
 */
async function phone(engine, { device = ANDROID, ...options } = {}) {
  const browser = await launchPhone(device, options);
  const appLinkHits = [];
  const storeHits = [];
  const requests = [];
  const foreign = [];
  const cspViolations = [];
  await browser.context.route(`${APP_ORIGIN}/**`, (route) => {
    appLinkHits.push(route.request().url());
    return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>app</title><p>the app</p>' });
  });
  for (const store of STORE_ORIGINS) {
    await browser.context.route(`${store}/**`, async (route) => {
      storeHits.push({ url: route.request().url(), headers: await route.request().allHeaders() });
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>store</title><p>the store</p>' });
    });
  }
  browser.context.on('request', (req) => {
    const url = req.url();
    requests.push(url);
    if (![site.url, linkSite.url, APP_ORIGIN, ...STORE_ORIGINS].some((o) => url.startsWith(o))) foreign.push(url);
  });
  if (engine === 'js') {
    await browser.context.addInitScript(() => {
      delete globalThis.WebAssembly;
    });
  }
  return {
    ...browser,
    appLinkHits,
    storeHits,
    requests,
    foreign,
    cspViolations,
    /**
     * Open `pathAndQuery` on the page origin (or on `base`) and wait until the page has rendered a screen
     * (rendered by `engine`, unless `anyEngine`: the app-not-installed page runs no page engine).
     */
    async open(pathAndQuery, { base = site.url, anyEngine = false } = {}) {
      const page = await browser.context.newPage();
      const dialogs = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        d.dismiss().catch(() => {});
      });
      page.on('console', (msg) => {
        if (/Content Security Policy|Trusted Type/i.test(msg.text())) cspViolations.push(msg.text());
      });
      page.dialogs = dialogs;
      await page.goto(base + pathAndQuery);
      if (options.javaScriptEnabled !== false) {
        await page.waitForSelector('html[data-screen]', { state: 'attached' });
        if (!anyEngine) {
          assert.equal(await page.getAttribute('html', 'data-engine'), engine, 'the expected implementation rendered the page');
        }
      }
      return page;
    },
  };
}

async function screen(page) {
  return page.getAttribute('html', 'data-screen');
}

async function continueHref(page) {
  return page.getAttribute('#tg-continue', 'href');
}

/** Tap Continue and resolve the URL the browser navigated to (fragment included). */
async function tapContinue(page, browser, expectedUrl) {
  const before = browser.appLinkHits.length;
  await page.tap('#tg-continue');
  await page.waitForURL((u) => u.origin === APP_ORIGIN);
  assert.equal(browser.appLinkHits.length, before + 1, 'exactly one navigation to the app link');
  assert.equal(page.url(), expectedUrl);
  return page.url();
}

async function assertForwardsNothing(page, browser, hitsBefore) {
  assert.equal(await page.isVisible('#tg-continue'), false, 'no Continue button');
  assert.equal(await continueHref(page), null, 'no link at all');
  assert.equal(await page.locator('a[href]').count(), 0, 'no link anywhere on the page');
  assert.equal(browser.appLinkHits.length, hitsBefore, 'no navigation to the app link');
}

for (const engine of ['wasm', 'js']) {
  const device = engine === 'js' ? IPHONE : ANDROID; // Lockdown Mode is an iOS feature
  describe(`redirect page (${engine === 'wasm' ? 'WebAssembly' : 'no WebAssembly: JS fallback'})`, () => {
    let b;
    before(async () => {
      b = await phone(engine, { device });
    });
    after(async () => {
      assert.deepEqual(b?.foreign ?? [], [], 'no request left the site except the app link');
      assert.deepEqual(b?.cspViolations ?? [], [], 'no CSP or Trusted Types violation');
      await b?.close();
    });

    it('tapping Continue opens exactly the configured app link with exactly the allow-listed parameters', async () => {
      const page = await b.open(
        `${LOGIN}?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj&iss=https%3A%2F%2Fas.example.com&session_state=abc.def` +
          '&redirect_uri=https%3A%2F%2Fevil.example&target=https%3A%2F%2Fevil.example&next=%2F%2Fevil.example',
      );
      assert.equal(await screen(page), 'continue');
      // The address bar and history no longer hold the code.
      assert.equal(page.url(), site.url + LOGIN);
      assert.equal(await page.evaluate(() => location.search + location.hash), '');
      assert.match(await page.textContent('#tg-hint'), /few minutes/);
      assert.equal(await page.textContent('#tg-continue'), 'Continue');
      assert.equal(await page.getAttribute('html', 'lang'), 'en');
      assert.equal(await page.locator('main').count(), 1, 'main landmark');
      assert.equal(await page.locator('h1').count(), 1);
      assert.equal(await page.title(), 'Return to the app');
      // A real link, focused for keyboard users.
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'tg-continue');
      const expected = `${LOGIN_LINK}?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj&iss=https%3A%2F%2Fas.example.com&session_state=abc.def`;
      assert.equal(await continueHref(page), expected);
      if (engine === 'wasm') {
        const shot = artifactPath('redirect-page-login.png');
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`screenshot: ${shot}`);
      }
      const landed = new URL(await tapContinue(page, b, expected));
      assert.deepEqual([...landed.searchParams.keys()], ['code', 'state', 'iss', 'session_state']);
      assert.equal(landed.searchParams.get('iss'), 'https://as.example.com');
      // Back from the app: the page's history entry has no code in it.
      await page.goBack();
      assert.equal(page.url(), site.url + LOGIN);
      await page.close();
    });

    it('Continue works with the keyboard and with a mouse click', async () => {
      let page = await b.open(`${LOGIN}?code=k1&state=s1`);
      await page.keyboard.press('Enter'); // Continue has the focus
      await page.waitForURL((u) => u.origin === APP_ORIGIN);
      assert.equal(page.url(), `${LOGIN_LINK}?code=k1&state=s1`);
      await page.close();
      page = await b.open(`${LOGIN}?code=m1`);
      await page.click('#tg-continue');
      await page.waitForURL((u) => u.origin === APP_ORIGIN);
      assert.equal(page.url(), `${LOGIN_LINK}?code=m1`);
      await page.close();
    });

    it('an error screen shows only the page\'s own words; a crafted description and an invented code are forwarded, never shown', async () => {
      const spoof = 'Your account is locked. Call support at +1-555-0100 or visit evil.example';
      const hostile = '<script>alert(1)</script><img src=x onerror="alert(2)"><b>bold</b>';
      const iss = 'https%3A%2F%2Fas.example.com';
      // A known code with the attacker's sentence: the fixed explanation for access_denied and the code itself.
      let page = await b.open(`${LOGIN}?error=access_denied&error_description=${enc(spoof)}&error_uri=https%3A%2F%2Fas.example.com%2Ferr&state=st&iss=${iss}`);
      assert.equal(await screen(page), 'error');
      assert.equal(await page.textContent('h1'), 'Sign-in was not completed');
      assert.equal(await page.textContent('#tg-body'), 'The sign-in was cancelled, or access was not granted. Go back to the app to try again.');
      assert.equal(await page.textContent('#tg-error-code'), 'access_denied');
      assert.equal(await page.isVisible('#tg-error'), true);
      for (const text of [await page.innerText('body'), await page.textContent('body'), await page.title()]) {
        assert.ok(!text.includes('account is locked') && !text.includes('555-0100'), `the crafted text is not on the page: ${text}`);
      }
      assert.equal(await page.textContent('#tg-continue'), 'Back to the app');
      assert.equal(page.url(), site.url + LOGIN);
      if (engine === 'wasm') {
        const shot = artifactPath('redirect-page-error.png');
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`screenshot: ${shot}`);
      }
      await tapContinue(page, b, `${LOGIN_LINK}?state=st&iss=${iss}&error=access_denied&error_description=${enc(spoof)}&error_uri=https%3A%2F%2Fas.example.com%2Ferr`);
      await page.close();

      // An invented code: the generic explanation only; neither the code nor the description is shown.
      page = await b.open(`${LOGIN}?error=account_locked_call_support&error_description=${enc(spoof + hostile)}&state=st`);
      assert.equal(await screen(page), 'error');
      assert.equal(await page.textContent('#tg-body'), 'The sign-in server reported a problem. Go back to the app to try again.');
      assert.equal(await page.isVisible('#tg-error'), false, 'no error code is shown for an unknown value');
      for (const text of [await page.innerText('body'), await page.textContent('main')]) {
        for (const bad of ['account_locked', 'account is locked', '555-0100', 'alert', 'bold']) {
          assert.ok(!text.includes(bad), `"${bad}" is not on the page`);
        }
      }
      assert.equal(await page.locator('main img, main script, main b').count(), 0, 'no markup was injected');
      if (engine === 'wasm') {
        const shot = artifactPath('redirect-page-error-unknown-code.png');
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`screenshot: ${shot}`);
      }
      await tapContinue(page, b, `${LOGIN_LINK}?state=st&error=account_locked_call_support&error_description=${enc(spoof + hostile)}`);
      assert.deepEqual(page.dialogs, [], 'no script ran');
      await page.close();
    });

    for (const [scheme, uri, forwarded] of [
      ['javascript:', 'javascript:alert(document.domain)', false],
      ['data:', 'data:text/html,<script>alert(1)</script>', false],
      ['http:', 'http://as.example.com/err', false],
      ['https:', 'https://as.example.com/errors/access_denied', true],
    ]) {
      it(`an error_uri with ${scheme} is ${forwarded ? 'forwarded' : 'dropped and the rest of the response forwarded'}`, async () => {
        const page = await b.open(`${LOGIN}?error=access_denied&state=st&error_uri=${enc(uri)}`);
        assert.equal(await screen(page), 'error');
        const expected = `${LOGIN_LINK}?state=st&error=access_denied${forwarded ? `&error_uri=${enc(uri)}` : ''}`;
        assert.equal(await continueHref(page), expected);
        assert.ok(!(await page.innerText('body')).includes(uri), 'error_uri is never shown');
        await tapContinue(page, b, expected);
        assert.deepEqual(page.dialogs, []);
        await page.close();
      });
    }

    it('the app-not-installed page (app-link origin) shows the store links and neither shows nor forwards the response', async () => {
      const secret = 'SECRETcode-not-installed-4711';
      const requestsBefore = b.requests.length;
      const hits = b.appLinkHits.length;
      const page = await b.open(`${app.app_link_login_path}?code=${secret}&state=st-secret&iss=https%3A%2F%2Fas.example.com`, {
        base: linkSite.url,
        anyEngine: true,
      });
      assert.equal(await screen(page), 'not-installed');
      assert.equal(page.url(), linkSite.url + app.app_link_login_path, 'the response is gone from the address bar');
      assert.equal(await page.evaluate(() => location.search + location.hash), '');
      assert.equal(await page.title(), 'Get the app to continue');
      assert.deepEqual(await page.locator('h1:visible').allTextContents(), ['Get the app to continue']);
      assert.match(await page.innerText('main'), /not installed on this device/);
      const visibleLinks = await page.locator('a:visible').evaluateAll((as) => as.map((a) => [a.textContent, a.href, a.rel]));
      assert.deepEqual(visibleLinks, [
        ['Download on the App Store', APP_STORE, 'noreferrer'],
        ['Get it on Google Play', PLAY_STORE, 'noreferrer'],
      ]);
      const allHrefs = await page.locator('a[href]').evaluateAll((as) => as.map((a) => a.href));
      assert.deepEqual([...new Set(allHrefs)].sort(), [APP_STORE, PLAY_STORE].sort(), 'no other link, none with the response');
      for (const text of [await page.content(), await page.textContent('body')]) {
        assert.ok(!text.includes(secret) && !text.includes('st-secret'), 'the response is not on the page');
      }
      if (engine === 'wasm') {
        const shot = artifactPath('redirect-page-not-installed.png');
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`screenshot: ${shot}`);
      }
      await page.tap('a:visible >> nth=0');
      await page.waitForURL((u) => u.origin === 'https://apps.apple.com');
      const hit = b.storeHits.at(-1);
      assert.equal(hit.url, APP_STORE);
      assert.equal(hit.headers.referer, undefined, 'no Referer reaches the store');
      // Only the page's own navigation carried the response; nothing was sent anywhere with it.
      const carrying = b.requests.slice(requestsBefore).filter((u) => u.includes(secret) || u.includes('st-secret'));
      assert.deepEqual(carrying, [`${linkSite.url}${app.app_link_login_path}?code=${secret}&state=st-secret&iss=https%3A%2F%2Fas.example.com`]);
      assert.equal(b.appLinkHits.length, hits, 'nothing forwarded to the app link');
      await page.close();
    });

    it('javascript: values are only data inside the fixed app link', async () => {
      const page = await b.open(`${LOGIN}?code=javascript%3Aalert(document.domain)&state=javascript:alert(1)`);
      assert.equal(await screen(page), 'continue');
      const expected = `${LOGIN_LINK}?code=javascript%3Aalert%28document.domain%29&state=javascript%3Aalert%281%29`;
      assert.equal(await continueHref(page), expected);
      await tapContinue(page, b, expected);
      assert.deepEqual(page.dialogs, []);
      await page.close();
    });

    const rejected = [
      ['a repeated code', '?code=one&code=two&state=s'],
      ['a repeated state', '?code=one&state=a&state=b'],
      ['a 10 000-character state', `?code=c&state=${'A'.repeat(10_000)}`],
      ['code and error together', '?code=c&error=access_denied'],
      ['only a state', '?state=s'],
      ['an error code outside the RFC 6749 character set', '?error=access%22denied'],
      ['a broken percent escape', '?code=%ZZ&state=s'],
      ['a control character', '?code=a%0Ab'],
      ['parameters in both query and fragment', '?code=q#code=f'],
    ];
    for (const [what, query] of rejected) {
      it(`a response with ${what} is rejected and nothing is forwarded`, async () => {
        const hits = b.appLinkHits.length;
        const page = await b.open(LOGIN + query);
        assert.equal(await screen(page), 'malformed');
        assert.equal(await page.textContent('h1'), 'Invalid sign-in response');
        assert.equal(page.url(), site.url + LOGIN, 'parameters removed from the address bar');
        await assertForwardsNothing(page, b, hits);
        assert.deepEqual(page.dialogs, []);
        await page.close();
      });
    }

    it('a page without response parameters says so and forwards nothing', async () => {
      for (const query of ['', '?redirect_uri=https%3A%2F%2Fevil.example&target=https%3A%2F%2Fevil.example']) {
        const hits = b.appLinkHits.length;
        const page = await b.open(LOGIN + query);
        assert.equal(await screen(page), 'no-response');
        assert.equal(await page.textContent('h1'), 'No sign-in response');
        await assertForwardsNothing(page, b, hits);
        await page.close();
      }
    });

    it('a fragment response (response_mode=fragment) is forwarded in the fragment', async () => {
      const page = await b.open(`${LOGIN}#code=frag123&state=fs&iss=https%3A%2F%2Fas.example.com`);
      assert.equal(await screen(page), 'continue');
      assert.equal(page.url(), site.url + LOGIN, 'fragment removed from the address bar');
      const expected = `${LOGIN_LINK}#code=frag123&state=fs&iss=https%3A%2F%2Fas.example.com`;
      assert.equal(await continueHref(page), expected);
      await tapContinue(page, b, expected);
      await page.close();
    });

    it('the logout page forwards only state to the logout app link', async () => {
      let page = await b.open(`${LOGOUT}?state=lo1&code=notforwarded&iss=x&target=https%3A%2F%2Fevil.example`);
      assert.equal(await screen(page), 'logout');
      assert.equal(await page.textContent('h1'), 'You are signed out');
      await tapContinue(page, b, `${LOGOUT_LINK}?state=lo1`);
      await page.close();
      page = await b.open(LOGOUT);
      assert.equal(await screen(page), 'logout');
      await tapContinue(page, b, LOGOUT_LINK);
      await page.close();
    });
  });
}

describe('language', () => {
  for (const [locale, label, title] of [
    ['de-DE', 'Weiter', 'Zurück zur App'],
    ['fr-FR', 'Continuer', 'Retour à l’application'],
    ['it-IT', 'Continue', 'Return to the app'],
  ]) {
    it(`a ${locale} browser gets ${label}`, async () => {
      const b = await phone('wasm', { locale });
      try {
        const page = await b.open(`${LOGIN}?code=c&state=s`);
        assert.equal(await page.textContent('#tg-continue'), label);
        assert.equal(await page.textContent('h1'), title);
        assert.equal(await page.getAttribute('html', 'lang'), locale.slice(0, 2) === 'it' ? 'en' : locale.slice(0, 2));
      } finally {
        await b.close();
      }
    });
  }

  it('the app-not-installed page shows the browser\'s language only', async () => {
    const b = await phone('js', { device: IPHONE, locale: 'de-DE' });
    try {
      const page = await b.open(`${app.app_link_login_path}?code=c`, { base: linkSite.url, anyEngine: true });
      assert.equal(await page.getAttribute('html', 'lang'), 'de');
      assert.deepEqual(await page.locator('h1:visible').allTextContents(), ['Installieren Sie die App, um fortzufahren']);
      assert.deepEqual(await page.locator('a:visible').allTextContents(), ['Im App Store laden', 'Bei Google Play herunterladen']);
    } finally {
      await b.close();
    }
  });

  it('the fallback picks the same language', async () => {
    const b = await phone('js', { device: IPHONE, locale: 'de-DE' });
    try {
      const page = await b.open(`${LOGIN}?error=access_denied`);
      assert.equal(await page.textContent('#tg-continue'), 'Zurück zur App');
      assert.equal(await page.textContent('h1'), 'Anmeldung nicht abgeschlossen');
    } finally {
      await b.close();
    }
  });
});

describe('when the WebAssembly fails to load', () => {
  it('boot.js falls back to the JS page, which forwards the same link', async () => {
    const b = await phone('wasm');
    try {
      // WebAssembly exists, but the module cannot be fetched.
      await b.context.route('**/assets/*.wasm', (route) => route.abort());
      const page = await b.context.newPage();
      await page.goto(`${site.url}${LOGIN}?code=abc&state=xyz`);
      await page.waitForSelector('html[data-screen]', { state: 'attached' });
      assert.equal(await page.evaluate(() => typeof WebAssembly), 'object');
      assert.equal(await page.getAttribute('html', 'data-engine'), 'js');
      assert.equal(await continueHref(page), `${LOGIN_LINK}?code=abc&state=xyz`);
    } finally {
      await b.close();
    }
  });
});

describe('without JavaScript', () => {
  it('the page explains what to do and offers the plain app link, forwarding no parameters', async () => {
    const b = await phone('none', { javaScriptEnabled: false });
    try {
      const page = await b.open(`${LOGIN}?code=secret-code&state=s`);
      assert.equal(await page.getAttribute('html', 'data-screen'), null, 'no script ran');
      assert.equal(await page.isVisible('#tg-noscript'), true);
      assert.match(await page.textContent('#tg-noscript'), /JavaScript is turned off/);
      assert.match(await page.textContent('#tg-noscript'), /JavaScript ist ausgeschaltet/);
      assert.equal(await page.isVisible('#tg-continue'), false);
      assert.equal(await page.getAttribute('#tg-noscript-link', 'href'), LOGIN_LINK);
      await page.tap('#tg-noscript-link');
      await page.waitForURL((u) => u.origin === APP_ORIGIN);
      assert.equal(page.url(), LOGIN_LINK, 'the code is not forwarded without JavaScript');
      const shot = artifactPath('redirect-page-noscript.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`screenshot: ${shot}`);
    } finally {
      await b.close();
    }
  });
});

describe('the app-not-installed page without JavaScript', () => {
  it('shows every language with the store links; nothing is forwarded', async () => {
    const b = await phone('none', { javaScriptEnabled: false });
    try {
      const page = await b.open(`${app.app_link_login_path}?code=nojs-secret`, { base: linkSite.url });
      assert.equal(await page.locator('h1:visible').count(), 3);
      const hrefs = await page.locator('a:visible').evaluateAll((as) => as.map((a) => a.href));
      assert.deepEqual(hrefs, [APP_STORE, PLAY_STORE, APP_STORE, PLAY_STORE, APP_STORE, PLAY_STORE]);
      assert.ok(!(await page.textContent('body')).includes('nojs-secret'));
      assert.equal(b.appLinkHits.length, 0);
    } finally {
      await b.close();
    }
  });
});

describe('headers and asset files', () => {
  const REQUIRED = {
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
  };

  function checkSecurityHeaders(res, what) {
    for (const [name, value] of Object.entries(REQUIRED)) assert.equal(res.headers.get(name), value, `${what}: ${name}`);
    assert.match(res.headers.get('strict-transport-security') ?? '', /^max-age=\d+/, `${what}: HSTS`);
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const directive of ["script-src 'self' 'wasm-unsafe-eval'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "default-src 'none'"]) {
      assert.ok(csp.split(';').map((d) => d.trim()).includes(directive), `${what}: CSP has ${directive}: ${csp}`);
    }
    assert.doesNotMatch(csp, /unsafe-inline/, `${what}: no 'unsafe-inline'`);
    assert.doesNotMatch(csp, /'unsafe-eval'/, `${what}: no 'unsafe-eval'`);
  }

  // Files of the build that are not public, and other names no server may answer with a file.
  const INTERNAL = ['/_headers', '/.tollgate-site', '/_nginx.conf', '/nginx-page.conf', '/nginx-app-link.conf',
    '/mobile/android-intent-filters.xml', '/page/assets/boot.js', '/example/callback.html', '/assets/', '/assets',
    '/.well-known/', '/.well-known/../_headers', '/%2e%2e/nginx-page.conf'];

  it('every response carries every security header; types are exact; no redirects; internal files are 404', async () => {
    const cases = [
      [site, LOGIN + '?code=x', 200, 'text/html; charset=utf-8'],
      [site, LOGOUT, 200, 'text/html; charset=utf-8'],
      [site, '/assets/boot.js', 200, 'text/javascript; charset=utf-8'],
      [site, '/assets/fallback.js', 200, 'text/javascript; charset=utf-8'],
      [site, '/assets/page.css', 200, 'text/css; charset=utf-8'],
      [site, '/assets/tollgate_redirect_page_bg.wasm', 200, 'application/wasm'],
      [site, '/nothing-here', 404, 'text/plain; charset=utf-8'],
      [site, LOGIN + '/', 404, 'text/plain; charset=utf-8'],
      [site, '/.well-known/apple-app-site-association', 404, 'text/plain; charset=utf-8'],
      [linkSite, '/.well-known/apple-app-site-association', 200, 'application/json'],
      [linkSite, '/.well-known/assetlinks.json', 200, 'application/json'],
      [linkSite, app.app_link_login_path + '?code=x', 200, 'text/html; charset=utf-8'],
      [linkSite, app.app_link_logout_path, 200, 'text/html; charset=utf-8'],
      [linkSite, '/assets/not-installed.js', 200, 'text/javascript; charset=utf-8'],
      [linkSite, '/assets/boot.js', 404, 'text/plain; charset=utf-8'],
      ...INTERNAL.flatMap((p) => [[site, p, 404, 'text/plain; charset=utf-8'], [linkSite, p, 404, 'text/plain; charset=utf-8']]),
    ];
    for (const [server, p, status, type] of cases) {
      const res = await fetch(server.url + p, { redirect: 'manual' });
      const what = `${server === site ? 'page' : 'app-link'} ${p}`;
      assert.equal(res.status, status, what);
      assert.equal(res.headers.get('content-type'), type, what);
      checkSecurityHeaders(res, what);
      await res.arrayBuffer();
    }
  });

  it('the .well-known files hold the configured apps in the platform formats', async () => {
    const aasa = await (await fetch(`${linkSite.url}/.well-known/apple-app-site-association`, { redirect: 'manual' })).json();
    assert.deepEqual(aasa.applinks.details[0].appIDs, app.ios_app_ids);
    assert.deepEqual(aasa.applinks.details[0].components.map((c) => c['/']), [app.app_link_login_path, app.app_link_logout_path]);
    const links = await (await fetch(`${linkSite.url}/.well-known/assetlinks.json`, { redirect: 'manual' })).json();
    assert.deepEqual(links, app.android.map((a) => ({
      relation: ['delegate_permission/common.handle_all_urls'],
      target: { namespace: 'android_app', package_name: a.package_name, sha256_cert_fingerprints: a.sha256_cert_fingerprints },
    })));
  });

  it('tollgate-site check accepts the config, the built files and the served site', async () => {
    const r = await runToCompletion(SITE_BIN, [
      'check', '--config', SITE_CONFIG, '--dir', SITE_DIR, '--page-url', site.url, '--app-link-url', linkSite.url,
    ], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /2 redirect page\(s\) with every security header/);
    assert.match(r.output, /app-not-installed pages with every security header/);
    // The two origins are different sites: the page origin does not serve the asset files.
    const mixed = await runToCompletion(SITE_BIN, ['check', '--config', SITE_CONFIG, '--url', site.url], { timeoutMs: 20_000 });
    assert.equal(mixed.code, 1, mixed.output);
    assert.match(mixed.output, new RegExp(`${site.url}/.well-known/apple-app-site-association: missing`));
  });
});
