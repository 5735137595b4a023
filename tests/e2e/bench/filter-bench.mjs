#!/usr/bin/env node
// Filter benchmark (not part of the test suite): in ONE run, on loopback, Envoy with one worker, wrk with one thread
// and 16 connections, the same direct-response API behind
//   1. no auth                              envoy/bench/no-auth.yaml
//   2. native jwt_authn, one token repeated envoy/bench/jwt-authn.yaml (jwt_cache_size 1000)
//   3. tollgate, one token repeated         envoy/bench/tollgate.yaml
//   4. tollgate, 2000 distinct tokens       (wrk Lua script rotating through pre-minted tokens: cache misses)
//   5. native jwt_authn, 2000 distinct tokens (for comparison with 4)
// and prints requests/s, p50, p99 and the ratio against no auth, plus the size of the filter .wasm.
// Figures from shared machines vary run to run: compare only ratios from the same run.
//
//   node tests/e2e/bench/filter-bench.mjs [--duration 10] [--connections 16]
import { existsSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { REPO, requireEnvoy, requireWasm } from '../lib/paths.mjs';
import { render, startEnvoy } from '../lib/envoy.mjs';
import { request } from '../lib/http.mjs';
import { runToCompletion } from '../lib/proc.mjs';
import { mint } from '../fixtures/tokens.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '16' } } });
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const DISTINCT = 2000;
const WRK = process.env.WRK_BIN || '/usr/bin/wrk';

requireEnvoy();
const wasm = requireWasm();
if (!existsSync(WRK)) throw new Error(`wrk not found at ${WRK}: run scripts/setup.sh (Debian package wrk) or set WRK_BIN`);
const work = mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-'));

/** wrk's "1.23ms" / "512.00us" / "1.01s" in milliseconds. */
function ms(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
}

function parseWrk(output) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]);
  const p50 = ms(/^\s+50%\s+(\S+)$/m.exec(output)?.[1] ?? '');
  const p99 = ms(/^\s+99%\s+(\S+)$/m.exec(output)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const socketErrors = /Socket errors:.*/.exec(output)?.[0] ?? '';
  return { rps, p50, p99, non2xx, socketErrors };
}

async function wrk(port, { headers = [], script, env = {}, duration }) {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${duration}s`, '--latency', '--timeout', '5s'];
  for (const h of headers) args.push('-H', h);
  if (script) args.push('-s', script);
  args.push(`http://127.0.0.1:${port}/`);
  const { code, output } = await runToCompletion(WRK, args, { timeoutMs: (duration + 20) * 1000, env: { ...process.env, ...env } });
  if (code !== 0) throw new Error(`wrk failed (${code}):\n${output}`);
  return parseWrk(output);
}

async function runCase({ label, config, token, tokensFile }) {
  const text = render(readFileSync(path.join(REPO, 'envoy', 'bench', config), 'utf8'), { LISTEN_PORT: 0, ADMIN_PORT: 0, WASM_PATH: wasm });
  // warn level: no per-request logging in the measurement.
  const envoy = await startEnvoy(text, { name: `bench-${config.replace('.yaml', '')}`, logLevel: 'warn', componentLogLevel: '' });
  try {
    const port = envoy.listenerPort('bench');
    const probe = await request(port, { path: '/', headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (probe.status !== 200) throw new Error(`${label}: probe answered ${probe.status} ${probe.body}`);
    const opts = tokensFile
      ? { script: path.join(HERE, 'rotate-tokens.lua'), env: { TOKENS_FILE: tokensFile } }
      : { headers: token ? [`Authorization: Bearer ${token}`] : [] };
    await wrk(port, { ...opts, duration: 1 }); // warm-up (JIT, connections, caches)
    return { label, ...(await wrk(port, { ...opts, duration: DURATION })) };
  } catch (err) {
    envoy.markFailed();
    throw err;
  } finally {
    await envoy.stop();
  }
}

try {
  const token = await mint({ iat: -5, exp: 600 });
  const many = [];
  for (let i = 0; i < DISTINCT; i++) many.push(await mint({ iat: -5, exp: 600, sub: `user-${i}` }));
  const tokensFile = path.join(work, 'tokens.txt');
  writeFileSync(tokensFile, `${many.join('\n')}\n`);

  const wasmBytes = statSync(wasm).size;
  process.stdout.write(`tollgate filter: ${path.relative(REPO, wasm)} ${wasmBytes} bytes (${(wasmBytes / 1024).toFixed(1)} KiB)\n`);
  process.stdout.write(`wrk: 1 thread, ${CONNECTIONS} connections, ${DURATION} s per case; Envoy --concurrency 1; ES256 tokens; loopback\n\n`);

  const results = [];
  for (const c of [
    { label: 'no auth', config: 'no-auth.yaml' },
    { label: 'jwt_authn (cache 1000), 1 token', config: 'jwt-authn.yaml', token },
    { label: 'tollgate, 1 token', config: 'tollgate.yaml', token },
    { label: `tollgate, ${DISTINCT} distinct tokens`, config: 'tollgate.yaml', token, tokensFile },
    { label: `jwt_authn (cache 1000), ${DISTINCT} distinct`, config: 'jwt-authn.yaml', token, tokensFile },
  ]) {
    process.stdout.write(`running: ${c.label}...\n`);
    results.push(await runCase(c));
  }

  const base = results[0].rps;
  const rows = [['setup', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'vs no auth']];
  for (const r of results) {
    rows.push([r.label, r.rps.toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), String(r.non2xx), `${((r.rps / base) * 100).toFixed(1)} %`]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
  process.stdout.write(`\n${line(rows[0])}\n|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|\n`);
  for (const row of rows.slice(1)) process.stdout.write(`${line(row)}\n`);
  for (const r of results) if (r.socketErrors) process.stdout.write(`${r.label}: ${r.socketErrors}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
