// The built redirect-page site, served by `tollgate-site serve`, and Debian's Chromium as a phone browser.
// Nothing is built here: the site must already be built (fail fast with the command).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../lib/paths.mjs';
import { LOOPBACK, waitFor } from '../lib/net.mjs';
import { startProcess, stopProcess } from '../lib/proc.mjs';

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';

export const BUILD_COMMAND = 'redirect-page/build.sh   (writes target/www and target/debug/tollgate-site)';
const TARGET = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target');

/** Built site: $TOLLGATE_SITE_DIR, else target/www. It holds two document roots: */
export const SITE_DIR = process.env.TOLLGATE_SITE_DIR || path.join(TARGET, 'www');
/** the page origin's (redirect pages and their assets) */
export const PAGE_ROOT = path.join(SITE_DIR, 'page');
/** and the app-link origin's (.well-known files, app-not-installed pages). */
export const APP_LINK_ROOT = path.join(SITE_DIR, 'app-link');
/** tollgate-site binary: $TOLLGATE_SITE_BIN, else the debug build. */
export const SITE_BIN = process.env.TOLLGATE_SITE_BIN || path.join(TARGET, 'debug', 'tollgate-site');
/** The deployment config the site was built from (www/site.json unless $SITE_CONFIG). */
export const SITE_CONFIG = process.env.SITE_CONFIG || path.join(REPO, 'www', 'site.json');
/** Screenshots and other test artifacts (gitignored). */
export const ARTIFACTS = path.join(REPO, 'tests', 'e2e', 'artifacts');

export function requireBuiltSite() {
  for (const f of [SITE_BIN, path.join(APP_LINK_ROOT, '.well-known', 'apple-app-site-association'),
    path.join(PAGE_ROOT, 'assets', 'tollgate_redirect_page_bg.wasm')]) {
    if (!existsSync(f)) throw new Error(`redirect page site not built: ${f} is missing. Build it with: ${BUILD_COMMAND}`);
  }
  return JSON.parse(readFileSync(SITE_CONFIG, 'utf8'));
}

/** Start `tollgate-site serve` for the document root `root` on a free loopback port. Resolves { url, stop() }. */
export async function startSite(root = PAGE_ROOT) {
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-page-serve-'));
  const proc = startProcess(SITE_BIN, ['serve', '--dir', root, '--addr', `${LOOPBACK}:0`], {
    logFile: path.join(logDir, 'serve.log'),
  });
  try {
    const url = await waitFor('tollgate-site serve', () => /serving .* at (http:\/\/\S+?)\/?\s*$/m.exec(proc.log())?.[1], {
      timeoutMs: 10_000,
      abort: async () => (proc.running ? undefined : `tollgate-site serve exited:\n${proc.log()}`),
    });
    return {
      url,
      async stop() {
        await stopProcess(proc);
        rmSync(logDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopProcess(proc);
    rmSync(logDir, { recursive: true, force: true });
    throw err;
  }
}

/** The brief's Chromium flags; playwright adds --headless and passes the fresh --user-data-dir. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
];

export const ANDROID = {
  viewport: { width: 393, height: 851 },
  deviceScaleFactor: 2.75,
  isMobile: true,
  hasTouch: true,
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
  locale: 'en-US',
};

export const IPHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1',
  locale: 'en-US',
};

/**
 * Launch headless Debian Chromium with a fresh profile as a phone. Resolves { context, close() }.
 * `options` go to the context (locale, javaScriptEnabled, ...).
 */
export async function launchPhone(device = ANDROID, options = {}) {
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-page-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_FLAGS,
      timeout: 20_000,
      ...device,
      ...options,
    });
  } catch (err) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  }
  context.setDefaultTimeout(10_000);
  return {
    context,
    async close() {
      try {
        await context.close();
      } finally {
        rmSync(userDataDir, { recursive: true, force: true });
      }
    },
  };
}

export function artifactPath(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}
