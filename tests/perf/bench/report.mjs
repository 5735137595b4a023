// The benchmark's figures: medians of the rounds, the ratios, and the Markdown report. Pure functions of the
// measurements (no I/O), so the smoke test can check them on fixed input.

/** Name of the filter's memory gauge as Envoy shows it; read when present, reported as absent otherwise. */
export const FILTER_MEMORY_GAUGE = 'wasmcustom.tollgate.prefix.tollgate.vm_memory_bytes';

/** Median of numbers (NaN for none). */
export function median(values) {
  const xs = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/**
 * One case's rounds → its figures (each figure the median of its rounds; counts summed). A DPoP case's rounds also
 * carry the proof figures (storeSize present): `dpop` sums the counts, takes the oldest proof, and the median pool
 * size; null for other cases.
 */
export function summarize(rounds) {
  const m = (key) => median(rounds.map((r) => r[key]));
  const sum = (key) => rounds.reduce((n, r) => n + (r[key] ?? 0), 0);
  const max = (key) => Math.max(...rounds.map((r) => r[key] ?? -Infinity));
  const hits = sum('cacheHits');
  const lookups = hits + sum('cacheMisses');
  const dpop = rounds.length > 0 && rounds.every((r) => r.storeSize) ? {
    poolSize: m('poolSize'),
    replayed: sum('replayed'),
    proofHost: sum('proofHost'),
    proofWasm: sum('proofWasm'),
    storeSize: max('storeSize'),
    storeFull: sum('storeFull'),
    proofAge: max('proofAge'),
  } : null;
  return {
    rps: m('rps'),
    p50: m('p50'),
    p99: m('p99'),
    cpuUs: m('cpuUs'),
    requests: sum('requests'),
    non2xx: sum('non2xx'),
    reused: sum('reused'),
    cacheHitShare: lookups > 0 ? hits / lookups : null,
    socketErrors: rounds.map((r) => r.socketErrors).filter(Boolean),
    rounds: rounds.length,
    dpop,
  };
}

/** The comparisons the benchmark exists for, with the goals they are read against. */
export const COMPARISONS = [
  { mix: 'one', setup: 'tollgate', versus: 'jwt_authn-same-work', goalText: '≥ 0.9×' },
  { mix: '5000', setup: 'tollgate', versus: 'jwt_authn-cache-1000', goalText: '≥ 2.5×' },
  { mix: '5000', setup: 'tollgate-cache-1000', versus: 'jwt_authn-cache-1000', goalText: 'equal cache size' },
  { mix: 'new', setup: 'tollgate', versus: 'jwt_authn-no-cache', goalText: '≥ 1.0× (ES256, RS256)' },
];

/** The floor comparison: tollgate's CPU per request above the floor filter's, one token repeated. */
export const FLOOR_GOAL_US = 2;

const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US').replaceAll(',', ' ') : '—');
const fmt = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : '—');
export const ratioText = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '—');
const signed = (x) => (Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}` : '—');

/**
 * Rows of the report: `cases` is [{ setup, mix, figures }] in run order (setup/mix: the objects of the harness:
 * setup { id, label, versus: { mix: setupId } }, mix { id, label }). Adds per row: vsNoAuth (req/s ratio to no auth
 * under the same mix), and for rows with a `versus` setup present: vsJwt (req/s ratio) and cpuVsJwt (the jwt_authn
 * CPU per request ÷ this row's: above 1 means cheaper than jwt_authn).
 */
export function rows(cases) {
  const find = (setupId, mixId) => cases.find((c) => c.setup.id === setupId && c.mix.id === mixId);
  return cases.map((c) => {
    const base = find('no-auth', c.mix.id);
    const versusId = c.setup.versus?.[c.mix.id];
    const versus = versusId ? find(versusId, c.mix.id) : undefined;
    return {
      ...c,
      vsNoAuth: base && base !== c ? c.figures.rps / base.figures.rps : NaN,
      versus,
      vsJwt: versus ? c.figures.rps / versus.figures.rps : NaN,
      cpuVsJwt: versus ? versus.figures.cpuUs / c.figures.cpuUs : NaN,
    };
  });
}

/** The comparison lines (targets): those whose two cases were both run. */
export function comparisons(cases) {
  const find = (setupId, mixId) => cases.find((c) => c.setup.id === setupId && c.mix.id === mixId);
  const out = [];
  for (const k of COMPARISONS) {
    const a = find(k.setup, k.mix);
    const b = find(k.versus, k.mix);
    if (!a || !b) continue;
    out.push({
      text: `${a.mix.label}: ${a.setup.label} vs ${b.setup.label}`,
      byRps: a.figures.rps / b.figures.rps,
      byCpu: b.figures.cpuUs / a.figures.cpuUs,
      goalText: k.goalText,
    });
  }
  return out;
}

/** tollgate − floor (and the anonymous route − floor) in Envoy CPU µs per request, one token repeated. */
export function floorDeltas(cases) {
  const floor = cases.find((c) => c.setup.id === 'floor' && c.mix.id === 'one');
  if (!floor) return [];
  return cases
    .filter((c) => c.mix.id === 'one' && c.setup.family === 'tollgate')
    .map((c) => ({ label: c.setup.label, deltaUs: c.figures.cpuUs - floor.figures.cpuUs, floorUs: floor.figures.cpuUs, cpuUs: c.figures.cpuUs }));
}

/** The case whose CPU per request a DPoP case is read against: one (unbound) token repeated, a cache hit. */
export const DPOP_REFERENCE = { setup: 'tollgate', mix: 'one' };

/**
 * The cost of the DPoP check: each DPoP case's Envoy CPU per request above tollgate's with one token repeated (both
 * a verified-token cache hit; the DPoP case also checks a new proof and remembers it), and its req/s ratio to it.
 */
export function dpopDeltas(cases) {
  const ref = cases.find((c) => c.setup.id === DPOP_REFERENCE.setup && c.mix.id === DPOP_REFERENCE.mix);
  if (!ref) return [];
  return cases
    .filter((c) => c.setup.dpop && c.mix.proofAlg)
    .map((c) => ({
      label: `the DPoP check, ${c.mix.proofAlg} proofs: ${c.setup.label} − ${ref.setup.label}, ${ref.mix.label}`,
      deltaUs: c.figures.cpuUs - ref.figures.cpuUs,
      cpuUs: c.figures.cpuUs,
      refUs: ref.figures.cpuUs,
      byRps: c.figures.rps / ref.figures.rps,
    }));
}

/** A Markdown table from a header row and body rows (cells as strings; the first `leftColumns` left-aligned). */
export function table(header, body, leftColumns = 2) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  const rule = `|${header.map((_, i) => (i < leftColumns ? '---' : '--:')).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

/** The one-line description of where and how the figures were taken. */
export function describeRun(meta) {
  const load = meta.loadStart.join(' ');
  return [
    `${meta.date} · ${meta.machine.nproc} CPUs (${meta.machine.cpuModel}) · load average at start ${load}${meta.loaded ? ' (a loaded machine)' : ''}`,
    `Envoy ${meta.envoyVersion} (--concurrency 1) · wrk 1 thread, ${meta.connections} connections, ${meta.duration} s per case, ` +
      `median of ${meta.rounds} round${meta.rounds === 1 ? '' : 's'} · ${meta.alg} tokens · direct-response route on loopback`,
  ];
}

/** The whole Markdown report. */
export function markdown(meta, cases, extras) {
  const all = rows(cases);
  const out = [];
  out.push('# tollgate filter benchmark', '');
  for (const line of describeRun(meta)) out.push(`${line}  `);
  if (meta.loaded) {
    out.push('', `**Figures from a loaded machine** (load average ${meta.loadStart[0]} on ${meta.machine.nproc} CPUs at start, ` +
      `${meta.loadEnd?.[0] ?? '?'} at the end): compare ratios within this run, not absolute figures across runs.`);
  }
  out.push('');
  const header = ['mix', 'setup', 'req/s', 'p50 ms', 'p99 ms', 'Envoy CPU µs/req', 'vs no auth', 'vs jwt_authn', 'cache hits'];
  const body = all.map((r) => [
    r.mix.label,
    r.setup.label,
    fmtInt(r.figures.rps),
    fmt(r.figures.p50, 2),
    fmt(r.figures.p99, 2),
    fmt(r.figures.cpuUs, 1),
    ratioText(r.vsNoAuth),
    r.versus ? `${ratioText(r.vsJwt)} (${r.versus.setup.short})` : '',
    r.figures.cacheHitShare === null ? '—' : `${(r.figures.cacheHitShare * 100).toFixed(1)} %`,
  ]);
  out.push(table(header, body), '');
  out.push('"vs no auth" and "vs jwt_authn": ratio of requests per second under the same mix (above 1: faster). ' +
    'CPU: Envoy\'s user + system time during the measurement ÷ requests completed. Cache hits: the filter\'s own ' +
    'verified-token cache counters during the measurement.', '');

  const comps = comparisons(cases);
  const deltas = floorDeltas(cases);
  const dpop = dpopDeltas(cases);
  if (comps.length || deltas.length || dpop.length) {
    out.push('## Ratios', '');
    const cbody = comps.map((c) => [c.text, ratioText(c.byRps), ratioText(c.byCpu), c.goalText]);
    for (const d of deltas) {
      cbody.push([`one token repeated: ${d.label} − floor filter (Envoy CPU µs/req)`, '',
        `${signed(d.deltaUs)} µs (${fmt(d.cpuUs, 1)} − ${fmt(d.floorUs, 1)})`, `≤ ${FLOOR_GOAL_US} µs`]);
    }
    for (const d of dpop) {
      cbody.push([`${d.label} (Envoy CPU µs/req)`, ratioText(d.byRps),
        `${signed(d.deltaUs)} µs (${fmt(d.cpuUs, 1)} − ${fmt(d.refUs, 1)})`, '—']);
    }
    out.push(table(['comparison', 'by req/s', 'by Envoy CPU per request', 'goal'], cbody, 1), '');
    out.push('"by Envoy CPU per request": jwt_authn\'s CPU per request ÷ tollgate\'s (above 1: tollgate is cheaper); ' +
      'for a difference, the first case\'s CPU per request minus the second\'s.', '');
  }

  const proofCases = cases.filter((c) => c.figures.dpop);
  if (proofCases.length) {
    out.push('## DPoP proofs', '');
    const dbody = proofCases.map((c) => {
      const d = c.figures.dpop;
      return [
        c.mix.label,
        c.setup.label,
        fmtInt(d.poolSize),
        fmtInt(c.figures.reused),
        fmtInt(d.replayed),
        `${fmtInt(d.proofHost)} / ${fmtInt(d.proofWasm)}`,
        fmtInt(d.storeSize),
        fmtInt(d.storeFull),
        `${d.proofAge} s`,
      ];
    });
    out.push(table(['mix', 'setup', 'proofs made per round (median)', 'requests that reused a proof', 'refused as replayed',
      'proof signatures by Envoy / in Wasm', 'replay store size', 'refused as replay store full',
      'oldest proof at the end'], dbody), '');
    out.push('Counts are summed over the rounds; the oldest proof is the largest of any round. Each round\'s proofs are made right before it for that Envoy, each with ' +
      'its own `jti`, and sent once (warm-up first, the measurement after it); a proof sent twice is refused (a non-2xx ' +
      'answer, which makes the figure invalid). Signatures: the filter\'s counters during the measurement (the token is ' +
      'a cache hit, so these are the proofs\'). Replay store: a proof whose bucket is full of unexpired proofs is ' +
      'refused (503 dpop_replay_store_full) rather than an old one forgotten; any such refusal makes the figure invalid.', '');
  }

  out.push('## Size and memory', '');
  for (const line of extras.sizes) out.push(`- ${line}`);
  for (const line of extras.memory) out.push(`- ${line}`);
  out.push('');
  if (extras.notes.length) {
    out.push('## Notes', '');
    for (const line of extras.notes) out.push(`- ${line}`);
    out.push('');
  }
  out.push(`Command: \`${meta.command}\` (${meta.elapsed}).`, '');
  return out.join('\n');
}
