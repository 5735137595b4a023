// Protected resource metadata (RFC 9728) end to end: the shipped example envoy/examples/nonce in the real Envoy,
// the document fetched and validated by an independent RFC 9728 client (oauth4webapi's resourceDiscoveryRequest +
// processResourceDiscoveryResponse, which checks that `resource` is the resource asked about), its contents checked
// against what the example's configuration says, and the `resource_metadata` link of a 401 followed, over HTTP/1.1
// and h2c. The document is answered by the filter: the example's upstream (a direct response) never sees it.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';

import { runReadmeBlock } from '../lib/examples.mjs';
import { request } from '../lib/http.mjs';
import { h2Request } from '../lib/h2.mjs';
import { API_BODY, REALM, oneReplicaPerFile } from './nonce-example.mjs';

let as;
let envoy;
let port;
const test = oneReplicaPerFile('example-nonce-metadata', (s) => ({ as, envoy, port } = s));

const resource = () => `http://127.0.0.1:${port}`;
const WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** What the example's configuration says, as the document must publish it. */
const expected = () => ({
  resource: resource(),
  authorization_servers: [as.issuer],
  // Every scope a rule names, sorted.
  scopes_supported: ['orders:read', 'orders:write'],
  // The provider reads tokens from the Authorization header only (the default source).
  bearer_methods_supported: ['header'],
  dpop_signing_alg_values_supported: ['ES256', 'EdDSA', 'RS256', 'PS256'],
  // /payments takes bearer tokens (binding "any"): DPoP is not required on every route.
  dpop_bound_access_tokens_required: false,
  tls_client_certificate_bound_access_tokens: false,
  resource_name: 'tollgate example API',
});

describe('protected resource metadata', () => {
  test('oauth4webapi discovers the document and accepts it for the resource', async () => {
    const res = await oauth.resourceDiscoveryRequest(new URL(resource()), { [oauth.allowInsecureRequests]: true });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=3600');
    assert.match(res.headers.get('content-type'), /^application\/json\b/);
    const json = await oauth.processResourceDiscoveryResponse(new URL(resource()), res);
    assert.deepEqual(json, expected());
  });

  test('a 401 names the document, and following the link gives the same document (HTTP/1.1 and h2c)', async () => {
    const denied = await request(port, { path: '/orders' });
    assert.equal(denied.status, 401);
    const url = `${resource()}${WELL_KNOWN}`;
    assert.equal(denied.headers['www-authenticate'], `DPoP realm="${REALM}", algs="ES256 EdDSA RS256 PS256", resource_metadata="${url}"`);
    const link = /resource_metadata="([^"]+)"/.exec(denied.headers['www-authenticate'])[1];
    const followed = await request(port, { path: new URL(link).pathname });
    assert.equal(followed.status, 200);
    assert.notEqual(followed.body, API_BODY, 'answered by the filter, not the upstream');
    assert.deepEqual(followed.json, expected());
    const h2 = await h2Request(port, { path: new URL(link).pathname });
    assert.equal(h2.status, 200);
    assert.equal(h2.headers['cache-control'], 'public, max-age=3600');
    assert.deepEqual(h2.json, expected());
    const h2Denied = await h2Request(port, { path: '/orders' });
    assert.equal(h2Denied.headers['www-authenticate'], denied.headers['www-authenticate']);
    // HEAD: the headers without a body.
    const head = await request(port, { method: 'HEAD', path: WELL_KNOWN });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['cache-control'], 'public, max-age=3600');
  });

  test('the example README block, run literally with curl and the dpop CLI', async () => {
    const statuses = await runReadmeBlock('envoy/examples/nonce/README.md', 'KEY=$(mktemp', {
      api: port, admin: envoy.adminPort, authz: as.port,
    });
    assert.deepEqual(statuses, [200, 401, 200, 401]);
  });

  test('other methods and paths under the well-known prefix are ordinary requests', async () => {
    const post = await request(port, { method: 'POST', path: WELL_KNOWN });
    assert.equal(post.status, 401, 'POST is not answered with the document: the rules apply (no token)');
    const other = await request(port, { path: `${WELL_KNOWN}/other` });
    assert.equal(other.status, 401);
  });
});
