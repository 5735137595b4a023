// The soak's wrong-answer rule (judge.mjs): every right answer passes, every wrong one is counted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { judge, parseResults } from './judge.mjs';

describe('soak judge', () => {
  it('counts nothing wrong when every class gets its answer', () => {
    const counts = new Map([['valid.es256 200', 10], ['forged.none 401', 3], ['scope.admin 403', 2], ['malformed.chars 400', 1], ['missing 401', 4], ['rot 200', 5]]);
    const r = judge({ counts });
    assert.deepEqual([r.requests, r.wrong, r.fiveXX], [25, 0, 0]);
    assert.deepEqual(r.byStatus, { 200: 15, 401: 7, 403: 2, 400: 1 });
  });

  it('an invalid token accepted, a valid one refused, a 503 and a 5xx are wrong', () => {
    const counts = new Map([['forged.signature 200', 1], ['valid.eddsa 401', 2], ['valid.es256 503', 3], ['expired.rs256 500', 4]]);
    const r = judge({ counts });
    assert.equal(r.wrong, 10);
    assert.equal(r.fiveXX, 7);
    assert.deepEqual(r.reasons.map((x) => x.what), [
      'forged.signature: 200 instead of 401',
      'valid.eddsa: 401 instead of 200',
      'valid.es256: 503 instead of 200',
      'expired.rs256: 500 instead of 401',
    ]);
  });

  it('a rotating key may get 401 only until the filter can have learnt it', () => {
    const learnedAt = (k) => ({ 1: 10_000, 2: undefined })[k];
    const rot = new Map([
      ['1 9 401', 5], // before the key was served: fine
      ['1 11 401', 6], // 1 s after: within the grace
      ['1 12 401', 7], // 2 s after: wrong
      ['2 50 401', 8], // never served (server down): fine
      ['1 30 200', 9],
      ['1 30 503', 1], // never right
    ]);
    const r = judge({ counts: new Map(), rot, learnedAt, graceMs: 2000 });
    assert.equal(r.wrong, 8);
    assert.match(r.reasons[0].what, /^rot key 1 at 12: 401 2000 ms after/);
  });

  it('failed requests are wrong answers', () => {
    assert.equal(judge({ counts: new Map(), errors: { connect: 0, read: 2, write: 0, timeout: 1 } }).wrong, 3);
  });

  it('parses what load.lua writes, adding up the threads', () => {
    const p = parseResults('C valid.es256 200 3\nC valid.es256 200 4\nR 1 17 401 2\nE 0 1 0 0\n');
    assert.equal(p.counts.get('valid.es256 200'), 7);
    assert.equal(p.rot.get('1 17 401'), 2);
    assert.deepEqual(p.errors, { connect: 0, read: 1, write: 0, timeout: 0 });
  });
});
