// Debian's Chromium, headless, through playwright-core (never a downloaded browser), as a phone's system browser:
// mobile viewport, touch, mobile user agent, a fresh --user-data-dir that is removed afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';

export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

/** The project's Chromium flags (the brief); playwright adds --headless and passes --user-data-dir itself. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** A mid-range Android phone. */
export const MOBILE = {
  viewport: { width: 393, height: 851 },
  deviceScaleFactor: 2.75,
  isMobile: true,
  hasTouch: true,
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
  locale: 'en-US',
};

/**
 * Launch the mobile browser. Resolves { context, newPage(), close() }; close() always removes the profile.
 */
export async function launchMobileBrowser({ timeoutMs = 20_000 } = {}) {
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-flow-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      timeout: timeoutMs,
      ...MOBILE,
    });
  } catch (err) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  }
  context.setDefaultTimeout(10_000);
  return {
    context,
    /** A new tab with no cookies from earlier scenarios (each scenario signs in anew). */
    async freshPage() {
      await context.clearCookies();
      const page = await context.newPage();
      for (const p of context.pages()) if (p !== page) await p.close();
      return page;
    },
    async close() {
      try {
        await context.close();
      } finally {
        rmSync(userDataDir, { recursive: true, force: true });
      }
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
