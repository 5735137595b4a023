#!/usr/bin/env node
// The host-call cost table (figures, never pass/fail on timing): what each kind of proxy-wasm host call costs Envoy
// (V8, one worker) per request, in ONE run. The floor filter (tests/perf/bench/floor) runs once per variant with a
// step list of one kind of call repeated REPEAT times (`noop`: no call at all, the price of a Wasm filter that only
// returns Continue); the cost of one call is (CPU/request of the variant − CPU/request of `noop`) ÷ REPEAT. Requests
// carry the headers of the benchmark's requests (wrk's, plus an `authorization: Bearer` of a token's length), on
// Envoy's direct-response route of envoy/bench/floor.yaml; no-auth.yaml gives "no filter". Variants run interleaved,
// round by round, and each figure is the median of the rounds.
//
//   node tests/perf/bench/host-calls.mjs [--rounds 3] [--duration 5] [--repeat 10] [--out DIR]
//
// Writes DIR/host-calls.md (default target/bench) and prints it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseCli } from '../../../scripts/cli.mjs';
import { REPO, requireEnvoy } from '../../e2e/lib/paths.mjs';
import { render, withEnvoy } from '../../e2e/lib/envoy.mjs';
import { request } from '../../e2e/lib/http.mjs';
import { buildFloor } from './floor.mjs';

const USAGE = `usage: node tests/perf/bench/host-calls.mjs [--rounds N] [--duration S] [--repeat N] [--out DIR]
The cost of each proxy-wasm host call kind in Envoy, from the floor filter (see the top of this file).`;
const { values } = parseCli({
  name: 'host-calls.mjs',
  usage: USAGE,
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    repeat: { type: 'string', default: '10' },
    out: { type: 'string' },
  },
});
const positive = (name) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`host-calls.mjs: --${name} must be a positive integer (got ${values[name]})\n`);
    process.exit(2);
  }
  return n;
};
const ROUNDS = positive('rounds');
const DURATION = positive('duration');
const REPEAT = positive('repeat');
const OUT = path.resolve(values.out ?? path.join(REPO, 'target', 'bench'));
const WRK = process.env.WRK_BIN || '/usr/bin/wrk';
const CLOCK_TICKS_PER_SECOND = 100;
/** A header value of an ES256 access token's length (the floor never reads it as a token). */
const AUTHORIZATION = `Bearer ${'a'.repeat(300)}.${'b'.repeat(200)}.${'c'.repeat(86)}`;

// One kind of call per variant; `lines` is the step repeated REPEAT times.
const KINDS = [
  { id: 'headers', step: 'headers', label: 'read all request headers (`proxy_get_header_map_pairs`)' },
  { id: 'header', step: 'header authorization', label: 'read one request header (`proxy_get_header_map_value`, present)' },
  { id: 'header-absent', step: 'header x-user-id', label: 'read one request header (absent)' },
  { id: 'set', step: 'set x-user-id user-1234', label: 'set a request header (`proxy_replace_header_map_value`)' },
  { id: 'remove', step: 'remove x-user-id', label: 'remove a request header (`proxy_remove_header_map_value`, absent)' },
  { id: 'count', step: 'count floor.counter', label: 'increment a counter (`proxy_increment_metric`)' },
  { id: 'time', step: 'time', label: 'read the clock (`proxy_get_current_time_nanoseconds`)' },
  { id: 'property', step: 'property request.path', label: 'read a property (`proxy_get_property`, `request.path`)' },
  { id: 'shared', step: 'shared floor.key', label: 'read shared data (`proxy_get_shared_data`, absent key)' },
];

const log = (line) => process.stdout.write(`${line}\n`);

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

function wrk(port, duration) {
  const args = ['-t1', '-c16', `-d${duration}s`, '--timeout', '5s', '-H', `Authorization: ${AUTHORIZATION}`, `http://127.0.0.1:${port}/`];
  return new Promise((resolve, reject) => {
    const child = spawn(WRK, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited ${code}:\n${output}`));
      const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
      if (non2xx > 0) return reject(new Error(`${non2xx} non-2xx answers: a step failed (see Envoy's log)\n${output}`));
      resolve({ requests: Number(/(\d+) requests in/.exec(output)?.[1]), rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]) });
    });
  });
}

/** floor.yaml with `steps` as the plugin configuration (a YAML double-quoted string). */
function floorConfig(floorWasm, steps) {
  const text = render(readFileSync(path.join(REPO, 'envoy', 'bench', 'floor.yaml'), 'utf8'), {
    LISTEN_PORT: 0, ADMIN_PORT: 0, FLOOR_WASM_PATH: floorWasm,
  });
  const anchor = /^( +)name: floor\n/m;
  const m = anchor.exec(text);
  if (!m) throw new Error('envoy/bench/floor.yaml: no "name: floor" line to put the step list after');
  const value = JSON.stringify(steps);
  return text.replace(anchor, `${m[0]}${m[1]}configuration:\n${m[1]}  "@type": type.googleapis.com/google.protobuf.StringValue\n${m[1]}  value: ${value}\n`);
}

async function measure(config, name) {
  return withEnvoy(config, { name: `hostcalls-${name}`, logLevel: 'warn', componentLogLevel: '' }, async (envoy) => {
    const port = envoy.listenerPort('bench');
    const check = await request(port, { path: '/', headers: { authorization: AUTHORIZATION } });
    if (check.status !== 200) throw new Error(`${name}: answered ${check.status} ${check.body}`);
    await wrk(port, 1);
    const pid = envoy.proc.child.pid;
    const before = cpuSeconds(pid);
    const r = await wrk(port, DURATION);
    return { cpuUs: ((cpuSeconds(pid) - before) * 1e6) / r.requests, rps: r.rps };
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  requireEnvoy();
  if (!existsSync(WRK)) throw new Error(`wrk not found at ${WRK}: run scripts/setup.sh or set WRK_BIN`);
  const floorWasm = await buildFloor();
  const repeated = (step) => `${Array(REPEAT).fill(step).join('\n')}\n`;
  const variants = [
    { id: 'no-filter', config: () => render(readFileSync(path.join(REPO, 'envoy', 'bench', 'no-auth.yaml'), 'utf8'), { LISTEN_PORT: 0, ADMIN_PORT: 0 }) },
    { id: 'noop', config: () => floorConfig(floorWasm, 'noop\n') },
    ...KINDS.map((k) => ({ id: k.id, config: () => floorConfig(floorWasm, repeated(k.step)) })),
  ];
  const loadStart = readFileSync('/proc/loadavg', 'utf8').trim();
  const started = new Date().toISOString();
  const runs = Object.fromEntries(variants.map((v) => [v.id, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const v of variants) {
      const r = await measure(v.config(), v.id);
      runs[v.id].push(r);
      log(`round ${round}/${ROUNDS} ${v.id.padEnd(14)} ${r.cpuUs.toFixed(2)} µs CPU/req ${Math.round(r.rps)} req/s  load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    }
  }
  const loadEnd = readFileSync('/proc/loadavg', 'utf8').trim();
  const cpu = (id) => median(runs[id].map((r) => r.cpuUs));
  const noop = cpu('noop');
  const lines = [
    '# Host-call costs (Envoy, V8, one worker)',
    '',
    `Measured ${started} with \`node tests/perf/bench/host-calls.mjs --rounds ${ROUNDS} --duration ${DURATION} --repeat ${REPEAT}\``,
    `on ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown CPU'}); load average at start \`${loadStart}\`, at end \`${loadEnd}\`.`,
    'The floor filter runs each kind of call repeated; one call costs (CPU/request − the `noop` filter\'s) ÷ the repeat count.',
    'Envoy CPU per request: user + system time of the whole Envoy process during the measurement ÷ requests (median of the rounds).',
    '',
    `| variant | Envoy µs CPU/request | per call, µs | rounds (µs CPU/request) |`,
    '|---|---:|---:|---|',
    `| no filter | ${cpu('no-filter').toFixed(2)} | | ${runs['no-filter'].map((r) => r.cpuUs.toFixed(2)).join(', ')} |`,
    `| Wasm filter that only returns Continue (\`noop\`) | ${noop.toFixed(2)} | ${(noop - cpu('no-filter')).toFixed(2)} (the filter itself) | ${runs.noop.map((r) => r.cpuUs.toFixed(2)).join(', ')} |`,
    ...KINDS.map((k) => `| ${REPEAT} × ${k.label} | ${cpu(k.id).toFixed(2)} | ${((cpu(k.id) - noop) / REPEAT).toFixed(2)} | ${runs[k.id].map((r) => r.cpuUs.toFixed(2)).join(', ')} |`),
    '',
  ];
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, 'host-calls.md'), lines.join('\n'));
  log(`\n${lines.join('\n')}`);
  log(`written: ${path.join(OUT, 'host-calls.md')}`);
}

main().catch((err) => {
  process.stderr.write(`host-calls.mjs: ${err.stack ?? err}\n`);
  process.exit(1);
});
