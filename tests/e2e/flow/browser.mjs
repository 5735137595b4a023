// Debian's Chromium, headless, as a phone's system browser — launched by the page tests' helper
// (tests/e2e/page/site.mjs: the brief's flags, playwright-core with /usr/bin/chromium, a fresh --user-data-dir,
// Android viewport, touch and user agent) — plus the browser leg of the mobile flow.
import { ANDROID, launchPhone } from '../page/site.mjs';

/** Launch the phone browser. Resolves { context, freshPage(), close() }; close() also removes the profile. */
export async function launchMobileBrowser(device = ANDROID) {
  const phone = await launchPhone(device);
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
 * server's own screens (oidc-provider's sign-in and consent, or its "[ Cancel ]" link), land on our intermediate
 * page (origin `pageOrigin`), wait for its Continue (or error) screen, and tap its Continue button, which navigates
 * to the app link. `appEndpoint` is the loopback app-link endpoint (app-endpoint.mjs).
 * Resolves { link (what the app endpoint received), screen, pageUrlAfter, pageText, appPageText }.
 */
export async function signInAndContinue(page, {
  authorizationUrl, pageOrigin, appEndpoint, login = 'alice', password = 'TEST-ONLY-any-password', cancel = false,
}) {
  const linksBefore = appEndpoint.received.length;
  await page.goto(authorizationUrl);
  // the authorization server's sign-in screen
  await page.locator('input[name="login"]').waitFor();
  if (cancel) {
    await page.getByRole('link', { name: '[ Cancel ]' }).tap();
  } else {
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill(password);
    await page.getByRole('button', { name: 'Sign-in' }).tap();
    // its consent screen (a native client is always asked)
    await page.locator('input[name="prompt"][value="consent"]').waitFor({ state: 'attached' });
    await page.getByRole('button', { name: 'Continue' }).tap();
  }
  // our intermediate page
  await page.waitForURL((u) => u.origin === pageOrigin);
  const screen = cancel ? 'error' : 'continue';
  await page.locator(`html[data-screen="${screen}"]`).waitFor({ state: 'attached' });
  const pageUrlAfter = page.url();
  const pageText = await page.locator('body').innerText();
  const continueLink = page.locator('#tg-continue');
  await continueLink.waitFor({ state: 'visible' });
  await continueLink.tap();
  const link = await appEndpoint.waitForLink(linksBefore + 1);
  // the browser shows the app endpoint's answer (on a device the OS opens the app instead)
  await page.waitForURL((u) => u.origin === new URL(appEndpoint.url).origin);
  await page.locator('#title').waitFor();
  const appPageText = await page.locator('body').innerText();
  return { link, screen, pageUrlAfter, pageText, appPageText };
}
