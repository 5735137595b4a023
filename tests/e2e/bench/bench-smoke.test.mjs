// Smoke test of the benchmark harness (filter-bench.mjs) and its floor filter: a run of a few 1-second cases writes a
// well-formed Markdown table, SVG chart and JSON, with the ratio lines, the floor comparison, the memory line and the
// token-reuse note; bad arguments are refused with their reason; the floor filter makes the calls its step list
// names, and refuses a bad list. No assertion on any timing figure (only that each figure is a positive number).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireWasm } from '../lib/paths.mjs';
import { startEnvoy, startEnvoyExpectingFailure } from '../lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter } from '../lib/envoy-config.mjs';
import { request } from '../lib/http.mjs';
import { runToCompletion } from '../lib/proc.mjs';
import { startEchoUpstream } from '../lib/upstream.mjs';
import { buildFloor } from './floor.mjs';
import { escapeXml } from './svg.mjs';
import { FILTER_MEMORY_GAUGE } from './report.mjs';
import { ALGORITHMS, minter, ps256Jwk } from './tokens.mjs';
import { AUDIENCE, IDSVR_JWKS, ISSUER, KID, mint } from '../fixtures/tokens.mjs';
import { decodeJwt, importJWK, jwtVerify } from 'jose';

const BENCH = path.join(path.dirname(fileURLToPath(import.meta.url)), 'filter-bench.mjs');

/**
 * Throw unless `text` is one well-formed XML element (no declaration): tags nest and close, attribute values are
 * quoted, text and attributes hold no raw `<` and no `&` outside an entity. Returns the element names in order.
 */
function checkXml(text) {
  const names = [];
  const stack = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  const entity = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
  const badAmpersand = (s) => s.replace(entity, '').includes('&');
  let at = text.indexOf('<');
  assert.equal(text.slice(0, at).trim(), '', 'nothing before the root element');
  while (at < text.length) {
    tag.lastIndex = at;
    const m = tag.exec(text);
    assert.ok(m, `malformed tag at offset ${at}: ${text.slice(at, at + 60)}`);
    const [whole, closing, name, attrs, selfClosing] = m;
    assert.ok(!badAmpersand(attrs), `raw & in the attributes of <${name}>`);
    if (closing) {
      assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    } else {
      names.push(name);
      if (!selfClosing) stack.push(name);
    }
    at += whole.length;
    const next = text.indexOf('<', at);
    const between = text.slice(at, next === -1 ? text.length : next);
    assert.ok(!badAmpersand(between), `raw & in text: ${between}`);
    if (stack.length === 0) {
      assert.equal(text.slice(at).trim(), '', 'nothing after the root element');
      break;
    }
    assert.ok(next !== -1, `unclosed <${stack.at(-1)}>`);
    at = next;
  }
  assert.equal(stack.length, 0, `unclosed elements: ${stack.join(', ')}`);
  return names;
}

async function bench(args, timeoutMs = 60_000) {
  return runToCompletion(process.execPath, [BENCH, ...args], { timeoutMs });
}

describe('benchmark harness (filter-bench.mjs)', () => {
  let out;
  before(() => {
    out = mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-smoke-'));
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('the XML check used below rejects what it should', () => {
    assert.deepEqual(checkXml('<svg a="1"><g><text>a &amp; b</text><rect/></g></svg>\n'), ['svg', 'g', 'text', 'rect']);
    assert.throws(() => checkXml('<svg><g></svg>'), /<\/svg> closes the wrong element/);
    assert.throws(() => checkXml('<svg><text>a & b</text></svg>'), /raw & in text/);
    assert.throws(() => checkXml('<svg><text x=1>a</text></svg>'), /malformed tag/);
    assert.throws(() => checkXml('<svg></svg><svg></svg>'), /nothing after the root element/);
    assert.equal(escapeXml(`<a href="x">&'`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
  });

  it('refuses bad arguments with the reason', async () => {
    const cases = [
      [['--alg', 'HS256'], 'filter-bench.mjs: --alg must be one of ES256, RS256, PS256, EdDSA (got HS256)'],
      [['--rounds', '0'], 'filter-bench.mjs: --rounds must be a positive integer (got 0)'],
      [['--duration', '2.5'], 'filter-bench.mjs: --duration must be a positive integer (got 2.5)'],
      [['--only', '('], 'filter-bench.mjs: --only (: not a regular expression'],
      [['--only', 'no-such-case', '--out', out], 'filter-bench.mjs: --only no-such-case matches no case; the cases are:\n  no-auth/one\n  floor/one\n'],
      [['--colour'], 'filter-bench.mjs: unknown option --colour (see filter-bench.mjs --help)'],
    ];
    for (const [args, message] of cases) {
      const { code, output } = await bench(args);
      assert.equal(code, 2, `${args.join(' ')}: ${output}`);
      assert.ok(output.startsWith(message), `${args.join(' ')}: ${output}`);
    }
  });

  // PS256, the one algorithm whose key entry the harness adds to the shipped configs: every token-checking setup
  // accepting the tokens (and refusing a request without one) shows it was added to both products' JWKS.
  it('a quick run writes the table, the ratios, the memory line, the reuse note, the chart and the JSON', async () => {
    requireWasm();
    const only = 'floor/one|^tollgate/one|jwt_authn-same-work/one|tollgate-cache-1000/5000|jwt_authn-no-cache/new';
    const { code, output } = await bench([
      '--quick', '--duration', '1', '--warmup', '0', '--only', only, '--new-tokens', '300', '--memory-requests', '2000', '--alg', 'PS256',
      '--out', out,
    ], 120_000);
    assert.equal(code, 0, output);
    const md = readFileSync(path.join(out, 'filter-bench.md'), 'utf8');
    assert.ok(output.includes(md.trim()), 'the report is printed');

    // The run's description: date, machine, Envoy version, parameters.
    assert.match(md, /^# tollgate filter benchmark$/m);
    assert.match(md, /^\d{4}-\d\d-\d\d \d\d:\d\d UTC · \d+ CPUs \(.+\) · load average at start [\d.]+ [\d.]+ [\d.]+/m);
    assert.match(md, /Envoy \d+\.\d+\.\d+ \(--concurrency 1\) · wrk 1 thread, 16 connections, 1 s per case, median of 1 round · PS256 tokens/);

    // One row per case, no-auth added for each mix, every figure a positive number.
    const tableRows = md.split('\n').filter((l) => /^\| (one token repeated|5 000 distinct tokens in rotation|every token new) \|/.test(l));
    const setupsOf = (mix) => tableRows.filter((l) => l.startsWith(`| ${mix} |`)).map((l) => l.split(' | ')[1]);
    assert.deepEqual(setupsOf('one token repeated'), ['no auth', 'floor filter (host calls only)', 'jwt_authn, cache 1000, same work', 'tollgate (default cache)']);
    assert.deepEqual(setupsOf('5 000 distinct tokens in rotation'), ['no auth', 'tollgate, cache 1000']);
    assert.deepEqual(setupsOf('every token new'), ['no auth', 'jwt_authn, no cache']);
    const json = JSON.parse(readFileSync(path.join(out, 'filter-bench.json'), 'utf8'));
    assert.equal(json.results.length, 8);
    for (const r of json.results) {
      for (const key of ['rps', 'p50', 'p99', 'cpuUs']) assert.ok(Number.isFinite(r[key]) && r[key] > 0, `${r.setup}/${r.mix} ${key}: ${r[key]}`);
      assert.equal(r.non2xx, 0, `${r.setup}/${r.mix}`);
    }
    const tollgate = json.results.find((r) => r.setup === 'tollgate' && r.mix === 'one');
    assert.equal(tollgate.versus, 'jwt_authn-same-work');
    assert.equal(tollgate.cacheHitShare, 1, 'one token repeated is a cache hit every time');

    // The ratio lines and the floor comparison.
    assert.match(md, /^\| one token repeated: tollgate \(default cache\) vs jwt_authn, cache 1000, same work \| \d+\.\d\d× \| \d+\.\d\d× \| ≥ 0\.9× \|$/m);
    assert.match(md, /^\| one token repeated: tollgate \(default cache\) − floor filter \(Envoy CPU µs\/req\) \|  \| [+−]\d+\.\d µs \(\d+\.\d − \d+\.\d\) \| ≤ 1 µs \|$/m);
    assert.match(md, /^\| one token repeated \| tollgate \(default cache\) \|.*\| \d+\.\d\d× \(same work\) \| 100\.0 % \|$/m);

    // Sizes, memory (the gauge may or may not exist yet), and the reuse the 300-token pool forces.
    assert.match(md, /^- tollgate filter: .*tollgate_filter\.wasm [\d ]+ bytes/m);
    assert.match(md, /^- floor filter: .*tollgate_bench_floor\.wasm [\d ]+ bytes/m);
    const gauge = FILTER_MEMORY_GAUGE.replaceAll('.', '\\.');
    assert.match(md, new RegExp(`^- Envoy RSS, tollgate \\(default cache\\), one token repeated: [\\d.]+ MiB at start, [\\d.]+ MiB after [\\d ]+ requests \\((filter memory gauge ${gauge}: absent|${gauge}: \\d+ → \\d+ bytes)\\)$`, 'm'));
    assert.match(md, /^- jwt_authn-no-cache\/new, round 1: \d+ of \d+ requests reused a token \(the pool had 300 unique tokens\)$/m);

    // The chart: well-formed, with the run's description and one bar per case.
    const svg = readFileSync(path.join(out, 'filter-bench.svg'), 'utf8');
    const names = checkXml(svg);
    assert.equal(names[0], 'svg');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+"/);
    assert.ok(svg.includes(escapeXml(json.meta.date)) && svg.includes(`Envoy ${json.meta.envoyVersion}`), 'date and Envoy version in the chart');
    assert.ok(svg.includes(escapeXml(json.meta.machine.cpuModel)), 'machine in the chart');
    const bars = svg.match(/<rect x="\d+" y="\d+" width="\d+" height="18" fill="#[0-9a-f]{6}"\/>/g) ?? [];
    assert.equal(bars.length, 8);
    for (const mix of ['one token repeated', '5 000 distinct tokens in rotation', 'every token new']) assert.ok(svg.includes(mix), mix);
  });
});

describe('benchmark tokens (tokens.mjs)', () => {
  it('every algorithm mints distinct tokens that verify against the fixture keys, with the fixture minter\'s claims', async () => {
    const reference = decodeJwt(await mint());
    for (const alg of Object.keys(ALGORITHMS)) {
      const { mint: benchMint, exp } = minter(alg);
      const [a, b] = [benchMint(1), benchMint(2)];
      assert.notEqual(a, b);
      const jwk = alg === 'PS256' ? ps256Jwk() : IDSVR_JWKS.keys.find((k) => k.kid === KID[alg]);
      const { payload, protectedHeader } = await jwtVerify(a, await importJWK(jwk, alg), { issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt' });
      assert.deepEqual(protectedHeader, { alg, typ: 'at+jwt', kid: jwk.kid });
      assert.deepEqual(Object.keys(payload).sort(), Object.keys(reference).sort());
      assert.equal(payload.sub, 'user-1');
      assert.equal(payload.exp, exp);
      assert.ok(payload.exp - payload.iat <= 900, 'within tollgate\'s default max_lifetime_seconds');
    }
    assert.throws(() => minter('HS256'), /cannot mint HS256 tokens: choose one of ES256, RS256, PS256, EdDSA/);
  });
});

describe('floor filter (filter/bench-floor)', () => {
  let floorWasm;
  before(async () => {
    floorWasm = await buildFloor();
  });

  const withFloor = async (steps, fn) => {
    const upstream = await startEchoUpstream();
    const config = toYaml(bootstrap({ upstreamPort: upstream.port, httpFilters: [tollgateFilter(steps, { wasm: floorWasm, name: 'floor', vmId: 'floor' })] }));
    const envoy = await startEnvoy(config, { name: 'floor-steps' });
    try {
      await fn(envoy.listenerPort('ingress'), envoy, upstream);
    } catch (err) {
      envoy.markFailed();
      throw err;
    } finally {
      await envoy.stop();
      await upstream.close();
    }
  };

  it('the default steps set the three claim headers (over what the client sent) and count three counters', async () => {
    await withFloor('', async (port, envoy) => {
      for (let i = 0; i < 2; i++) {
        const res = await request(port, { path: '/orders', headers: { 'x-user-id': 'spoofed', 'x-token-scope': 'admin' } });
        assert.equal(res.status, 200, res.body);
        assert.equal(res.json.headers['x-user-id'], 'user-1234');
        assert.equal(res.json.headers['x-client-id'], 'mobile-app');
        assert.equal(res.json.headers['x-token-scope'], 'orders:read');
      }
      for (const name of ['floor.cache.hit', 'floor.allowed', 'floor.provider.idsvr.allowed']) {
        assert.equal(await envoy.counter(`wasmcustom.${name}`), 2, name);
      }
    });
  });

  it('a step list in the plugin configuration replaces the default: remove without set drops the header', async () => {
    await withFloor('headers\nremove x-user-id\ncount steps.ran\n', async (port, envoy) => {
      const res = await request(port, { path: '/', headers: { 'x-user-id': 'spoofed', 'x-other': 'kept' } });
      assert.equal(res.status, 200, res.body);
      assert.equal(res.json.headers['x-user-id'], undefined);
      assert.equal(res.json.headers['x-other'], 'kept');
      assert.equal(res.json.headers['x-client-id'], undefined);
      assert.equal(await envoy.counter('wasmcustom.steps.ran'), 1);
      assert.equal(await envoy.counter('wasmcustom.floor.allowed'), undefined);
    });
  });

  it('a bad step list stops the plugin from loading, with the line and the reason', async () => {
    const config = toYaml(bootstrap({ upstreamPort: 9, httpFilters: [tollgateFilter('headers\nsleep 1\n', { wasm: floorWasm, name: 'floor', vmId: 'floor' })] }));
    const { log } = await startEnvoyExpectingFailure(config, { name: 'floor-bad-steps' });
    assert.ok(log.includes('floor: invalid step list: line 2: unknown step "sleep" (expected headers, time, remove, set or count)'), log);
  });
});
