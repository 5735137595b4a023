// Smoke test of the benchmark harness (filter-bench.mjs) and its floor filter: a run of a few 1-second cases writes a
// well-formed Markdown table, SVG chart and JSON, with the ratio lines, the floor comparison, the DPoP check's cost
// and proof table, the memory line and the token-reuse note; a DPoP case whose proofs run out shows the replays as
// non-2xx answers and exits 1; bad arguments are refused with their reason; the wrk script sends each DPoP proof once
// from where a warm-up stopped; the bench's proofs have the `dpop` package's shape; the floor filter makes the calls its step list names, and refuses a bad list. No
// assertion on any timing figure (only that each figure is a positive number).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireWasm } from '../../e2e/lib/paths.mjs';
import { startEnvoyExpectingFailure, withEnvoy } from '../../e2e/lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter } from '../../e2e/lib/envoy-config.mjs';
import { request } from '../../e2e/lib/http.mjs';
import { runToCompletion } from '../../e2e/lib/proc.mjs';
import { startEchoUpstream } from '../../e2e/lib/upstream.mjs';
import { buildFloor } from './floor.mjs';
import { escapeXml } from './svg.mjs';
import { FILTER_MEMORY_GAUGE } from './report.mjs';
import { ALGORITHMS, minter, ps256Jwk } from './tokens.mjs';
import {
  PROOF_ALGORITHMS, boundToken, proofKey, proofMinter,
} from './proofs.mjs';
import { AUDIENCE, IDSVR_JWKS, ISSUER, KID, mint } from '../../e2e/fixtures/tokens.mjs';
import { ath as referenceAth, thumbprint as referenceThumbprint } from '../../e2e/lib/dpop.mjs';
import { dpop, jose } from '../../e2e/lib/packages.mjs';

const { generateProof } = dpop;
const { compactVerify, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } = jose;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const BENCH = path.join(HERE, 'filter-bench.mjs');
const WRK = process.env.WRK_BIN || '/usr/bin/wrk';
const CONNECTIONS = 16;
const ES256_MIX = 'DPoP: one bound token, every ES256 proof new';

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
      [['--dpop-proofs', '0'], 'filter-bench.mjs: --dpop-proofs must be a positive integer (got 0)'],
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
  // accepting the tokens (and refusing a request without one) shows it was added to both products' JWKS (the DPoP
  // setup's bound token is a PS256 token too).
  it('a quick run writes the table, the ratios, the DPoP proofs, the memory line, the reuse note, the chart and the JSON', async () => {
    requireWasm();
    const only = 'floor/one|^tollgate/one|jwt_authn-same-work/one|tollgate-cache-1000/5000|jwt_authn-no-cache/new|tollgate-dpop/dpop$';
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
    // The main table's two rows, then the DPoP proofs table's one.
    const dpopRows = md.split('\n').filter((l) => l.startsWith(`| ${ES256_MIX} |`));
    assert.deepEqual(dpopRows.map((l) => l.split(' | ')[1]), ['no auth', 'tollgate, DPoP-bound token', 'tollgate, DPoP-bound token']);
    const json = JSON.parse(readFileSync(path.join(out, 'filter-bench.json'), 'utf8'));
    assert.equal(json.results.length, 10);
    for (const r of json.results) {
      for (const key of ['rps', 'p50', 'p99', 'cpuUs']) assert.ok(Number.isFinite(r[key]) && r[key] > 0, `${r.setup}/${r.mix} ${key}: ${r[key]}`);
      assert.equal(r.non2xx, 0, `${r.setup}/${r.mix}`);
    }
    const tollgate = json.results.find((r) => r.setup === 'tollgate' && r.mix === 'one');
    assert.equal(tollgate.versus, 'jwt_authn-same-work');
    assert.equal(tollgate.cacheHitShare, 1, 'one token repeated is a cache hit every time');

    // The DPoP case: the bound token is a cache hit every time, every request checked one new proof (ES256: by Envoy's
    // verify_signature), none was sent twice, no proof was refused as replay store full, the proofs were fresh.
    const dpop = json.results.find((r) => r.setup === 'tollgate-dpop' && r.mix === 'dpop');
    assert.equal(dpop.cacheHitShare, 1);
    assert.equal(dpop.reused, 0);
    assert.equal(dpop.dpop.replayed, 0);
    assert.equal(dpop.dpop.proofWasm, 0);
    const { requests } = dpop.measurements[0];
    assert.ok(dpop.dpop.proofHost >= requests && dpop.dpop.proofHost <= requests + CONNECTIONS, `${dpop.dpop.proofHost} proofs for ${requests} requests`);
    assert.equal(dpop.dpop.storeSize, 1_048_576);
    assert.equal(dpop.dpop.storeFull, 0);
    assert.ok(dpop.dpop.proofAge >= 0 && dpop.dpop.proofAge < 120, `oldest proof ${dpop.dpop.proofAge} s`);
    assert.ok(dpop.dpop.poolSize > requests, `${dpop.dpop.poolSize} proofs for ${requests} requests`);
    assert.equal(json.results.find((r) => r.setup === 'no-auth' && r.mix === 'dpop').dpop, null);
    assert.match(md, /^\| the DPoP check, ES256 proofs: tollgate, DPoP-bound token − tollgate \(default cache\), one token repeated \(Envoy CPU µs\/req\) \| \d+\.\d\d× \| [+−]\d+\.\d µs \(\d+\.\d − \d+\.\d\) \| — \|$/m);
    assert.match(md, /^## DPoP proofs$/m);
    assert.match(md, new RegExp(`^\\| ${ES256_MIX} \\| tollgate, DPoP-bound token \\| [\\d ]+ \\| 0 \\| 0 \\| [\\d ]+ / 0 \\| 1 048 576 \\| 0 \\| \\d+ s \\|$`, 'm'));
    assert.ok(!/this figure is not/.test(md), md);

    // The ratio lines and the floor comparison.
    assert.match(md, /^\| one token repeated: tollgate \(default cache\) vs jwt_authn, cache 1000, same work \| \d+\.\d\d× \| \d+\.\d\d× \| ≥ 0\.9× \|$/m);
    assert.match(md, /^\| one token repeated: tollgate \(default cache\) − floor filter \(Envoy CPU µs\/req\) \|  \| [+−]\d+\.\d µs \(\d+\.\d − \d+\.\d\) \| ≤ 2 µs \|$/m);
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
    assert.equal(bars.length, 10);
    for (const mix of ['one token repeated', '5 000 distinct tokens in rotation', 'every token new', ES256_MIX]) assert.ok(svg.includes(mix), mix);
  });

  // What makes a DPoP figure invalid must show: a pool too small for the case is sent round again, the filter refuses
  // every proof it sees a second time (non-2xx), and the run says so and exits 1.
  it('a DPoP case that outlasts its proofs reports the reuse and the replays refused, and exits 1', async () => {
    requireWasm();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-smoke-replay-'));
    try {
      const { code, output } = await bench([
        '--quick', '--duration', '1', '--warmup', '0', '--only', 'tollgate-dpop/dpop$', '--dpop-proofs', '300', '--memory-requests', '0', '--out', dir,
      ], 120_000);
      assert.equal(code, 1, output);
      assert.ok(output.includes('filter-bench.mjs: non-2xx answers in tollgate-dpop/dpop: those figures are not valid\n'), output);
      assert.ok(output.includes('filter-bench.mjs: requests reused a DPoP proof in tollgate-dpop/dpop: those figures are not valid\n'), output);
      const md = readFileSync(path.join(dir, 'filter-bench.md'), 'utf8');
      const note = /^- tollgate-dpop\/dpop, round 1: (\d+) of (\d+) requests reused a proof \(the pool had 300 proofs; the warm-up had sent 0\): this figure is not valid$/m.exec(md);
      assert.ok(note, md);
      const r = JSON.parse(readFileSync(path.join(dir, 'filter-bench.json'), 'utf8')).results.find((x) => x.setup === 'tollgate-dpop');
      assert.equal(r.reused, Number(note[1]));
      assert.equal(r.reused, r.measurements[0].issued - 300);
      // Every answered reuse was refused as a replay; a request still in flight when wrk stopped may not have been.
      assert.ok(r.non2xx > 0 && r.non2xx <= r.dpop.replayed && r.dpop.replayed <= r.reused, JSON.stringify(r));
      assert.ok(r.reused - r.dpop.replayed <= CONNECTIONS, JSON.stringify(r));
      assert.match(md, new RegExp(`^- tollgate-dpop/dpop, round 1: ${r.non2xx} non-2xx answers: this figure is not valid$`, 'm'));
      assert.match(md, new RegExp(`^\\| ${ES256_MIX} \\| tollgate, DPoP-bound token \\| 300 \\| [\\d ]+ \\| [\\d ]+ \\| `, 'm'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

describe('benchmark DPoP proofs (proofs.mjs, tokens.lua)', () => {
  // The `dpop` package signs with the bench's own key here, so the two proofs must be alike but for iat, jti and the
  // signature.
  it('the bench proofs have the dpop package\'s header and claims, verify with jose, and name the key the token is bound to', async () => {
    const htu = 'http://127.0.0.1:10000/';
    for (const alg of Object.keys(PROOF_ALGORITHMS)) {
      const key = proofKey(alg);
      const { token, exp } = boundToken('ES256', key);
      const claims = decodeJwt(token);
      assert.deepEqual(claims.cnf, { jkt: key.jkt });
      assert.equal(claims.exp, exp);
      await jwtVerify(token, await importJWK(IDSVR_JWKS.keys.find((k) => k.kid === KID.ES256), 'ES256'), { issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt' });

      const webAlg = alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' };
      const keyPair = {
        publicKey: await webcrypto.subtle.importKey('jwk', key.jwk, webAlg, true, ['verify']),
        privateKey: await webcrypto.subtle.importKey('jwk', key.privateKey.export({ format: 'jwk' }), webAlg, false, ['sign']),
      };
      assert.equal(await referenceThumbprint(keyPair), key.jkt, `${alg}: the thumbprint as the dpop package computes it`);
      const reference = await generateProof(keyPair, htu, 'GET', undefined, token);
      const { proof, jti } = proofMinter(key, { htm: 'GET', htu, accessToken: token }).mint();
      assert.deepEqual(decodeProtectedHeader(proof), decodeProtectedHeader(reference));
      assert.deepEqual(Object.keys(decodeJwt(proof)), Object.keys(decodeJwt(reference)));
      const { payload } = await compactVerify(proof, await importJWK(key.jwk, key.header));
      const got = JSON.parse(new TextDecoder().decode(payload));
      assert.deepEqual({ ...got, iat: 0 }, { iat: 0, jti, htm: 'GET', htu, ath: referenceAth(token) });
      assert.ok(Math.abs(got.iat - Date.now() / 1000) < 5);
      assert.notEqual(proofMinter(key, { htm: 'GET', htu, accessToken: token }).mint().jti, jti);
    }
    assert.throws(() => proofKey('RS256'), /no DPoP proof key for RS256: choose one of ES256, EdDSA/);
  });

  it('tokens.lua with DPOP_TOKEN_FILE sends the token as DPoP and each proof once, from TOKENS_START on, then starts over', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-lua-'));
    const upstream = await startEchoUpstream();
    try {
      const lines = Array.from({ length: 50 }, (_, i) => `proof-${i + 1}`);
      writeFileSync(path.join(dir, 'proofs.txt'), `${lines.join('\n')}\n`);
      writeFileSync(path.join(dir, 'token.txt'), 'the-token\n');
      const env = {
        ...process.env, TOKENS_FILE: path.join(dir, 'proofs.txt'), TOKENS_MODE: 'once', TOKENS_START: '10', DPOP_TOKEN_FILE: path.join(dir, 'token.txt'),
      };
      const { code, output } = await runToCompletion(WRK, ['-t1', '-c1', '-d1s', '-s', path.join(HERE, 'tokens.lua'), `http://127.0.0.1:${upstream.port}/`], { env, timeoutMs: 30_000 });
      assert.equal(code, 0, output);
      // wrk calls request() once before it connects, to check the request (line 11 here): counted, never sent.
      const seen = upstream.seen.map((r) => r.headers.dpop);
      assert.ok(seen.length > 100, `${seen.length} requests`);
      assert.deepEqual(seen.slice(0, 50), [...lines.slice(11), ...lines.slice(0, 11)]);
      assert.ok(upstream.seen.every((r) => r.headers.authorization === 'DPoP the-token'));
      const m = /bench-tokens: mode=once issued=(\d+) restarts=(\d+)/.exec(output);
      assert.ok(m, output);
      // The check's call, then one per request sent; with one connection, at most one more still in flight.
      assert.ok(Number(m[1]) >= seen.length + 1 && Number(m[1]) <= seen.length + 2, `${m[1]} issued, ${seen.length} seen`);
      assert.equal(Number(m[2]), Math.floor((10 + Number(m[1]) - 1) / 50));

      const rotate = await runToCompletion(WRK, ['-t1', '-c1', '-d1s', '-s', path.join(HERE, 'tokens.lua'), `http://127.0.0.1:${upstream.port}/`], { env: { ...env, TOKENS_MODE: 'rotate' }, timeoutMs: 30_000 });
      // wrk prints a script error and goes on without the script; filter-bench.mjs stops on the missing done() line.
      assert.match(rotate.output, /tokens\.lua:\d+: DPOP_TOKEN_FILE needs TOKENS_MODE=once/);
      assert.doesNotMatch(rotate.output, /bench-tokens:/);
    } finally {
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('floor filter (tests/perf/bench/floor)', () => {
  let floorWasm;
  before(async () => {
    floorWasm = await buildFloor();
  });

  const withFloor = (steps, fn) => withEnvoy(
    (upstreamPort) => toYaml(bootstrap({ upstreamPort, httpFilters: [tollgateFilter(steps, { wasm: floorWasm, name: 'floor', vmId: 'floor' })] })),
    { name: 'floor-steps' },
    (envoy, upstream) => fn(envoy.listenerPort('ingress'), envoy, upstream),
  );

  it('the default steps set the three claim headers (over what the client sent) and count nothing (tollgate flushes its counters once a second)', async () => {
    await withFloor('', async (port, envoy) => {
      for (let i = 0; i < 2; i++) {
        const res = await request(port, { path: '/orders', headers: { 'x-user-id': 'spoofed', 'x-token-scope': 'admin' } });
        assert.equal(res.status, 200, res.body);
        assert.equal(res.json.headers['x-user-id'], 'user-1234');
        assert.equal(res.json.headers['x-client-id'], 'mobile-app');
        assert.equal(res.json.headers['x-token-scope'], 'orders:read');
      }
      for (const name of ['floor.cache.hit', 'floor.allowed']) {
        assert.equal(await envoy.counter(`wasmcustom.${name}`), undefined, name);
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
    assert.ok(log.includes('floor: invalid step list: line 2: unknown step "sleep" (expected headers, header, time, remove, set, count, property, shared or noop)'), log);
  });
});
