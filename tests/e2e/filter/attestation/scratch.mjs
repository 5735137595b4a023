import { startAuthServer } from '../../authz/server.mjs';
import { startTestAttester, attestationPop, instanceKeyPair, HEADERS } from '../../lib/attestation.mjs';
import { dpopSession, startGate, tokenUrl, REDIRECT_URI, asTokenRequests } from './stack.mjs';
import { send, form, FORM, dpopProof } from './client.mjs';
const as = await startAuthServer({ redirectUris: [REDIRECT_URI] });
const attester = await startTestAttester();
const gate = await startGate({ providers: [{ name: 'authz', issuer: as.issuer, audiences: [as.resource], jwks: { inline: as.publicJwks() } }], rules: [{ match: { prefix: '/' }, anonymous: true }] }, { upstreamPort: as.port, stripAttestation: true });
try {
  for (const protocol of ['http1', 'h2c']) {
    const s = await dpopSession(as, gate, { protocol });
    const inst = await instanceKeyPair();
    const att = await attester.issue({ clientId: s.clientId, instanceKey: inst });
    const pop = await attestationPop(inst, { audience: as.issuer });
    for (const chunks of [undefined, ['grant_type=refre', 'sh_token&client_id=' + s.clientId, '&refresh_token=' + s.refreshToken]]) {
      const b = asTokenRequests(as);
      const body = chunks ? undefined : form({ grant_type: 'refresh_token', client_id: s.clientId, refresh_token: s.refreshToken });
      const res = await send(protocol, gate.port, { path: '/token', headers: { 'content-type': FORM, dpop: await dpopProof(s.key, { htu: tokenUrl(gate) }), [HEADERS.attestation]: att, [HEADERS.pop]: pop }, body, chunks });
      console.log(protocol, !!chunks, res.status, res.json?.token_type, res.json?.error, res.json?.error_description, as.lastGrantError(), asTokenRequests(as) - b);
      if (res.json?.refresh_token) s.refreshToken = res.json.refresh_token;
    }
  }
} finally { await gate.stop(); await as.close(); }
