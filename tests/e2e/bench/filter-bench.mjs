#!/usr/bin/env node
// Filter benchmark (not part of the test suite): in ONE run, on loopback, Envoy with one worker, wrk with one thread
// and 16 connections, the same direct-response API behind
//   1. no auth                                  envoy/bench/no-auth.yaml
//   2. Wasm floor: tollgate, anonymous route    envoy/bench/tollgate-anonymous.yaml (the filter runs and reads the
//                                               headers, the same token is sent but ignored: no token work; the
//                                               bound for 3)
//   3. tollgate, one token repeated             envoy/bench/tollgate.yaml (every request a verified-token cache hit)
//   4. native jwt_authn, one token repeated     envoy/bench/jwt-authn.yaml (jwt_cache_size 1000)
//   5. tollgate, 2000 distinct tokens           (wrk Lua script rotating through pre-minted tokens: cache misses)
//   6. native jwt_authn, 2000 distinct tokens   (for comparison with 5)
// and prints requests/s, p50, p99, the ratio against no auth and against jwt_authn in the same situation, Envoy's CPU
// time per request (user + system of the whole process from /proc, divided by the requests wrk completed: on a
// machine shared with other work this moves much less than requests/s), plus the size of the filter .wasm.
// Figures from shared machines vary run to run: compare only ratios from the same run.
//
// --wasm-before PATH adds the tollgate cases (2, 3, 5) once more with another build of the filter (e.g. the previous
// commit's, copied aside), each right next to its counterpart, so a change is measured within one run.
//
// --only REGEX runs just the cases whose label matches (no auth always runs: it is the baseline).
// --rounds N runs the whole sequence N times and reports each figure's median: on a shared machine one round can be
// off by 10 % either way, so a before/after claim wants --rounds 3 (with --only to stay within a few minutes).
//
//   node tests/e2e/bench/filter-bench.mjs [--duration 8] [--connections 16] [--wasm-before /tmp/tollgate_before.wasm]
//                                         [--only 'floor|cached'] [--rounds 3]
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
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '16' },
    'wasm-before': { type: 'string' },
    only: { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
});
const DURATION = Number(values.duration);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds must be a positive integer');
const CONNECTIONS = Number(values.connections);
const DISTINCT = 2000;
const WRK = process.env.WRK_BIN || '/usr/bin/wrk';

requireEnvoy();
const wasm = requireWasm();
const wasmBefore = values['wasm-before'] ? path.resolve(values['wasm-before']) : null;
if (wasmBefore && !existsSync(wasmBefore)) throw new Error(`--wasm-before: ${wasmBefore} does not exist`);
if (!existsSync(WRK)) throw new Error(`wrk not found at ${WRK}: run scripts/setup.sh (Debian package wrk) or set WRK_BIN`);
const work = mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-'));

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: the unit of /proc/<pid>/stat times on Linux

/** CPU seconds (user + system, all threads) process `pid` has used so far. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

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
  const requests = Number(/(\d+) requests in/.exec(output)?.[1]);
  return { rps, p50, p99, non2xx, socketErrors, requests };
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

async function runCase({ label, config, token, tokensFile, wasmFile = wasm }) {
  const text = render(readFileSync(path.join(REPO, 'envoy', 'bench', config), 'utf8'), { LISTEN_PORT: 0, ADMIN_PORT: 0, WASM_PATH: wasmFile });
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
    const cpuBefore = cpuSeconds(envoy.proc.child.pid);
    const result = await wrk(port, { ...opts, duration: DURATION });
    const cpuUsPerRequest = ((cpuSeconds(envoy.proc.child.pid) - cpuBefore) * 1e6) / result.requests;
    return { label, ...result, cpuUsPerRequest };
  } catch (err) {
    envoy.markFailed();
    throw err;
  } finally {
    await envoy.stop();
  }
}

const started = Date.now();
try {
  const token = await mint({ iat: -5, exp: 600 });
  const many = [];
  for (let i = 0; i < DISTINCT; i++) many.push(await mint({ iat: -5, exp: 600, sub: `user-${i}` }));
  const tokensFile = path.join(work, 'tokens.txt');
  writeFileSync(tokensFile, `${many.join('\n')}\n`);

  const size = (file) => {
    const bytes = statSync(file).size;
    return `${bytes} bytes (${(bytes / 1024).toFixed(1)} KiB)`;
  };
  process.stdout.write(`tollgate filter: ${path.relative(REPO, wasm)} ${size(wasm)}\n`);
  if (wasmBefore) process.stdout.write(`tollgate filter "before": ${wasmBefore} ${size(wasmBefore)}\n`);
  process.stdout.write(`wrk: 1 thread, ${CONNECTIONS} connections, ${DURATION} s per case; Envoy --concurrency 1; ES256 tokens; loopback\n\n`);

  // `versus`: the jwt_authn case the row is compared with (same token pattern).
  const tollgate = (c) => (wasmBefore ? [{ ...c, label: `${c.label} [before]`, wasmFile: wasmBefore }, c] : [c]);
  const cases = [
    { label: 'no auth', config: 'no-auth.yaml' },
    // The floor carries the same Authorization header as the cached case (the anonymous rule ignores it), so the two
    // differ only in the token work.
    ...tollgate({ label: 'Wasm floor (tollgate, anonymous route)', config: 'tollgate-anonymous.yaml', token }),
    ...tollgate({ label: 'tollgate, 1 token (cached)', config: 'tollgate.yaml', token, versus: 'jwt1' }),
    { id: 'jwt1', label: 'jwt_authn (cache 1000), 1 token', config: 'jwt-authn.yaml', token },
    ...tollgate({ label: `tollgate, ${DISTINCT} distinct tokens`, config: 'tollgate.yaml', token, tokensFile, versus: 'jwtN' }),
    { id: 'jwtN', label: `jwt_authn (cache 1000), ${DISTINCT} distinct`, config: 'jwt-authn.yaml', token, tokensFile },
  ];
  const only = values.only ? new RegExp(values.only) : null;
  const selected = cases.filter((k, i) => i === 0 || !only || only.test(k.label));
  const runs = selected.map(() => []);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [i, c] of selected.entries()) {
      process.stdout.write(`running${ROUNDS > 1 ? ` (round ${round}/${ROUNDS})` : ''}: ${c.label}...\n`);
      runs[i].push(await runCase(c));
    }
  }
  const median = (xs) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const results = selected.map((c, i) => {
    const r = runs[i];
    const m = (key) => median(r.map((x) => x[key]));
    const socketErrors = r.map((x) => x.socketErrors).filter(Boolean).join('; ');
    return { ...c, rps: m('rps'), p50: m('p50'), p99: m('p99'), cpuUsPerRequest: m('cpuUsPerRequest'), non2xx: r.reduce((n, x) => n + x.non2xx, 0), socketErrors };
  });
  if (ROUNDS > 1) process.stdout.write(`\nmedians of ${ROUNDS} rounds (non-2xx: total)\n`);

  const base = results[0].rps;
  const byId = Object.fromEntries(results.filter((r) => r.id).map((r) => [r.id, r]));
  const pct = (a, b) => `${((a / b) * 100).toFixed(1)} %`;
  const rows = [['setup', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'vs no auth', 'vs jwt_authn', 'Envoy CPU µs/req']];
  for (const r of results) {
    const versus = r.versus && byId[r.versus] ? pct(r.rps, byId[r.versus].rps) : '';
    rows.push([r.label, r.rps.toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), String(r.non2xx), pct(r.rps, base), versus, r.cpuUsPerRequest.toFixed(1)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
  process.stdout.write(`\n${line(rows[0])}\n|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|\n`);
  for (const row of rows.slice(1)) process.stdout.write(`${line(row)}\n`);
  for (const r of results) if (r.socketErrors) process.stdout.write(`${r.label}: ${r.socketErrors}\n`);
  process.stdout.write(`\nbench took ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
