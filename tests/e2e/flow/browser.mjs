// Debian's Chromium, headless, as a phone's system browser — launched by the page tests' helper
// (tests/e2e/page/site.mjs: the brief's flags, playwright-core with /usr/bin/chromium, a fresh --user-data-dir,
// Android viewport, touch and user agent) — plus the browser leg of the mobile flow.
import { ANDROID, launchPhone } from '../page/site.mjs';

/** The demo check's phone: a Pixel-sized Android screen (412 x 915 CSS px at device scale 2.625, touch). */
export const PHONE = { ...ANDROID, name: 'phone', viewport: { width: 412, height: 915 }, deviceScaleFactor: 2.625 };
/** The demo check's desktop: a laptop-sized window, mouse only. */
export const DESKTOP = {
  name: 'desktop',
  viewport: { width: 1280, height: 800 },
  deviceScaleFactor: 1,
  isMobile: false,
  hasTouch: false,
  locale: 'en-US',
};

/** Launch the phone browser (or `device`, e.g. PHONE or DESKTOP; its `name` is ours, not playwright's). Resolves { context, freshPage(), close() }; close() also removes the profile. */
export async function launchMobileBrowser(device = ANDROID) {
  const { name: _name, ...options } = device;
  const phone = await launchPhone(options);
  return {
    ...phone,
    /** A new tab with no cookies from earlier scenarios (each scenario signs in anew). */
    async freshPage() {
      await phone.context.clearCookies();
      const page = await phone.context.newPage();
      for (const p of phone.context.pages()) if (p !== page) await p.close();
      return page;
    },
  };
}

/**
 * The browser leg of the flow, as a user on a phone does it: open `authorizationUrl`, go through the authorization
 * server's screens (sign-in and consent, interaction.mjs; or Cancel on the sign-in screen), land on our intermediate
 * page (origin `pageOrigin`), wait for its Continue (or error) screen, and tap its Continue button, which navigates
 * to the app link. `appEndpoint` is the loopback app-link endpoint (app-endpoint.mjs).
 * `touch` false: mouse clicks instead of taps (a desktop).
 * `onScreen(name, page)` (optional, async) is called on each screen as it is shown: 'login', 'consent' (not when
 * cancelling), 'page' (our page), 'app' (the app endpoint's answer); e.g. to check its layout or take a screenshot.
 * Resolves { link (what the app endpoint received), screen, pageUrlAfter, pageText, appPageText }.
 */
export async function signInAndContinue(page, {
  authorizationUrl, pageOrigin, appEndpoint, login = 'alice', password = 'TEST-ONLY-any-password', cancel = false, onScreen,
  touch = true,
}) {
  const press = (locator) => (touch ? locator.tap() : locator.click());
  const linksBefore = appEndpoint.received.length;
  await page.goto(authorizationUrl);
  // the authorization server's sign-in screen
  await page.locator('input[name="login"]').waitFor();
  if (cancel) {
    await onScreen?.('login', page);
    await press(page.locator('#cancel'));
  } else {
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill(password);
    await onScreen?.('login', page);
    await press(page.locator('#submit'));
    // its consent screen (a native client is always asked)
    await page.locator('html[data-screen="consent"]').waitFor({ state: 'attached' });
    await onScreen?.('consent', page);
    await press(page.locator('#submit'));
  }
  // our intermediate page
  await page.waitForURL((u) => u.origin === pageOrigin);
  const screen = cancel ? 'error' : 'continue';
  await page.locator(`html[data-screen="${screen}"]`).waitFor({ state: 'attached' });
  const pageUrlAfter = page.url();
  const pageText = await page.locator('body').innerText();
  await onScreen?.('page', page);
  const continueLink = page.locator('#tg-continue');
  await continueLink.waitFor({ state: 'visible' });
  await press(continueLink);
  const link = await appEndpoint.waitForLink(linksBefore + 1);
  // the browser shows the app endpoint's answer (on a device the OS opens the app instead)
  await page.waitForURL((u) => u.origin === new URL(appEndpoint.url).origin);
  await page.locator('#title').waitFor();
  const appPageText = await page.locator('body').innerText();
  await onScreen?.('app', page);
  return { link, screen, pageUrlAfter, pageText, appPageText };
}
