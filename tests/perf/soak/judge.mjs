// The soak's rule for wrong answers, as a pure function of what wrk counted (tested in judge.test.mjs).
//
// Every request carries a class whose prefix says what the only right answer is:
//   valid.*     a token signed with a key the filter knew before the load started       → 200
//   scope.*     a valid token on a route that needs a scope it lacks                     → 403
//   expired.*, forged.*, garbled.*, missing  (expired, bad signature, unknown key, alg none/HS256, wrong
//               audience or issuer, not a JWT, too large, no Authorization header)      → 401
//   malformed.* an Authorization header that is not a bearer token68                     → 400
//   rot         a token of the rotating key in force (published at the second it comes into use) → 200,
//               or 401 while the filter cannot have learnt the key yet: until `graceMs` after the key server
//               first delivered a complete JWKS containing it (it may have been down, slow or answering
//               garbage when the key came into use).
// So 503 is never right here: the filter has keys from before the load on, and an outage must leave it on its
// last good keys (503 `temporarily_unavailable` is only for a provider that never had keys). Any other answer,
// and every request wrk saw fail (connect, read, write, timeout), is a wrong answer.

export const EXPECTED = { valid: 200, scope: 403, expired: 401, forged: 401, garbled: 401, missing: 401, malformed: 400 };

/**
 * counts: Map "class status" → n; rot: Map "k second status" → n; errors: {connect, read, write, timeout};
 * learnedAt(k): ms when the key server first delivered key k, or undefined.
 * Returns { requests, byStatus: {status: n}, fiveXX, wrong, reasons: [{what, n}] }.
 */
export function judge({ counts, rot = new Map(), errors = {}, learnedAt = () => undefined, graceMs = 2000 }) {
  const byStatus = {};
  const reasons = [];
  let requests = 0;
  let fiveXX = 0;
  let wrong = 0;
  const flag = (what, n) => {
    wrong += n;
    reasons.push({ what, n });
  };
  for (const [key, n] of counts) {
    const [cls, statusText] = key.split(' ');
    const status = Number(statusText);
    requests += n;
    byStatus[status] = (byStatus[status] ?? 0) + n;
    if (status >= 500) fiveXX += n;
    if (cls === 'rot') continue;
    const want = EXPECTED[cls.split('.')[0]];
    if (want === undefined) flag(`${cls}: unknown class`, n);
    else if (status !== want) flag(`${cls}: ${status} instead of ${want}`, n);
  }
  for (const [key, n] of rot) {
    const [k, secondText, statusText] = key.split(' ');
    const status = Number(statusText);
    if (status === 200) continue;
    const learned = learnedAt(k);
    const sentFrom = Number(secondText) * 1000;
    const couldNotKnow = learned === undefined || sentFrom < learned + graceMs;
    if (status === 401 && couldNotKnow) continue;
    flag(`rot key ${k} at ${secondText}: ${status}${status === 401 ? ` ${sentFrom - learned} ms after the key was served` : ''}`, n);
  }
  const failed = ['connect', 'read', 'write', 'timeout'].reduce((a, e) => a + (errors[e] ?? 0), 0);
  if (failed > 0) flag(`no answer (${JSON.stringify(errors)})`, failed);
  return { requests, byStatus, fiveXX, wrong, reasons };
}

/** Parse the result file load.lua writes. */
export function parseResults(text) {
  const counts = new Map();
  const rot = new Map();
  let errors = { connect: 0, read: 0, write: 0, timeout: 0 };
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    if (f[0] === 'C') counts.set(`${f[1]} ${f[2]}`, (counts.get(`${f[1]} ${f[2]}`) ?? 0) + Number(f[3]));
    if (f[0] === 'R') rot.set(`${f[1]} ${f[2]} ${f[3]}`, (rot.get(`${f[1]} ${f[2]} ${f[3]}`) ?? 0) + Number(f[4]));
    if (f[0] === 'E') errors = { connect: +f[1], read: +f[2], write: +f[3], timeout: +f[4] };
  }
  return { counts, rot, errors };
}
