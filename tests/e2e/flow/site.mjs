// Our site (the intermediate redirect page) for the flow: a local build of tests/e2e/flow/site.json whose app link
// points at the loopback app endpoint (`tollgate-site build --app-link-origin http://127.0.0.1:PORT`), served by
// `tollgate-site serve` with the production headers: the build's page/ root (the redirect page) on one loopback
// origin and its app-link/ root (the app-not-installed page, what a phone without the app shows at the app link) on
// another. Needs the page's wasm-bindgen package and the tollgate-site binary that redirect-page/build.sh produces.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO } from '../lib/paths.mjs';
import { LOOPBACK, waitFor } from '../lib/net.mjs';
import { runToCompletion, startProcess, stopProcess } from '../lib/proc.mjs';
import { BUILD_COMMAND, SITE_BIN } from '../page/site.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The flow's deployment config: one app, page /app/callback -> app link /app/oauth. */
export const SITE_CONFIG = path.join(HERE, 'site.json');
const BUILD_HINT = `build the page and the site tool with: ${BUILD_COMMAND}`;

/** The page's wasm-bindgen output: $TOLLGATE_PAGE_PKG, else $REPO/target/redirect-page-pkg (where
 *  redirect-page/build.sh always writes it). */
export function pagePkg() {
  return process.env.TOLLGATE_PAGE_PKG || path.join(REPO, 'target', 'redirect-page-pkg');
}

/** Start `tollgate-site serve --dir root` on `port` (0 = free); resolves { proc, url }. */
async function serve(bin, root, port, logFile) {
  const proc = startProcess(bin, ['serve', '--dir', root, '--addr', `${LOOPBACK}:${port}`], { logFile });
  try {
    const url = await waitFor('tollgate-site serve', () => /serving .* at (http:\/\/\S+?)\/?\s*$/m.exec(proc.log())?.[1], {
      timeoutMs: 10_000,
      abort: async () => (proc.running ? undefined : `tollgate-site serve exited:\n${proc.log()}`),
    });
    return { proc, url };
  } catch (err) {
    await stopProcess(proc);
    throw err;
  }
}

/**
 * Build the site for `appLink` (the app endpoint's URL; its path must be the config's app_link_login_path) and
 * serve its page root on `port` (0 = free) and its app-link root on a free port. `logFiles` { page, appLink }: where
 * the two servers log (kept after stop; default: beside the build, removed at stop).
 * Resolves { url, port, pageUrl, notInstalledUrl, dir, stop() }.
 */
export async function startSite({ port = 0, pagePath, appLink, logFiles }) {
  const bin = SITE_BIN;
  const pkg = pagePkg();
  if (!existsSync(bin)) throw new Error(`tollgate-site not found at ${bin}: ${BUILD_HINT}`);
  if (!existsSync(path.join(pkg, 'tollgate_redirect_page_bg.wasm'))) throw new Error(`the page's wasm package is missing in ${pkg}: ${BUILD_HINT}`);
  const config = JSON.parse(readFileSync(SITE_CONFIG, 'utf8'));
  const app = config.apps[0];
  const link = new URL(appLink);
  if (app.login_path !== pagePath || app.app_link_login_path !== link.pathname) {
    throw new Error(`${SITE_CONFIG}: expected login_path ${pagePath} and app_link_login_path ${link.pathname}`);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-flow-site-'));
  const out = path.join(dir, 'www');
  let proc;
  let notInstalled;
  try {
    const build = await runToCompletion(bin, [
      'build', '--config', SITE_CONFIG, '--pkg', pkg, '--out', out, '--app-link-origin', link.origin,
    ], { timeoutMs: 30_000 });
    if (build.code !== 0) throw new Error(`tollgate-site build failed (${build.code}):\n${build.output}`);
    let url;
    ({ proc, url } = await serve(bin, path.join(out, 'page'), port, logFiles?.page ?? path.join(dir, 'serve.log')));
    notInstalled = await serve(bin, path.join(out, 'app-link'), 0, logFiles?.appLink ?? path.join(dir, 'serve-app-link.log'));
    const actualPort = Number(new URL(url).port);
    return {
      url,
      port: actualPort,
      pageUrl: `http://${LOOPBACK}:${actualPort}${pagePath}`,
      /** The app-not-installed page: the app link's path on the app-link root's own loopback origin. */
      notInstalledUrl: `${notInstalled.url}${link.pathname}`,
      dir: out,
      log: () => proc.log(),
      async stop() {
        await stopProcess(proc);
        await stopProcess(notInstalled.proc);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (proc) await stopProcess(proc);
    if (notInstalled) await stopProcess(notInstalled.proc);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
