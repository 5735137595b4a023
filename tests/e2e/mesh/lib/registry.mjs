// A real OCI registry on loopback (Debian's docker-registry package: the CNCF distribution server) and the real
// client (Debian's skopeo). The registry gets a temp storage directory, a generated config and a free port, and
// is always stopped.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor, LOOPBACK } from '../../lib/net.mjs';
import { runToCompletion, startProcess, stopProcess } from '../../lib/proc.mjs';

export const REGISTRY_BIN = process.env.DOCKER_REGISTRY_BIN || '/usr/bin/docker-registry';
export const SKOPEO_BIN = process.env.SKOPEO_BIN || '/usr/bin/skopeo';

function requireBin(bin, pkg) {
  if (!existsSync(bin)) throw new Error(`${bin} not found: run scripts/setup.sh (it installs Debian's ${pkg})`);
  return bin;
}

/** Start the registry. Resolves { host: '127.0.0.1:PORT', port, dir, log(), stop() }. */
export async function startRegistry({ name = 'registry' } = {}) {
  const bin = requireBin(REGISTRY_BIN, 'docker-registry');
  const dir = mkdtempSync(path.join(os.tmpdir(), `tollgate-${name}-`));
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  writeFileSync(config, [
    'version: 0.1',
    'log:',
    '  level: info',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'storage')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${LOOPBACK}:${port}`,
    '',
  ].join('\n'));
  const proc = startProcess(bin, ['serve', config], { logFile: path.join(dir, 'registry.log') });
  const handle = {
    host: `${LOOPBACK}:${port}`,
    port,
    dir,
    log: () => proc.log(),
    async stop() {
      await stopProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor('docker-registry /v2/', async () => {
      const res = await fetch(`http://${handle.host}/v2/`).catch(() => undefined);
      return res?.status === 200;
    }, { timeoutMs: 15_000, abort: async () => (proc.running ? undefined : `docker-registry exited:\n${proc.log()}`) });
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}

/** Run skopeo with `args`; resolves its output, throws with the output when it fails. */
export async function skopeo(args, { expectFailure = false } = {}) {
  const bin = requireBin(SKOPEO_BIN, 'skopeo');
  const { code, output } = await runToCompletion(bin, args, { timeoutMs: 60_000 });
  if (expectFailure) {
    if (code === 0) throw new Error(`skopeo ${args.join(' ')} succeeded, a failure was expected:\n${output}`);
    return output;
  }
  if (code !== 0) throw new Error(`skopeo ${args.join(' ')} exited ${code}:\n${output}`);
  return output;
}
