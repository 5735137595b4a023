// DPoP `htu` against configured origins, with two APIs behind two real Envoys: API A (`dpop.origins`
// ["https://a.example"]) and API B (["https://b.example"]). A proof made for A must not be usable at B by sending it
// with `Host: a.example`: with origins set, the proof's htu must name one of them (scheme and host case-insensitive,
// default port dropped) and the request's canonical path; the request's :authority/Host and :scheme are not
// consulted. Without origins the filter falls back to comparing with :scheme and :authority (documented): the same
// cross-API proof is then accepted, which the last describe shows. Proofs are made by the `dpop` npm package.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dpopKeyPair, proof, thumbprint } from '../lib/dpop.mjs';
import { mint } from '../fixtures/tokens.mjs';
import { REALM, counterDelta, scenarioConfig, startTollgate } from './harness.mjs';
import { REQUEST_ERRORS, checkOutcome, sendRaw } from './attacks.mjs';

const ALGS = 'ES256 EdDSA RS256 PS256';

function apiConfig(origins) {
  const base = scenarioConfig();
  return scenarioConfig({
    providers: [{ ...base.providers[0], ...(origins ? { dpop: { origins } } : {}) }, base.providers[1]],
    rules: [
      { match: { prefix: '/orders', methods: ['GET'] }, scopes: ['orders:read'] },
      { match: { prefix: '/' } },
    ],
  });
}

const wrongUri = {
  status: 401, error: 'invalid_dpop_proof', reason: 'dpop_wrong_uri',
  wwwAuthenticate: `DPoP realm="${REALM}", error="invalid_dpop_proof", error_description="${REQUEST_ERRORS.dpop_wrong_uri}", algs="${ALGS}"`,
};

let key;
let token;
before(async () => {
  key = await dpopKeyPair('ES256');
  token = await mint({ scope: 'orders:read', claims: { cnf: { jkt: await thumbprint(key) } } });
});

/** GET `target` on `tg` over `proto` with a fresh proof for `htu`; `host` sets Host (HTTP/1.1) or :authority (h2). */
async function sendProof(tg, proto, { target = '/orders', htu, host, scheme }) {
  const p = await proof(key, { htm: 'GET', htu, accessToken: token });
  const headers = [['authorization', `DPoP ${token}`], ['dpop', p]];
  if (host && proto === 'h1') headers.push(['host', host]);
  const { delta, result } = await counterDelta(tg.envoy, () => sendRaw(proto, tg.port, {
    target, headers, authority: proto === 'h2' ? host : undefined, scheme,
  }));
  return { res: result, delta };
}

describe('DPoP htu origins: two APIs, each with its own origins', () => {
  let a;
  let b;
  before(async () => {
    a = await startTollgate(apiConfig(['https://a.example']), { name: 'tollgate-origins-a' });
    b = await startTollgate(apiConfig(['https://b.example']), { name: 'tollgate-origins-b' });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  for (const proto of ['h1', 'h2']) {
    it(`${proto}: a proof for https://a.example/orders is refused by B even with Host: a.example, and accepted by A`, async () => {
      const failures = [];
      const cases = [
        ['B, Host: a.example', b, { htu: 'https://a.example/orders', host: 'a.example' }, wrongUri],
        ['B, Host: a.example, :scheme https', b, { htu: 'https://a.example/orders', host: 'a.example', scheme: 'https' }, wrongUri],
        ['A (Host: 127.0.0.1:<port>, scheme http: not consulted)', a, { htu: 'https://a.example/orders' }, { upstream: '/orders' }],
        ['A, Host: b.example (not consulted)', a, { htu: 'https://a.example/orders', host: 'b.example' }, { upstream: '/orders' }],
        ['A, htu https://A.EXAMPLE:443/orders (case, default port)', a, { htu: 'https://A.EXAMPLE:443/orders' }, { upstream: '/orders' }],
        ['A, htu with a query', a, { htu: 'https://a.example/orders?page=2' }, { upstream: '/orders' }],
        ['A, htu of another scheme (http://a.example)', a, { htu: 'http://a.example/orders' }, wrongUri],
        ['A, htu of another port (https://a.example:8443)', a, { htu: 'https://a.example:8443/orders' }, wrongUri],
        ['A, htu of another path', a, { htu: 'https://a.example/invoices' }, wrongUri],
        ['A, htu of B', a, { htu: 'https://b.example/orders' }, wrongUri],
        // the old comparison with the request's own scheme and authority would accept this one
        ['A, htu naming the request\'s own authority', a, { htu: 'http://127.0.0.1:{port}/orders' }, wrongUri],
        ['B, htu https://b.example/orders', b, { htu: 'https://b.example/orders' }, { upstream: '/orders' }],
      ];
      for (const [name, tg, opts, want] of cases) {
        const { res, delta } = await sendProof(tg, proto, { ...opts, htu: opts.htu.replace('{port}', tg.port) });
        try {
          checkOutcome(`${proto} ${name}`, res, delta, want);
        } catch (err) {
          failures.push(err.message);
        }
      }
      assert.deepEqual(failures, []);
    });
  }
});

describe('DPoP htu without origins: the documented fallback to :scheme and :authority', () => {
  let b0;
  before(async () => {
    b0 = await startTollgate(apiConfig(undefined), { name: 'tollgate-origins-fallback' });
  });
  after(async () => b0?.stop());

  it('h2: B without origins accepts the proof made for https://a.example/orders sent with :authority a.example, :scheme https', async () => {
    const { res, delta } = await sendProof(b0, 'h2', { htu: 'https://a.example/orders', host: 'a.example', scheme: 'https' });
    checkOutcome('B without origins', res, delta, { upstream: '/orders' });
  });

  it('h1: B without origins compares with Host: a proof for http://a.example/orders sent with Host: a.example passes', async () => {
    const { res, delta } = await sendProof(b0, 'h1', { htu: 'http://a.example/orders', host: 'a.example' });
    checkOutcome('B without origins', res, delta, { upstream: '/orders' });
  });
});
