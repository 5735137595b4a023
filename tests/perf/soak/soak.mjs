// The soak: the real Envoy (two workers) with the built filter under a bounded wrk load that mixes valid,
// expired, forged, garbled and missing tokens, while the key server (keyserver.mjs, on loopback, controlled
// here) goes down, answers slowly, answers garbage and rotates keys. Then the memory phases: 100 000 requests
// with the usual few tokens, and 100 000 requests with as many distinct tokens. Prints what it saw and, as its
// last line, `soak: R requests, W wrong answers, F 5xx, V vm failures, memory A -> B MiB`; exits non-zero when
// W, F or V is not 0 or memory is not flat (see README.md in this folder for every rule).
//
//   node tests/perf/soak/soak.mjs [--seconds 30] [--connections 32] [--memory-requests 100000]
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO, requireWasm } from '../../e2e/lib/paths.mjs';
import { withEnvoy } from '../../e2e/lib/envoy.mjs';
import { bootstrap, tollgateFilter, toYaml, HARDENED_HCM } from '../../e2e/lib/envoy-config.mjs';
import { startProcess, stopProcess } from '../../e2e/lib/proc.mjs';
import { request } from '../../e2e/lib/http.mjs';
import { waitFor } from '../../e2e/lib/net.mjs';
import { startKeyServer } from './keyserver.mjs';
import { makeKey, mint, mintUnsigned, corruptSignature } from './tokens.mjs';
import { judge, parseResults } from './judge.mjs';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: process.env.SOAK_SECONDS || '30' },
    connections: { type: 'string', default: process.env.SOAK_CONNECTIONS || '32' },
    'memory-requests': { type: 'string', default: process.env.SOAK_MEMORY_REQUESTS || '100000' },
  },
});
const SECONDS = Number(opts.seconds);
const CONNECTIONS = Number(opts.connections);
const MEMORY_REQUESTS = Number(opts['memory-requests']);
if (!(SECONDS >= 10 && SECONDS <= 86_400)) throw new Error('--seconds: 10 … 86400');
if (!(CONNECTIONS >= 1 && CONNECTIONS <= 256)) throw new Error('--connections: 1 … 256');

/** The filter's fetch timeout; the slow key server answers after 2.5 times that. */
const TIMEOUT_MS = 1000;
/** After the key server first delivered a key, the filter has this long to use it (the judge's grace). */
const GRACE_MS = 2000;
/** Memory is flat when the Envoy process grows by at most this much from start to end… */
const RSS_BOUND_MIB = 64;
/** …and no VM's linear memory grows between 50 000 and 100 000 distinct tokens (the cache is full by then). */
const LINEAR_GROWTH_BOUND_KIB = 0;
const ISSUER = 'https://soak.example.test';
const AUDIENCE = 'api.soak.test';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-soak-'));
const log = (...a) => console.log('soak:', ...a);
const defaultCacheSize = (/DEFAULT_CACHE_SIZE: usize = ([0-9_]+)/.exec(readFileSync(path.join(REPO, 'filter/core/src/config/raw.rs'), 'utf8'))?.[1] ?? '?').replaceAll('_', '');

// Keys: four stable ones (ES256 and RS256 go through Envoy's verify_signature, EdDSA and PS256 stay in the VM),
// one rotating ES256 key per rotation, and keys that are never published.
const stable = [makeKey('ES256', 'stable-es256'), makeKey('RS256', 'stable-rs256'), makeKey('EdDSA', 'stable-eddsa'), makeKey('PS256', 'stable-ps256')];
const unpublished = makeKey('ES256', 'never-published');
const impostor = makeKey('EdDSA', 'stable-eddsa'); // a published kid, another key

// The chaos schedule: phases of P seconds, in this cycle (their times are set once the warm-up is done).
const CYCLE = ['normal', 'rotate', 'down', 'normal', 'slow', 'garbage', 'rotate-down', 'normal'];
const P = Math.min(15, Math.max(3, Math.round(SECONDS / 10)));
const phases = [];
for (let i = 0; (i + 1) * P <= SECONDS; i++) phases.push({ mode: CYCLE[i % CYCLE.length] });
const rotations = [makeKey('ES256', 'rot-0')];
for (const ph of phases) if (ph.mode.startsWith('rotate')) rotations.push(makeKey('ES256', `rot-${rotations.length}`));
const jwksFor = (k) => ({ keys: [...stable.map((s) => s.jwk), ...(k > 0 ? [rotations[k - 1].jwk] : []), rotations[k].jwk] });

const now = () => Math.floor(Date.now() / 1000);
const lifetime = SECONDS + 3600;
const claims = (extra = {}) => ({ iss: ISSUER, aud: AUDIENCE, sub: 'user-1', client_id: 'soak', scope: 'orders:read', iat: now() - 5, exp: now() + lifetime, ...extra });

function writeLines(name, lines) {
  const file = path.join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** The chaos mix, one request per line (class, method, path, token), repeated by weight. */
function chaosMix() {
  const lines = [];
  const add = (cls, token, { weight = 1, method = 'GET', route = '/orders/1' } = {}) => {
    for (let i = 0; i < weight; i++) lines.push([cls, method, route, token].join('\t'));
  };
  for (const key of stable) {
    for (let i = 0; i < 25; i++) add(`valid.${key.alg.toLowerCase()}`, mint(key, claims({ sub: `user-${i}` })), { weight: 4 });
    add(`expired.${key.alg.toLowerCase()}`, mint(key, claims({ iat: now() - 1000, exp: now() - 600 })), { weight: 5 });
    add('scope.admin', mint(key, claims()), { weight: 2, route: '/admin/users' });
  }
  const es = stable[0];
  add('rot', '', { weight: 50 });
  add('forged.signature', corruptSignature(mint(es, claims())), { weight: 8 });
  add('forged.unknown-kid', mint(unpublished, claims()), { weight: 8 });
  add('forged.impostor-key', mint(impostor, claims()), { weight: 5 });
  add('forged.alg-none', mintUnsigned({ alg: 'none', typ: 'at+jwt' }, claims()), { weight: 3 });
  add('forged.hs256-with-public-key', mintUnsigned({ alg: 'HS256', typ: 'at+jwt', kid: es.kid }, claims(), JSON.stringify(es.jwk)), { weight: 3 });
  add('forged.audience', mint(es, claims({ aud: 'other.example' })), { weight: 3 });
  add('forged.issuer', mint(es, claims({ iss: 'https://evil.example' })), { weight: 3 });
  add('forged.lifetime', mint(es, claims({ exp: now() + lifetime + 7200 })), { weight: 2 });
  add('garbled.random', 'eyJhbGciOiJFUzI1NiJ9.bm9wZQ.c2lnbmF0dXJl', { weight: 4 });
  add('garbled.two-segments', 'eyJhbGciOiJFUzI1NiJ9.e30', { weight: 3 });
  add('garbled.truncated', mint(es, claims()).slice(0, 120), { weight: 3 });
  add('garbled.huge', `${'A'.repeat(9000)}.${'B'.repeat(100)}.${'C'.repeat(100)}`, { weight: 2 });
  add('malformed.chars', 'not"a*token', { weight: 3 });
  add('missing', '', { weight: 10 });
  return lines;
}

function vmMemory(pid) {
  // Each V8 Wasm memory is a read-write mapping (the linear memory) right below a multi-GiB PROT_NONE guard
  // reservation; its Size is the VM's linear memory (it never shrinks), its Rss what is resident.
  const blocks = readFileSync(`/proc/${pid}/smaps`, 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
  const out = [];
  blocks.forEach((b, i) => {
    const size = Number(/^Size:\s+(\d+)/m.exec(b)?.[1] ?? 0);
    if (size < 4 * 1024 * 1024 || !/ ---p /.test(b.split('\n')[0])) return;
    const prev = blocks[i - 1] ?? '';
    if (!/ rw-p /.test(prev.split('\n')[0])) return;
    out.push({ linearKiB: Number(/^Size:\s+(\d+)/m.exec(prev)?.[1] ?? 0), residentKiB: Number(/^Rss:\s+(\d+)/m.exec(prev)?.[1] ?? 0) });
  });
  return out.sort((a, b) => b.linearKiB - a.linearKiB);
}
const rssMiB = (pid) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const fmtVms = (vms) => vms.map((v) => `${v.linearKiB} KiB (${v.residentKiB} resident)`).join(', ');

async function vmStats(envoy) {
  const s = await envoy.stats('^wasm\\.');
  let reloads = 0;
  for (const [k, v] of s) if (/^wasm\.soak\.vm_reload/.test(k)) reloads += v;
  return { created: s.get('wasm.envoy.wasm.runtime.v8.created') ?? 0, reloads };
}

async function fetchCounters(envoy) {
  const get = (n) => envoy.family(`jwks_${n}`, { provider: 'soak' });
  return { success: await get('fetch_success'), failure: await get('fetch_failed'), refetch: await get('refetch_triggered') };
}

async function rqTotal(envoy) {
  return (await envoy.stats('^http\\.ingress\\.downstream_rq_total$')).get('http.ingress.downstream_rq_total') ?? 0;
}

/** Run wrk; with `quota` stop (SIGINT) once Envoy has answered that many more requests. */
async function wrk(envoy, { tokens, rotation, seconds, quota = 0, mode, slice = false, connections = CONNECTIONS }) {
  const results = path.join(dir, `results-${mode}.txt`);
  const url = `http://127.0.0.1:${envoy.listenerPort('ingress')}`;
  const perThread = quota > 0 ? Math.ceil(quota / connections) : 0;
  const args = ['-t', String(connections), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '5s',
    '-s', path.join(REPO, 'tests/perf/soak/load.lua'), url, '--', tokens, rotation, String(perThread), String(connections), slice ? 'slice' : 'cycle'];
  const before = await rqTotal(envoy);
  const proc = startProcess('wrk', args, { logFile: path.join(dir, `wrk-${mode}.log`), env: { ...process.env, SOAK_RESULTS: results } });
  if (quota > 0) {
    // Until Envoy has answered the quota, or the threads have stopped (no progress for 3 s).
    let last = before;
    let still = 0;
    await waitFor(`${quota} requests`, async () => {
      const n = await rqTotal(envoy);
      still = n === last ? still + 1 : 0;
      last = n;
      return n - before >= quota || still >= 15 || !proc.running;
    }, { timeoutMs: seconds * 1000, intervalMs: 200 });
    if (proc.running) process.kill(proc.child.pid, 'SIGINT');
  }
  const { code } = await proc.exited;
  if (code !== 0) throw new Error(`wrk exited ${code}:\n${proc.log()}`);
  return parseResults(readFileSync(results, 'utf8'));
}

const keyServer = await startKeyServer({ slowMs: 2.5 * TIMEOUT_MS, jwks: jwksFor(0) });
const plugin = {
  realm: 'soak',
  providers: [{
    name: 'soak',
    issuer: ISSUER,
    audiences: [AUDIENCE],
    jwks: { remote: { cluster: 'keys', url: `http://127.0.0.1:${keyServer.port}/jwks`, timeout_ms: TIMEOUT_MS, cache_seconds: 10, refetch_interval_seconds: 1 } },
    max_lifetime_seconds: lifetime + 60,
    clock_skew_seconds: 5,
  }],
  rules: [
    { match: { prefix: '/admin' }, scopes: ['orders:admin'] },
    { match: { prefix: '/' }, scopes: ['orders:read'] },
  ],
  claims_to_headers: { sub: 'x-user-id', client_id: 'x-client-id' },
};
const boot = bootstrap({
  upstreamPort: 1,
  httpFilters: [tollgateFilter(plugin, { name: 'soak', wasm: requireWasm() })],
  hcm: HARDENED_HCM,
  routeConfig: { name: 'local', virtual_hosts: [{ name: 'api', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok' } } }] }] },
});
boot.static_resources.clusters.push({
  name: 'keys', type: 'STATIC', connect_timeout: '0.25s',
  load_assignment: { cluster_name: 'keys', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: keyServer.port } } } }] }] },
});
let exitCode = 1;
try {
  await withEnvoy(toYaml(boot), { name: 'soak-envoy', concurrency: 2, componentLogLevel: 'wasm:info' }, async (envoy) => {
    const pid = envoy.proc.child.pid;
    const port = envoy.listenerPort('ingress');
    // Warm-up: every stable key known on both workers, before any measurement.
    for (const key of stable) {
      const t = mint(key, claims());
      await waitFor(`a ${key.alg} token accepted`, async () => (await request(port, { path: '/orders/1', headers: { authorization: `Bearer ${t}` } })).status === 200, { timeoutMs: 20_000, intervalMs: 100 });
      for (let i = 0; i < 20; i++) {
        const res = await request(port, { path: '/orders/1', headers: { authorization: `Bearer ${t}`, connection: 'close' } });
        if (res.status !== 200) throw new Error(`warm-up: ${key.alg} token answered ${res.status}`);
      }
    }
    const rssStart = rssMiB(pid);
    const statsStart = await vmStats(envoy);
    const vmsStart = vmMemory(pid);
    log(`Envoy ${rssStart.toFixed(1)} MiB after warm-up, ${vmsStart.length} Wasm VMs: ${fmtVms(vmsStart)}`);
    log(`chaos: ${SECONDS} s, ${CONNECTIONS} connections, ${phases.length} key server phases of ${P} s, cycling ${CYCLE.join(' ')}`);

    // Chaos: wrk starts at T0, a whole second, and the key server's phases follow from there.
    const tokens = writeLines('chaos.tsv', chaosMix());
    const T0 = Math.ceil(Date.now() / 1000) + 2;
    phases.forEach((ph, i) => { ph.at = T0 + i * P; });
    let k = 0;
    const rotationLines = [`0\t0\t${mint(rotations[0], claims())}`];
    const timers = [];
    for (const ph of phases) {
      if (ph.mode.startsWith('rotate')) {
        k += 1;
        rotationLines.push(`${ph.at}\t${k}\t${mint(rotations[k], claims())}`);
      }
      const kk = k;
      timers.push(setTimeout(async () => {
        if (ph.mode.startsWith('rotate')) keyServer.publish(jwksFor(kk));
        await keyServer.setMode(ph.mode === 'rotate' ? 'normal' : ph.mode === 'rotate-down' ? 'down' : ph.mode);
      }, ph.at * 1000 - Date.now()));
    }
    const rotationFile = writeLines('rotation.tsv', rotationLines);
    const fetchesBefore = await fetchCounters(envoy);
    await new Promise((r) => setTimeout(r, T0 * 1000 - Date.now()));
    const chaos = await wrk(envoy, { tokens, rotation: rotationFile, seconds: SECONDS, mode: 'chaos' });
    timers.forEach(clearTimeout);
    await keyServer.setMode('normal');
    const learnedAt = (kid) => keyServer.servedAt(`rot-${kid}`);
    const verdicts = [judge({ ...chaos, learnedAt, graceMs: GRACE_MS })];
    const c = verdicts[0];
    const fetches = await fetchCounters(envoy);
    log(`chaos: ${c.requests} requests, by status ${JSON.stringify(c.byStatus)}, ${c.wrong} wrong; key server answered ${JSON.stringify(keyServer.counts)}; filter JWKS fetches: ${fetches.success - fetchesBefore.success} accepted, ${fetches.failure - fetchesBefore.failure} failed, ${fetches.refetch - fetchesBefore.refetch} triggered by unknown kids; ${rotations.length - 1} rotations`);
    const rssAfterChaos = rssMiB(pid);

    // Memory: 100 000 requests with the usual tokens (cache hits), then 2 × 50 000 distinct tokens.
    const valid = chaosMix().filter((l) => l.startsWith('valid.'));
    const memoryFile = writeLines('memory-repeat.tsv', valid);
    const repeat = await wrk(envoy, { tokens: memoryFile, rotation: rotationFile, seconds: 600, quota: MEMORY_REQUESTS, mode: 'repeat' });
    verdicts.push(judge(repeat));
    const vmsRepeat = vmMemory(pid);
    const half = Math.floor(MEMORY_REQUESTS / 2);
    const distinctVms = [];
    for (const part of [0, 1]) {
      const lines = [];
      for (let i = 0; i < half; i++) {
        // Mostly host-path algorithms, one in 25 in the VM, all distinct (sub and jti differ).
        const key = i % 25 === 0 ? stable[2 + (i % 2)] : stable[i % 2];
        lines.push(['valid.distinct', 'GET', '/orders/1', mint(key, claims({ sub: `u-${part}-${i}`, jti: `j-${part}-${i}` }))].join('\t'));
      }
      const file = writeLines(`memory-distinct-${part}.tsv`, lines);
      const r = await wrk(envoy, { tokens: file, rotation: rotationFile, seconds: 900, quota: half, mode: `distinct-${part}`, slice: true });
      verdicts.push(judge(r));
      distinctVms.push(vmMemory(pid));
    }
    const rssEnd = rssMiB(pid);
    const statsEnd = await vmStats(envoy);
    const crashLines = envoy.log().split('\n').filter((l) => /Function: \S+ failed|panicked at|wasm trap|VM failed/i.test(l)).length;
    const vmFailures = statsEnd.created - statsStart.created + statsEnd.reloads - statsStart.reloads + crashLines;

    const total = verdicts.reduce((a, v) => ({ requests: a.requests + v.requests, wrong: a.wrong + v.wrong, fiveXX: a.fiveXX + v.fiveXX }), { requests: 0, wrong: 0, fiveXX: 0 });
    for (const v of verdicts) for (const r of v.reasons) log(`wrong: ${r.n} × ${r.what}`);
    const growth = distinctVms[1].map((v, i) => v.linearKiB - (distinctVms[0][i]?.linearKiB ?? 0));
    log(`per-VM memory after ${MEMORY_REQUESTS} requests with the usual tokens (cache_size default ${defaultCacheSize}): ${fmtVms(vmsRepeat)}`);
    log(`per-VM memory after ${half} distinct tokens: ${fmtVms(distinctVms[0])}`);
    log(`per-VM memory after ${2 * half} distinct tokens: ${fmtVms(distinctVms[1])} (growth since ${half}: ${growth.join(', ')} KiB)`);
    log(`Envoy RSS: ${rssStart.toFixed(1)} MiB after warm-up, ${rssAfterChaos.toFixed(1)} after chaos, ${rssEnd.toFixed(1)} at the end (bound +${RSS_BOUND_MIB} MiB)`);
    const flat = rssEnd - rssStart <= RSS_BOUND_MIB && growth.every((g) => g <= LINEAR_GROWTH_BOUND_KIB);
    if (!flat) log('memory is not flat');
    exitCode = total.wrong === 0 && total.fiveXX === 0 && vmFailures === 0 && flat ? 0 : 1;
    console.log(`soak: ${total.requests} requests, ${total.wrong} wrong answers, ${total.fiveXX} 5xx, ${vmFailures} vm failures, memory ${rssStart.toFixed(0)} -> ${rssEnd.toFixed(0)} MiB`);
  });
} finally {
  await keyServer.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
