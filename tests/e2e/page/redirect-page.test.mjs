// Browser end-to-end tests of the intermediate redirect page, against the built site served by
// `tollgate-site serve`, in headless Debian Chromium with a phone viewport and user agent.
//
// The app-link host (https://mobile.example.com in www/site.json) is intercepted with context.route:
// the test records exactly which URL a tap on Continue navigates to. Every behaviour runs twice:
// with WebAssembly (the Rust page) and with `window.WebAssembly` deleted (iOS Lockdown Mode), where
// boot.js loads the plain-JS fallback; both must produce identical links and screens.
//
// Needs: redirect-page/build.sh (site in $TOLLGATE_SITE_DIR or target/www). Writes screenshots to
// tests/e2e/artifacts/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ANDROID, IPHONE, SITE_DIR, SITE_BIN, SITE_CONFIG, artifactPath, launchPhone, requireBuiltSite, startSite,
} from './site.mjs';
import { runToCompletion } from '../lib/proc.mjs';

const config = requireBuiltSite();
const app = config.apps[0];
const LOGIN = app.login_path;
const LOGOUT = app.logout_path;
const LOGIN_LINK = config.app_link_origin + app.app_link_login_path;
const LOGOUT_LINK = config.app_link_origin + app.app_link_logout_path;
const APP_ORIGIN = new URL(config.app_link_origin).origin;

let site;
before(async () => {
  site = await startSite();
});
after(async () => {
  await site?.stop();
});

/**
 * A phone browser whose navigations to the app-link origin are intercepted and recorded.
 * `engine`: 'wasm' (normal) or 'js' (WebAssembly deleted before any page script runs).
 */
async function phone(engine, { device = ANDROID, ...options } = {}) {
  const browser = await launchPhone(device, options);
  const appLinkHits = [];
  const foreign = [];
  const cspViolations = [];
  await browser.context.route(`${APP_ORIGIN}/**`, (route) => {
    appLinkHits.push(route.request().url());
    return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>app</title><p>the app</p>' });
  });
  browser.context.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(site.url) && !url.startsWith(APP_ORIGIN)) foreign.push(url);
  });
  if (engine === 'js') {
    await browser.context.addInitScript(() => {
      delete globalThis.WebAssembly;
    });
  }
  return {
    ...browser,
    appLinkHits,
    foreign,
    cspViolations,
    /** Open `pathAndQuery` on the site and wait until the page has rendered a screen. */
    async open(pathAndQuery) {
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
      await page.goto(site.url + pathAndQuery);
      if (options.javaScriptEnabled !== false) {
        await page.waitForSelector('html[data-screen]', { state: 'attached' });
        assert.equal(await page.getAttribute('html', 'data-engine'), engine, 'the expected implementation rendered the page');
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

    it('an error response gets its own screen, shown as text, and is still forwarded', async () => {
      const hostile = '<script>alert(1)</script><img src=x onerror="alert(2)"><b>bold</b>';
      const page = await b.open(
        `${LOGIN}?error=access_denied&error_description=${encodeURIComponent(hostile)}` +
          '&error_uri=https%3A%2F%2Fas.example.com%2Ferr&state=st&iss=https%3A%2F%2Fas.example.com',
      );
      assert.equal(await screen(page), 'error');
      assert.equal(await page.textContent('#tg-error-code'), 'access_denied');
      assert.equal(await page.textContent('#tg-error-desc'), hostile, 'shown verbatim as text');
      assert.equal(await page.locator('main img, main script, main b').count(), 0, 'no markup was injected');
      assert.equal(await page.textContent('#tg-continue'), 'Back to the app');
      assert.equal(page.url(), site.url + LOGIN);
      if (engine === 'wasm') {
        const shot = artifactPath('redirect-page-error.png');
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`screenshot: ${shot}`);
      }
      await tapContinue(
        page,
        b,
        `${LOGIN_LINK}?state=st&iss=https%3A%2F%2Fas.example.com&error=access_denied` +
          `&error_description=${encodeURIComponent(hostile).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())}` +
          '&error_uri=https%3A%2F%2Fas.example.com%2Ferr',
      );
      assert.deepEqual(page.dialogs, [], 'no script ran');
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

  it('every response carries every security header; types are exact; no redirects', async () => {
    const cases = [
      [LOGIN + '?code=x', 200, 'text/html; charset=utf-8'],
      [LOGOUT, 200, 'text/html; charset=utf-8'],
      ['/assets/boot.js', 200, 'text/javascript; charset=utf-8'],
      ['/assets/fallback.js', 200, 'text/javascript; charset=utf-8'],
      ['/assets/page.css', 200, 'text/css; charset=utf-8'],
      ['/assets/tollgate_redirect_page_bg.wasm', 200, 'application/wasm'],
      ['/.well-known/apple-app-site-association', 200, 'application/json'],
      ['/.well-known/assetlinks.json', 200, 'application/json'],
      ['/nothing-here', 404, 'text/plain; charset=utf-8'],
      [LOGIN + '/', 404, 'text/plain; charset=utf-8'],
      ['/_headers', 404, 'text/plain; charset=utf-8'],
    ];
    for (const [p, status, type] of cases) {
      const res = await fetch(site.url + p, { redirect: 'manual' });
      assert.equal(res.status, status, p);
      assert.equal(res.headers.get('content-type'), type, p);
      checkSecurityHeaders(res, p);
      await res.arrayBuffer();
    }
  });

  it('the .well-known files hold the configured apps in the platform formats', async () => {
    const aasa = await (await fetch(`${site.url}/.well-known/apple-app-site-association`, { redirect: 'manual' })).json();
    assert.deepEqual(aasa.applinks.details[0].appIDs, app.ios_app_ids);
    assert.deepEqual(aasa.applinks.details[0].components.map((c) => c['/']), [app.app_link_login_path, app.app_link_logout_path]);
    const links = await (await fetch(`${site.url}/.well-known/assetlinks.json`, { redirect: 'manual' })).json();
    assert.deepEqual(links, app.android.map((a) => ({
      relation: ['delegate_permission/common.handle_all_urls'],
      target: { namespace: 'android_app', package_name: a.package_name, sha256_cert_fingerprints: a.sha256_cert_fingerprints },
    })));
  });

  it('tollgate-site check accepts the config, the built files and the served site', async () => {
    const r = await runToCompletion(SITE_BIN, ['check', '--config', SITE_CONFIG, '--dir', SITE_DIR, '--url', site.url], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /every security header/);
  });
});
