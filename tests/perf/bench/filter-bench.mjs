#!/usr/bin/env node
// Filter benchmark (`make bench`; figures, never pass/fail on timing). In ONE run, on loopback, the real Envoy with one
// worker behind wrk (one thread, 16 connections), the same direct-response route, these setups (envoy/bench/*.yaml):
//
//   no-auth               no auth filter                                              no-auth.yaml
//   floor                 the floor filter: the host calls of tollgate's cached       floor.yaml (tests/perf/bench/floor)
//                         allow path and nothing else
//   tollgate-anonymous    tollgate on an anonymous route (runs, no token work)        tollgate-anonymous.yaml
//   jwt_authn-no-cache    native jwt_authn, no verified-token cache                   jwt-authn-no-cache.yaml
//   jwt_authn-cache-1000  native jwt_authn, jwt_cache_size 1000                       jwt-authn.yaml
//   jwt_authn-same-work   jwt_authn doing tollgate's work: 3 claims to headers,       jwt-authn-same-work.yaml
//                         token forwarded, cache 1000
//   tollgate              tollgate, cache_size left at the filter's default            tollgate.yaml
//   tollgate-cache-1000   tollgate with cache_size 1000 (equal to jwt_authn's)          tollgate-cache-1000.yaml
//   tollgate-dpop         tollgate.yaml's route and claim headers, a provider with      tollgate-dpop.yaml
//   tollgate-dpop-nonce   tollgate-dpop.yaml with DPoP server nonces ("dpop_nonce",     tollgate-dpop.yaml
//                         TEST-ONLY secret, lifetime 3600 s): every proof carries the nonce the setup's first 401 gave
//                         "binding": "dpop" (RFC 9449), dpop_replay_cache_size 1 048 576
//   tollgate-introspection  tollgate.yaml's route and claim headers, opaque tokens     tollgate-introspection.yaml
//                         by introspection (cache_seconds 300) at a local stand-in endpoint
//   tollgate-introspection-no-cache  the same, cache_seconds 0: an introspection     tollgate-introspection-no-cache.yaml
//                         call on every request (the cost of a cache miss)
//
// under three token mixes: `one` (one token repeated), `5000` (5 000 distinct tokens in rotation) and `new` (every
// token new: a pool of pre-minted unique tokens, each sent once; if a case outlasts the pool, the reuse is printed).
// Token-checking setups run every mix; no-auth runs every mix too (the baseline of each); the floor and the anonymous
// route run the one-token mix; tollgate-cache-1000 the 5 000-token mix.
//
// The DPoP setup runs two DPoP mixes instead (no-auth runs them too, with the same headers): `dpop` and `dpop-eddsa`. One access token bound to a TEST-ONLY proof key (cnf.jkt; proofs.mjs) is sent
// as "Authorization: DPoP <token>", a verified-token cache hit after the first request, with a new proof on every
// request ("DPoP: <proof>", ES256 or EdDSA; ES256 is verified through Envoy's verify_signature, EdDSA in Wasm). The
// proofs are made for the case's Envoy right before the case: each its own jti, htu the bench URL, htm GET, ath of
// the token, iat seconds before it is sent (max_age_seconds is the default 300). Each is sent once, the warm-up's
// first and the measurement's after them. Before the case the harness checks that a proof is accepted once and
// refused the second time; a proof sent twice during the case is refused too (non-2xx) and counted by the wrk script
// (tokens.lua): either marks the figure invalid and makes the run exit 1. The replay store: the filter remembers
// every accepted proof until it is stale (max_age + skew, 306 s, longer than any case) in 1 024 buckets chosen by a
// keyed hash; a bucket full of unexpired proofs refuses the new one with 503 (dpop_replay_store_full,
// filter/core/src/replay.rs), never forgets an old one. A case sends more proofs than the default 65 536 hold on a
// quiet machine, so tollgate-dpop.yaml holds 1 048 576 (the normal case: no bucket fills); a proof refused as
// "store full" is counted (from the filter's metrics) and marks the figure invalid.
//
// For every case: requests/s, p50 and p99 (wrk --latency), Envoy's CPU time per request (user + system of the whole
// process from /proc/<pid>/stat during the measurement ÷ requests completed) and the verified-token cache hit share;
// each figure the median of --rounds rounds. Then the ratios (tollgate vs no auth and vs the matching jwt_authn setup;
// tollgate − floor in µs per request; each DPoP case's CPU per request above tollgate/one's, the cost of the DPoP
// check), for the DPoP cases a table of their proofs (made, reused, refused as replayed, signatures by Envoy / in
// Wasm, the replay store's size and the proofs it refused as full; the oldest proof's age), the .wasm sizes, and Envoy's RSS at start and after --memory-requests requests
// on tollgate with one token and with 5 000 tokens (plus the filter's memory gauge, when the filter has one).
// Writes target/bench/filter-bench.md, .svg and .json (or --out DIR) and prints the Markdown.
//
//   node tests/perf/bench/filter-bench.mjs [--rounds 3] [--duration 8] [--alg ES256|RS256|PS256|EdDSA] [--only REGEX]
//        [--quick] [--connections 16] [--warmup 1] [--memory-requests 100000] [--new-tokens N] [--dpop-proofs N]
//        [--wasm-before OLD.wasm] [--out DIR]
//
// --only REGEX selects cases by `<setup>/<mix>` (e.g. 'floor|tollgate/one', '/new$'); no-auth of each selected mix
// always runs. --quick: 1 round of 3 s and 10 000 requests for the memory figures (a smoke test of the harness); an
// explicit --rounds / --duration / --memory-requests still wins. --warmup: seconds of the same traffic before each
// measurement (0: none). --new-tokens N: size of the every-token-new pool (default: 1.5 × the fastest
// signature-bound request rate measured so far × --duration, at least 50 000). --dpop-proofs N: size of each DPoP
// case's proof pool (default: 1.5 × (--warmup + --duration) × the fastest rate measured so far for the mix, or before
// any was, 20 000 req/s for ES256 and 5 000 for EdDSA proofs; at least 20 000). --wasm-before adds every tollgate
// setup once more with another build (e.g. the previous commit's), right before its counterpart.
// --alg PS256 adds one key entry to the configs' JWKS (the fixture RSA key as PS256; tokens.mjs).
// Figures from a shared machine vary run to run: compare ratios from the same run; the report says when the load
// average at start marked the machine as loaded.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli } from '../../../scripts/cli.mjs';
import { REPO, envoyBin, requireEnvoy, requireWasm } from '../../e2e/lib/paths.mjs';
import { render, withEnvoy } from '../../e2e/lib/envoy.mjs';
import { request } from '../../e2e/lib/http.mjs';
import { runToCompletion } from '../../e2e/lib/proc.mjs';
import { buildFloor } from './floor.mjs';
import { ALGORITHMS, TOKEN_LIFETIME_SECONDS, ps256Jwk, writeTokens } from './tokens.mjs';
import { boundToken, proofKey, proofMinter, writeProofs } from './proofs.mjs';
import { FILTER_MEMORY_GAUGE, summarize, markdown, rows } from './report.mjs';
import { sumFamily } from '../../e2e/lib/metrics.mjs';
import { chart } from './svg.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LUA = path.join(HERE, 'tokens.lua');

/** Distinct tokens of the rotation mix. */
const ROTATION = 5000;
/** Requests per second assumed for sizing the every-token-new pool before any signature-bound case was measured. */
const NEW_POOL_RPS_GUESS = 30_000;
/** The pool holds this many times the expected requests of one case, and at least NEW_POOL_MIN tokens (so that a
 *  reused token, should a case outlast the pool, is long gone from any cache of the usual sizes). */
const NEW_POOL_MARGIN = 1.5;
const NEW_POOL_MIN = 50_000;
/** Requests per second assumed for sizing a DPoP proof pool before a case of its mix was measured (generous: above
 *  what the filter's cached path plus one proof check reaches, ES256 proofs through Envoy's verify_signature, EdDSA
 *  proofs in Wasm); later rounds size the pool from the fastest rate measured for the mix, NEW_POOL_MARGIN times. */
const DPOP_RPS_GUESS = { ES256: 20_000, EdDSA: 5_000 };
/** Smallest DPoP proof pool; also the pool of the no-auth baseline, which reads no proof (its wraps do not matter). */
const DPOP_POOL_MIN = 20_000;
/** USER_HZ: the unit of /proc/<pid>/stat times on Linux. */
const CLOCK_TICKS_PER_SECOND = 100;
/** Load average (1 min) per CPU at start above which the report calls the machine loaded. */
const LOADED_PER_CPU = 0.3;

const MIXES = {
  one: { id: 'one', label: 'one token repeated' },
  5000: { id: '5000', label: '5 000 distinct tokens in rotation' },
  new: { id: 'new', label: 'every token new' },
  // One DPoP-bound token (a verified-token cache hit after the first request) and a new proof on every request.
  dpop: { id: 'dpop', label: 'DPoP: one bound token, every ES256 proof new', proofAlg: 'ES256' },
  'dpop-eddsa': { id: 'dpop-eddsa', label: 'DPoP: one bound token, every EdDSA proof new', proofAlg: 'EdDSA' },
  // One opaque token, checked by introspection at the local stand-in (see startIntrospectionStandIn).
  opaque: { id: 'opaque', label: 'one opaque token repeated (introspection)' },
};
const TOKEN_MIXES = ['one', '5000', 'new'];
const DPOP_MIXES = ['dpop', 'dpop-eddsa'];
const ALL_MIXES = [...TOKEN_MIXES, ...DPOP_MIXES, 'opaque'];

// `cache`: the verified-token cache size, when it is known (null: the filter's default); it says which cases verify
// a signature on every request, whose request rates size the every-token-new pool. `dpop`: the setup takes DPoP-bound
// tokens only (its config's provider has "binding": "dpop"); `replayStore`: its dpop_replay_cache_size replaced.
const SETUPS = [
  { id: 'no-auth', label: 'no auth', short: 'no auth', config: 'no-auth.yaml', family: 'none', mixes: ALL_MIXES },
  { id: 'floor', label: 'floor filter (host calls only)', short: 'floor', config: 'floor.yaml', family: 'floor', mixes: ['one'] },
  {
    id: 'tollgate-anonymous', label: 'tollgate, anonymous route', short: 'anonymous', config: 'tollgate-anonymous.yaml',
    family: 'tollgate', wasm: true, mixes: ['one'],
  },
  {
    id: 'jwt_authn-no-cache', label: 'jwt_authn, no cache', short: 'no cache', config: 'jwt-authn-no-cache.yaml',
    family: 'jwt', checksTokens: true, cache: 0, mixes: TOKEN_MIXES,
  },
  {
    id: 'jwt_authn-cache-1000', label: 'jwt_authn, cache 1000', short: 'cache 1000', config: 'jwt-authn.yaml',
    family: 'jwt', checksTokens: true, cache: 1000, mixes: TOKEN_MIXES,
  },
  {
    id: 'jwt_authn-same-work', label: 'jwt_authn, cache 1000, same work', short: 'same work', config: 'jwt-authn-same-work.yaml',
    family: 'jwt', checksTokens: true, cache: 1000, mixes: TOKEN_MIXES,
  },
  {
    id: 'tollgate', label: 'tollgate (default cache)', short: 'tollgate', config: 'tollgate.yaml',
    family: 'tollgate', wasm: true, checksTokens: true, cache: null, mixes: TOKEN_MIXES,
    versus: { one: 'jwt_authn-same-work', 5000: 'jwt_authn-cache-1000', new: 'jwt_authn-no-cache' },
  },
  {
    id: 'tollgate-cache-1000', label: 'tollgate, cache 1000', short: 'cache 1000', config: 'tollgate-cache-1000.yaml',
    family: 'tollgate', wasm: true, checksTokens: true, cache: 1000, mixes: ['5000'],
    versus: { 5000: 'jwt_authn-cache-1000' },
  },
  {
    id: 'tollgate-dpop', label: 'tollgate, DPoP-bound token', short: 'DPoP', config: 'tollgate-dpop.yaml',
    family: 'tollgate', wasm: true, checksTokens: true, dpop: true, cache: null, mixes: DPOP_MIXES,
  },
  {
    id: 'tollgate-dpop-nonce', label: 'tollgate, DPoP-bound token, server nonces', short: 'DPoP+nonce', config: 'tollgate-dpop.yaml',
    family: 'tollgate', wasm: true, checksTokens: true, dpop: true, nonce: true, cache: null, mixes: DPOP_MIXES,
  },
  // Opaque tokens (README "Opaque tokens"): the verdict cached after the first request, and with cache_seconds 0 an
  // introspection call to the local stand-in on every request (the cost of a cache miss).
  {
    id: 'tollgate-introspection', label: 'tollgate, opaque token, introspection cached', short: 'introspection',
    config: 'tollgate-introspection.yaml', family: 'tollgate', wasm: true, checksTokens: true, opaque: true, cache: null,
    mixes: ['opaque'],
  },
  {
    id: 'tollgate-introspection-no-cache', label: 'tollgate, opaque token, introspection on every request',
    short: 'introspection, no cache', config: 'tollgate-introspection-no-cache.yaml', family: 'tollgate', wasm: true,
    checksTokens: true, opaque: true, cache: 0, mixes: ['opaque'],
  },
];

/** The nonce settings of the tollgate-dpop-nonce setup: a TEST-ONLY secret; a lifetime longer than any case, so the
 *  nonce of the setup's first 401 stays current (and is not refreshed) while the case runs. */
const NONCE_SETTINGS = '"dpop_nonce": {"secret": "VEVTVC1PTkxZLWJlbmNoLWRwb3Atbm9uY2Utc2VjcmV0", "lifetime_seconds": 3600}, ';

/** Does this case verify a token signature on (nearly) every request? (A DPoP mix's token is a cache hit.) */
const signatureBound = (setup, mixId) => setup.checksTokens && !MIXES[mixId].proofAlg
  && (mixId === 'new' || setup.cache === 0 || (mixId === '5000' && setup.cache !== null && setup.cache < ROTATION));

function fail(message) {
  process.stderr.write(`filter-bench.mjs: ${message}\n`);
  process.exit(2);
}

function positiveInteger(name, text, { zero = false } = {}) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < (zero ? 0 : 1)) {
    fail(`--${name} must be a ${zero ? 'non-negative' : 'positive'} integer (got ${text})`);
  }
  return n;
}

const USAGE = `usage: node tests/perf/bench/filter-bench.mjs [options]   (or: make bench BENCH_ARGS="…")
The filter against Envoy without auth, native jwt_authn and the floor filter, in one run (see the top of this file).
  --rounds N            rounds per case, the median is reported (default 3; --quick: 1)
  --duration S          seconds per round (default 8; --quick: 3)
  --connections N       wrk connections (default 16)
  --warmup S            seconds of the same traffic before each measurement (default 1; 0: none)
  --alg ALG             ES256 (default), RS256, PS256 or EdDSA tokens
  --only REGEX          only the cases whose <setup>/<mix> matches (no-auth of each selected mix always runs)
  --quick               a short smoke run of the harness
  --memory-requests N   requests before the memory figures (default 100000; --quick: 10000)
  --new-tokens N        size of the every-token-new pool
  --dpop-proofs N       size of each DPoP case's proof pool
  --wasm-before FILE    another tollgate build next to each tollgate case
  --out DIR             where the .md, .svg and .json go (default target/bench)
  --help, --version`;

const parsed = parseCli({
  name: 'filter-bench.mjs',
  usage: USAGE,
  options: {
    rounds: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '1' },
    alg: { type: 'string', default: 'ES256' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'memory-requests': { type: 'string' },
    'new-tokens': { type: 'string' },
    'dpop-proofs': { type: 'string' },
    'wasm-before': { type: 'string' },
    out: { type: 'string' },
  },
});
const values = parsed.values;
const QUICK = values.quick;
const ROUNDS = positiveInteger('rounds', values.rounds ?? (QUICK ? '1' : '3'));
const DURATION = positiveInteger('duration', values.duration ?? (QUICK ? '3' : '8'));
const CONNECTIONS = positiveInteger('connections', values.connections);
const WARMUP = positiveInteger('warmup', values.warmup, { zero: true });
const MEMORY_REQUESTS = positiveInteger('memory-requests', values['memory-requests'] ?? (QUICK ? '10000' : '100000'), {
  zero: true,
});
const NEW_TOKENS = values['new-tokens'] === undefined ? null : positiveInteger('new-tokens', values['new-tokens']);
const DPOP_PROOFS = values['dpop-proofs'] === undefined ? null : positiveInteger('dpop-proofs', values['dpop-proofs']);
const ALG = values.alg;
if (!(ALG in ALGORITHMS)) fail(`--alg must be one of ${Object.keys(ALGORITHMS).join(', ')} (got ${ALG})`);
let ONLY = null;
if (values.only !== undefined) {
  try {
    ONLY = new RegExp(values.only);
  } catch (err) {
    fail(`--only ${values.only}: not a regular expression (${err.message})`);
  }
}
const OUT = path.resolve(values.out ?? path.join(REPO, 'target', 'bench'));
const WASM_BEFORE = values['wasm-before'] ? path.resolve(values['wasm-before']) : null;
if (WASM_BEFORE && !existsSync(WASM_BEFORE)) fail(`--wasm-before: ${WASM_BEFORE} does not exist`);
const WRK = process.env.WRK_BIN || '/usr/bin/wrk';
if (!existsSync(WRK)) fail(`wrk not found at ${WRK}: run scripts/setup.sh (Debian package wrk) or set WRK_BIN`);

// With --wasm-before, every tollgate setup gets a "[before]" twin right before it.
const setups = SETUPS.flatMap((s) => (WASM_BEFORE && s.wasm
  ? [{ ...s, id: `${s.id}@before`, label: `${s.label} [before]`, short: `${s.short} [before]`, wasmFile: WASM_BEFORE }, s]
  : [s]));

/** Cases of one round, in run order: mix by mix (so each mix's cases run close together), setups in table order. */
function plan() {
  const cases = [];
  const known = [];
  for (const mixId of ALL_MIXES) {
    const selected = setups.filter((s) => s.mixes.includes(mixId) && s.id !== 'no-auth'
      && (!ONLY || ONLY.test(`${s.id}/${mixId}`)));
    for (const s of setups) if (s.mixes.includes(mixId)) known.push(`${s.id}/${mixId}`);
    if (selected.length === 0) continue;
    const base = setups.find((s) => s.id === 'no-auth');
    for (const s of [base, ...selected]) cases.push({ setup: s, mix: MIXES[mixId] });
  }
  if (cases.length === 0) fail(`--only ${values.only} matches no case; the cases are:\n  ${known.join('\n  ')}`);
  return cases;
}

const now = () => Math.floor(Date.now() / 1000);
const log = (line) => process.stdout.write(`${line}\n`);

/** CPU seconds (user + system, all threads) process `pid` has used so far. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size of `pid` in bytes (VmRSS of /proc/<pid>/status). */
function rssBytes(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** wrk's "1.23ms" / "512.00us" / "1.01s" / "2.00m" in milliseconds. */
function ms(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2]];
}

/** The figures of a wrk run with --latency (and our Lua script's done() line, when it ran). */
function parseWrk(output) {
  const requests = Number(/(\d+) requests in/.exec(output)?.[1]);
  const tokens = /bench-tokens: mode=(\w+) issued=(\d+) restarts=(\d+)/.exec(output);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]),
    p50: ms(/^\s+50%\s+(\S+)$/m.exec(output)?.[1] ?? ''),
    p99: ms(/^\s+99%\s+(\S+)$/m.exec(output)?.[1] ?? ''),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0),
    socketErrors: /Socket errors:.*/.exec(output)?.[0] ?? '',
    requests,
    issued: tokens ? Number(tokens[2]) : null,
  };
}

/**
 * Run wrk against `port` for `duration` seconds with `source` ({ header } or { file, mode, start, dpopTokenFile }:
 * see tokens.lua); `stopWhen` (async, polled every 100 ms) ends it early with SIGINT, after which wrk prints its
 * figures as usual.
 */
function wrk(port, source, duration, { stopWhen } = {}) {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${duration}s`, '--latency', '--timeout', '5s'];
  const env = { ...process.env };
  if (source.header) args.push('-H', `Authorization: Bearer ${source.header}`);
  else {
    args.push('-s', LUA);
    env.TOKENS_FILE = source.file;
    env.TOKENS_MODE = source.mode;
    env.TOKENS_START = String(source.start ?? 0);
    if (source.dpopTokenFile) env.DPOP_TOKEN_FILE = source.dpopTokenFile;
  }
  args.push(`http://127.0.0.1:${port}/`);
  return new Promise((resolve, reject) => {
    const child = spawn(WRK, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    let polling = true;
    const poll = async () => {
      while (polling && stopWhen) {
        await new Promise((r) => setTimeout(r, 100));
        if (polling && (await stopWhen().catch(() => false))) {
          child.kill('SIGINT');
          return;
        }
      }
    };
    poll();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`wrk ${args.join(' ')} did not finish within ${duration + 30} s\n${output}`));
    }, (duration + 30) * 1000);
    child.once('error', (err) => {
      polling = false;
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      polling = false;
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`wrk failed (exit ${code}):\n${output}`));
      // wrk prints an error of the Lua script and runs on without it: the script's done() line is the proof it ran.
      else if (!source.header && !/^bench-tokens: /m.test(output)) reject(new Error(`wrk ran without its script ${LUA}:\n${output}`));
      else resolve(parseWrk(output));
    });
  });
}

// ---- tokens ----------------------------------------------------------------------------------------------------

const work = mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-'));

/** The token sources, minted on demand and again before they would expire during a case. */
const tokens = {
  one: null,
  rotation: null,
  pool: null,
  /** By proof algorithm: { key, token, exp, file } (the proof key and the access token bound to it). */
  dpop: {},
  /** By DPoP mix: the no-auth baseline's proofs (never checked, so made once). */
  dpopFiller: {},
  /** Seconds a case needs its tokens to stay valid (start, warm-up, measurement, slack). */
  caseSeconds: () => WARMUP + DURATION + 60,
  fresh(entry, seconds = tokens.caseSeconds()) {
    // tollgate allows 30 s of clock skew, jwt_authn 60 s; neither is counted on here.
    return entry && entry.exp - now() > seconds;
  },
  async oneToken(seconds) {
    if (!tokens.fresh(tokens.one, seconds)) {
      const file = path.join(work, 'one.txt');
      const { exp } = await writeTokens(file, 1, ALG, { prefix: 'user-one' });
      tokens.one = { token: readFileSync(file, 'utf8').trim(), exp };
    }
    return tokens.one.token;
  },
  async rotationFile(seconds) {
    if (!tokens.fresh(tokens.rotation, seconds)) {
      const file = path.join(work, 'rotation.txt');
      const started = Date.now();
      const { exp } = await writeTokens(file, ROTATION, ALG, { prefix: 'user-rot' });
      tokens.rotation = { file, exp };
      log(`  minted ${ROTATION} ${ALG} tokens for the rotation in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    return tokens.rotation.file;
  },
  async poolFile(count, seconds) {
    if (!tokens.fresh(tokens.pool, seconds) || tokens.pool.count < count) {
      const file = path.join(work, 'pool.txt');
      const started = Date.now();
      const { exp } = await writeTokens(file, count, ALG, {
        prefix: 'user-new',
        onProgress: (n) => n % 50_000 === 0 && log(`  … ${n} of ${count}`),
      });
      tokens.pool = { file, exp, count };
      log(`  minted ${count} unique ${ALG} tokens for the every-token-new mix in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    return tokens.pool;
  },
  /** The TEST-ONLY proof key of `proofAlg` and a token bound to it (cnf.jkt), in a file for the wrk script. */
  dpopToken(proofAlg, seconds) {
    if (!tokens.fresh(tokens.dpop[proofAlg], seconds)) {
      const key = proofKey(proofAlg);
      const { token, exp } = boundToken(ALG, key);
      const file = path.join(work, `dpop-token-${proofAlg}.txt`);
      writeFileSync(file, `${token}\n`);
      tokens.dpop[proofAlg] = { key, token, exp, file };
    }
    return tokens.dpop[proofAlg];
  },
};

// ---- one case --------------------------------------------------------------------------------------------------

const tollgateWasm = requireWasm();
requireEnvoy();

const REPLAY_STORE_FIELD = /"dpop_replay_cache_size": (\d+)/g;

// ---- the introspection stand-in ------------------------------------------------------------------------------

/** The opaque token of the `opaque` mix (TEST ONLY: any string that is not a JWT). */
const OPAQUE_TOKEN = 'TEST-ONLY-opaque-bench-token-2YotnFZFEjr1zCsicMWpAA';

/**
 * A local STAND-IN for an authorization server's RFC 7662 endpoint (the benchmark measures the filter, not a
 * server): every POST is answered at once with an active JSON answer for the bench provider, valid for an hour.
 * Counts the calls, so a case can say how many introspections it cost.
 */
function startIntrospectionStandIn() {
  const standIn = { calls: 0, port: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      standIn.calls += 1;
      const body = JSON.stringify({
        active: true, iss: 'https://login.example.com/oauth/v2/oauth-anonymous', aud: 'api.example.com',
        sub: 'user-opaque', client_id: 'bench-app', scope: 'orders:read', exp: now() + 3600,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      standIn.port = server.address().port;
      server.unref();
      resolve(standIn);
    });
  });
}

const introspectionStandIn = await startIntrospectionStandIn();

function renderConfig(setup, floorWasm) {
  let text = render(readFileSync(path.join(REPO, 'envoy', 'bench', setup.config), 'utf8'), {
    LISTEN_PORT: 0,
    ADMIN_PORT: 0,
    WASM_PATH: setup.wasmFile ?? tollgateWasm,
    FLOOR_WASM_PATH: floorWasm,
    INTROSPECTION_PORT: introspectionStandIn.port,
  });
  if (setup.replayStore) {
    const found = text.match(REPLAY_STORE_FIELD)?.length ?? 0;
    if (found !== 1) throw new Error(`envoy/bench/${setup.config}: ${found} dpop_replay_cache_size fields, not one`);
    text = text.replace(REPLAY_STORE_FIELD, `"dpop_replay_cache_size": ${setup.replayStore}`);
  }
  if (setup.nonce) {
    const found = text.match(REPLAY_STORE_FIELD)?.length ?? 0;
    if (found !== 1) throw new Error(`envoy/bench/${setup.config}: ${found} dpop_replay_cache_size fields, not one`);
    text = text.replace('"dpop_replay_cache_size"', `${NONCE_SETTINGS}"dpop_replay_cache_size"`);
  }
  if (ALG !== 'PS256' || !setup.checksTokens) return text;
  // PS256 tokens name a key entry the shipped configs do not have: add it to every JWKS of the config.
  const jwk = JSON.stringify(ps256Jwk());
  let added = 0;
  const out = text.replace(/("jwks": \{"inline": \{"keys":\[|inline_string: '\{"keys":\[)/g, (m) => {
    added++;
    return `${m}${jwk},`;
  });
  if (added === 0) throw new Error(`envoy/bench/${setup.config}: found no JWKS to add the PS256 key to`);
  return out;
}

/** Cache counters of the setup's own verified-token cache ({ hits, misses }), or null if it has none. */
async function cacheCounters(envoy, setup) {
  let names;
  if (setup.family === 'tollgate' && setup.checksTokens) names = ['wasmcustom.tollgate.prefix.tollgate.jwt_cache_hit', 'wasmcustom.tollgate.prefix.tollgate.jwt_cache_miss'];
  else if (setup.family === 'jwt' && setup.cache) names = ['http.bench.jwt_authn.jwt_cache_hit', 'http.bench.jwt_authn.jwt_cache_miss'];
  else return null;
  // The filter adds its counts to Envoy's counters once a second: wait for that.
  if (setup.family === 'tollgate') await envoy.flushed();
  const stats = await envoy.stats('cache');
  return { hits: stats.get(names[0]) ?? 0, misses: stats.get(names[1]) ?? 0 };
}

/** The replay store size of a DPoP setup's rendered config (the filter's default when the field is absent). */
function replayStoreSize(text) {
  const sizes = [...text.matchAll(REPLAY_STORE_FIELD)].map((m) => Number(m[1]));
  if (sizes.length > 1) throw new Error(`${sizes.length} dpop_replay_cache_size fields in one config`);
  return sizes[0] ?? 65_536;
}

/** The bench URL as a proof's `htu` names it (wrk sends Host: 127.0.0.1:<port>, path /). */
const benchUrl = (port) => `http://127.0.0.1:${port}/`;

/**
 * Start the setup's Envoy and check it answers as it should: 200 with a token, 401 without (token setups). A DPoP
 * setup gets `bound` (dpopToken()): 200 for the token with a fresh proof, 401 invalid_dpop_proof for the same proof
 * again (so a proof sent twice during the case is refused, and counted as non-2xx), 401 for the token as Bearer and
 * without a token. Then runs `fn({ envoy, port, replayStore (its size, DPoP setups) })` and stops Envoy (lib/envoy.mjs withEnvoy: its log is printed when
 * the check or `fn` fails). Resolves what `fn` resolves.
 */
function withSetup(setup, floorWasm, oneToken, bound, fn) {
  const config = renderConfig(setup, floorWasm);
  const options = { name: `bench-${setup.id.replace('@', '-')}`, logLevel: 'warn', componentLogLevel: '' };
  return withEnvoy(config, options, async (envoy) => {
    const port = envoy.listenerPort('bench');
    let nonce;
    if (setup.nonce) {
      // The server nonce: the answer to a proof without one.
      const { proof } = proofMinter(bound.key, { htm: 'GET', htu: benchUrl(port), accessToken: bound.token }).mint();
      const first = await request(port, { path: '/', headers: { authorization: `DPoP ${bound.token}`, dpop: proof } });
      nonce = first.headers['dpop-nonce'];
      if (first.status !== 401 || !(first.headers['www-authenticate'] ?? '').includes('error="use_dpop_nonce"') || !nonce) {
        throw new Error(`${setup.id}: a proof without nonce was answered ${first.status} (${first.headers['www-authenticate']}), not 401 use_dpop_nonce`);
      }
    }
    if (setup.dpop) {
      const { proof } = proofMinter(bound.key, { htm: 'GET', htu: benchUrl(port), accessToken: bound.token, nonce }).mint();
      const headers = { authorization: `DPoP ${bound.token}`, dpop: proof };
      const ok = await request(port, { path: '/', headers });
      if (ok.status !== 200) throw new Error(`${setup.id}: a bound token with a valid ${bound.key.alg} proof was answered ${ok.status} ${ok.body}`);
      const again = await request(port, { path: '/', headers });
      const challenge = again.headers['www-authenticate'] ?? '';
      if (again.status !== 401 || !challenge.includes('error="invalid_dpop_proof"') || !challenge.includes('the DPoP proof was used before')) {
        throw new Error(`${setup.id}: a proof sent twice was answered ${again.status} (${challenge}), not 401 invalid_dpop_proof`);
      }
      const bearer = await request(port, { path: '/', headers: { authorization: `Bearer ${bound.token}` } });
      if (bearer.status !== 401) throw new Error(`${setup.id}: the bound token as Bearer was answered ${bearer.status}, not 401`);
    } else {
      const token = setup.opaque ? OPAQUE_TOKEN : oneToken;
      const ok = await request(port, { path: '/', headers: { authorization: `Bearer ${token}` } });
      if (ok.status !== 200) throw new Error(`${setup.id}: a valid ${setup.opaque ? 'opaque' : ALG} token was answered ${ok.status} ${ok.body}`);
    }
    if (setup.checksTokens) {
      const none = await request(port, { path: '/' });
      if (none.status !== 401) throw new Error(`${setup.id}: a request without a token was answered ${none.status}, not 401`);
    }
    return fn({ envoy, port, replayStore: setup.dpop ? replayStoreSize(config) : null, nonce });
  });
}

/** Estimated requests per second of a signature-bound case, from the cases measured so far. */
function signatureBoundRps(done) {
  const seen = done.filter((d) => signatureBound(d.setup, d.mix.id)).map((d) => d.rps).filter(Number.isFinite);
  return seen.length ? Math.max(...seen) : NEW_POOL_RPS_GUESS;
}

async function source(mixId, done, seconds) {
  if (mixId === 'one') return { header: await tokens.oneToken(seconds) };
  if (mixId === 'opaque') return { header: OPAQUE_TOKEN };
  if (mixId === '5000') return { file: await tokens.rotationFile(seconds), mode: 'rotate' };
  const count = NEW_TOKENS ?? Math.max(NEW_POOL_MIN, Math.ceil(DURATION * signatureBoundRps(done) * NEW_POOL_MARGIN));
  const pool = await tokens.poolFile(count, seconds);
  return { file: pool.file, mode: 'once', count: pool.count };
}

/** Requests per second a DPoP case of `mix` is expected to reach: the fastest measured so far, else a guess. */
function dpopRps(mix, done) {
  const seen = done.filter((d) => d.setup.dpop && d.mix.id === mix.id).map((d) => d.rps).filter(Number.isFinite);
  return seen.length ? Math.max(...seen) : DPOP_RPS_GUESS[mix.proofAlg];
}

/**
 * The proofs of one DPoP case, made right before it for the case's Envoy (`port`: their htu), so each is seconds
 * old when sent: enough for the warm-up and the measurement at the expected rate, NEW_POOL_MARGIN times over
 * (--dpop-proofs: that many). The no-auth baseline reads no proof: it gets one pool per mix, made once and sent
 * round and round.
 */
async function dpopSource(setup, mix, port, done, nonce) {
  const bound = tokens.dpopToken(mix.proofAlg);
  const sourceOf = (pool) => ({ file: pool.file, mode: 'once', start: 0, count: pool.count, dpopTokenFile: bound.file, pool });
  const make = async (name, count) => {
    const file = path.join(work, name);
    const started = Date.now();
    const made = await writeProofs(file, count, bound.key, { htm: 'GET', htu: benchUrl(port), accessToken: bound.token, nonce });
    log(`  made ${count} ${mix.proofAlg} DPoP proofs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { file, ...made };
  };
  if (!setup.checksTokens) {
    tokens.dpopFiller[mix.id] ??= await make(`proofs-${mix.id}-filler.txt`, DPOP_PROOFS ?? DPOP_POOL_MIN);
    return sourceOf(tokens.dpopFiller[mix.id]);
  }
  const count = DPOP_PROOFS ?? Math.max(DPOP_POOL_MIN, Math.ceil((WARMUP + DURATION) * dpopRps(mix, done) * NEW_POOL_MARGIN));
  return sourceOf(await make(`proofs-${mix.id}.txt`, count));
}

/** The filter's DPoP counters: proofs refused as replayed or because the replay store was full, signatures verified
 *  by Envoy (host) and in Wasm. */
async function dpopCounters(envoy) {
  const stats = await envoy.stats('^wasmcustom\\.tollgate\\.');
  return {
    replayed: sumFamily(stats, 'denied', { reason: 'dpop_replayed' }),
    storeFull: sumFamily(stats, 'denied', { reason: 'dpop_replay_store_full' }),
    host: sumFamily(stats, 'signatures', { signature_path: 'host' }),
    wasm: sumFamily(stats, 'signatures', { signature_path: 'wasm' }),
  };
}

async function runCase({ setup, mix }, floorWasm, done) {
  const dpop = Boolean(mix.proofAlg);
  let measured = dpop ? null : await source(mix.id, done);
  // Warm-up (connections, V8 tiers, caches) with the same kind of traffic; for every-token-new with the rotation
  // tokens, so the measured requests still see only tokens the Envoy has never seen; for DPoP with the first proofs
  // of the case's pool, the measurement going on with the next ones.
  const warmOther = mix.id === 'new' ? { file: await tokens.rotationFile(), mode: 'rotate' } : null;
  const bound = dpop ? tokens.dpopToken(mix.proofAlg) : null;
  return withSetup(setup, floorWasm, await tokens.oneToken(), bound, async ({ envoy, port, replayStore, nonce }) => {
    if (dpop) measured = await dpopSource(setup, mix, port, done, nonce);
    const warm = warmOther ?? measured;
    // The rotation goes on where the warm-up left it: otherwise its first tokens would be cache hits that a steady
    // rotation never has. A DPoP pool goes on after the proofs the warm-up sent: a proof sent twice is refused.
    const warmed = WARMUP > 0 ? await wrk(port, warm, WARMUP) : null;
    if (warmed && warm === measured && (measured.mode === 'rotate' || dpop)) measured.start = warmed.issued ?? 0;
    const pid = envoy.proc.child.pid;
    const cacheBefore = await cacheCounters(envoy, setup);
    const dpopBefore = dpop && setup.dpop ? await dpopCounters(envoy) : null;
    const cpuBefore = cpuSeconds(pid);
    const result = await wrk(port, measured, DURATION);
    const cpu = cpuSeconds(pid) - cpuBefore;
    const cacheAfter = await cacheCounters(envoy, setup);
    // A setup that ignores tokens (no auth, floor) is not affected by a token or proof sent twice: not counted.
    const available = Math.max(0, (measured.count ?? 0) - (measured.start ?? 0));
    const reused = measured.mode === 'once' && setup.checksTokens ? Math.max(0, (result.issued ?? 0) - available) : 0;
    const figures = {
      ...result,
      cpuUs: (cpu * 1e6) / result.requests,
      reused,
      poolSize: measured.count,
      cacheHits: cacheAfter ? cacheAfter.hits - cacheBefore.hits : null,
      cacheMisses: cacheAfter ? cacheAfter.misses - cacheBefore.misses : null,
    };
    if (!dpopBefore) return figures;
    const dpopAfter = await dpopCounters(envoy);
    return {
      ...figures,
      replayed: dpopAfter.replayed - dpopBefore.replayed,
      proofHost: dpopAfter.host - dpopBefore.host,
      proofWasm: dpopAfter.wasm - dpopBefore.wasm,
      warmupProofs: measured.start,
      storeSize: replayStore,
      storeFull: dpopAfter.storeFull - dpopBefore.storeFull,
      proofAge: now() - measured.pool.iat,
    };
  });
}

/** RSS at start and after MEMORY_REQUESTS requests, and the filter's memory gauge, for one tollgate case. */
async function memoryCase({ setup, mix }, floorWasm, done) {
  const maxSeconds = 180;
  const measured = await source(mix.id, done, maxSeconds + 60);
  return withSetup(setup, floorWasm, await tokens.oneToken(maxSeconds + 60), null, async ({ envoy }) => {
    const port = envoy.listenerPort('bench');
    const pid = envoy.proc.child.pid;
    const gauge = () => envoy.counter(FILTER_MEMORY_GAUGE); // counters and gauges alike; undefined when absent
    const completed = async () => (await envoy.stats('downstream_rq_completed')).get('http.bench.downstream_rq_completed') ?? 0;
    const atStart = { rss: rssBytes(pid), gauge: await gauge() };
    await wrk(port, measured, maxSeconds, { stopWhen: async () => (await completed()) >= MEMORY_REQUESTS });
    const requests = await completed();
    return { setup, mix, atStart, after: { rss: rssBytes(pid), gauge: await gauge() }, requests };
  });
}

// ---- run -------------------------------------------------------------------------------------------------------

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1].trim() ?? 'unknown CPU',
  };
}
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).slice(0, 3);

async function envoyVersion() {
  const { output } = await runToCompletion(envoyBin(), ['--version'], { timeoutMs: 30_000 });
  return /\/(\d+\.\d+\.\d+)\//.exec(output)?.[1] ?? output.trim();
}

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const size = (file) => {
  const bytes = statSync(file).size;
  return `${bytes.toLocaleString('en-US').replaceAll(',', ' ')} bytes (${(bytes / 1024).toFixed(1)} KiB)`;
};

async function main() {
  const started = Date.now();
  const cases = plan();
  const meta = {
    date: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    machine: machine(),
    loadStart: loadAverage(),
    envoyVersion: await envoyVersion(),
    connections: CONNECTIONS,
    duration: DURATION,
    rounds: ROUNDS,
    alg: ALG,
    command: `node tests/perf/bench/filter-bench.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  };
  meta.loaded = Number(meta.loadStart[0]) > LOADED_PER_CPU * meta.machine.nproc;
  const memoryCases = MEMORY_REQUESTS > 0
    ? cases.filter((c) => c.setup.id === 'tollgate' && (c.mix.id === 'one' || c.mix.id === '5000'))
    : [];
  // DPoP cases also make their proofs before they start (about 5-10 s for an ES256 pool on a busy 2-core machine).
  const proofCases = cases.filter((c) => c.mix.proofAlg && c.setup.checksTokens).length;
  const estimate = cases.length * ROUNDS * (WARMUP + DURATION + 3) + proofCases * ROUNDS * 8 + memoryCases.length * 20;
  log(`filter benchmark: ${cases.length} cases × ${ROUNDS} round(s) of ${DURATION} s, ${ALG} tokens, about ${Math.ceil(estimate / 60)} min`);
  log(`load average at start: ${meta.loadStart.join(' ')} (${meta.machine.nproc} CPUs)${meta.loaded ? ' — a loaded machine' : ''}`);
  const floorWasm = cases.some((c) => c.setup.id === 'floor') ? await buildFloor() : 'floor-not-built';

  const runs = cases.map(() => []);
  const done = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [i, c] of cases.entries()) {
      log(`round ${round}/${ROUNDS}: ${c.setup.id}/${c.mix.id} (${c.setup.label}, ${c.mix.label})`);
      const r = await runCase(c, floorWasm, done);
      runs[i].push({ ...r, round });
      done.push({ ...c, rps: r.rps });
      const what = c.mix.proofAlg ? 'proof' : 'token';
      log(`  ${Math.round(r.rps)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.cpuUs.toFixed(1)} µs CPU/req` +
        `${r.non2xx ? `, ${r.non2xx} non-2xx` : ''}${r.reused ? `, ${r.reused} requests reused a ${what}` : ''}` +
        `${r.storeSize ? `, ${r.replayed} refused as replayed, ${r.storeFull} refused as replay store full` : ''}`);
    }
  }

  const memory = [];
  for (const c of memoryCases) {
    log(`memory: ${c.setup.id}/${c.mix.id}, RSS at start and after ${MEMORY_REQUESTS} requests`);
    memory.push(await memoryCase(c, floorWasm, done));
  }
  meta.loadEnd = loadAverage();
  meta.elapsed = `${Math.round((Date.now() - started) / 1000)} s`;

  const results = cases.map((c, i) => ({ ...c, figures: summarize(runs[i]) }));
  const notes = [];
  for (const [i, c] of cases.entries()) {
    for (const r of runs[i]) {
      const at = `${c.setup.id}/${c.mix.id}, round ${r.round}`;
      if (r.reused && c.mix.proofAlg) {
        notes.push(`${at}: ${r.reused} of ${r.issued} requests reused a proof (the pool had ${r.poolSize} proofs; the ` +
          `warm-up had sent ${r.warmupProofs}): this figure is not valid`);
      } else if (r.reused) {
        notes.push(`${at}: ${r.reused} of ${r.issued} requests reused a token (the pool had ${r.poolSize} unique tokens)`);
      }
      if (r.non2xx) notes.push(`${at}: ${r.non2xx} non-2xx answers: this figure is not valid`);
      if (r.socketErrors) notes.push(`${at}: ${r.socketErrors}`);
      if (r.storeSize && r.storeFull > 0) {
        notes.push(`${at}: ${r.storeFull} measured proofs were refused because their replay-store bucket was full: this figure is not valid`);
      }
    }
  }
  const tokenRuns = runs.flatMap((rs, i) => (cases[i].mix.id === 'new' ? rs : []));
  const poolSizes = tokenRuns.filter((r) => r.poolSize).map((r) => r.poolSize);
  if (poolSizes.length && !tokenRuns.some((r) => r.reused)) {
    notes.push(`every token new: no token was sent twice (pools of ${[...new Set(poolSizes)].join(', ')} unique tokens)`);
  }
  notes.push(`load average at the end: ${meta.loadEnd.join(' ')}`);
  const sizes = [`tollgate filter: ${path.relative(REPO, tollgateWasm) || tollgateWasm} ${size(tollgateWasm)}`];
  if (existsSync(floorWasm)) sizes.push(`floor filter: ${path.relative(REPO, floorWasm)} ${size(floorWasm)}`);
  if (WASM_BEFORE) sizes.push(`tollgate filter [before]: ${WASM_BEFORE} ${size(WASM_BEFORE)}`);
  const memoryLines = memory.map((m) => {
    const gauge = m.atStart.gauge === undefined && m.after.gauge === undefined
      ? `filter memory gauge ${FILTER_MEMORY_GAUGE}: absent`
      : `${FILTER_MEMORY_GAUGE}: ${m.atStart.gauge ?? 'absent'} → ${m.after.gauge ?? 'absent'} bytes`;
    return `Envoy RSS, ${m.setup.label}, ${m.mix.label}: ${mib(m.atStart.rss)} at start, ${mib(m.after.rss)} after ` +
      `${m.requests.toLocaleString('en-US').replaceAll(',', ' ')} requests (${gauge})` +
      `${m.requests < MEMORY_REQUESTS ? ` — stopped after 180 s, short of ${MEMORY_REQUESTS}` : ''}`;
  });
  if (MEMORY_REQUESTS === 0) memoryLines.push('memory figures skipped (--memory-requests 0)');

  const report = markdown(meta, results, { sizes, memory: memoryLines, notes });
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, 'filter-bench.md'), report);
  writeFileSync(path.join(OUT, 'filter-bench.svg'), chart(meta, results));
  const json = {
    meta,
    results: rows(results).map((r, i) => ({
      setup: r.setup.id, mix: r.mix.id, ...r.figures, vsNoAuth: r.vsNoAuth, vsJwt: r.vsJwt, cpuVsJwt: r.cpuVsJwt,
      versus: r.versus?.setup.id ?? null, measurements: runs[i],
    })),
    memory: memory.map((m) => ({ setup: m.setup.id, mix: m.mix.id, atStart: m.atStart, after: m.after, requests: m.requests })),
    sizes,
    notes,
  };
  writeFileSync(path.join(OUT, 'filter-bench.json'), `${JSON.stringify(json, null, 2)}\n`);
  log(`\n${report}`);
  log(`written: ${['md', 'svg', 'json'].map((e) => path.relative(process.cwd(), path.join(OUT, `filter-bench.${e}`))).join(', ')}`);
  const invalid = results.filter((r) => r.figures.non2xx > 0);
  if (invalid.length) {
    process.stderr.write(`filter-bench.mjs: non-2xx answers in ${invalid.map((r) => `${r.setup.id}/${r.mix.id}`).join(', ')}: those figures are not valid\n`);
    process.exitCode = 1;
  }
  // A reused proof is refused (a non-2xx above) unless the replay store had already dropped it: invalid either way.
  const replays = results.filter((r) => r.mix.proofAlg && r.setup.checksTokens && r.figures.reused > 0);
  if (replays.length) {
    process.stderr.write(`filter-bench.mjs: requests reused a DPoP proof in ${replays.map((r) => `${r.setup.id}/${r.mix.id}`).join(', ')}: those figures are not valid\n`);
    process.exitCode = 1;
  }
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
