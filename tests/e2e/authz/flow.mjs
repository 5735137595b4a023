// Plain-HTTP helpers that play the browser and the app against the test authorization server:
// a cookie jar, PKCE, driving oidc-provider's devInteractions login and consent forms, and the
// token endpoint calls. No browser needed; the browser tests (tests/e2e/page) drive the same
// screens with Chromium instead.

import { createHash, randomBytes } from 'node:crypto';
import { proof } from '../lib/dpop.mjs';

/** Minimal cookie jar for one user agent talking to one host (paths ignored on purpose). */
export class CookieJar {
  #cookies = new Map();

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v] = a.trim().split('=');
        if (k.toLowerCase() === 'max-age') return Number(v) <= 0;
        if (k.toLowerCase() === 'expires') return Date.parse(v) <= Date.now();
        return false;
      });
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get size() {
    return this.#cookies.size;
  }
}

/** RFC 7636 S256 pair. */
export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

export function randomState() {
  return randomBytes(16).toString('base64url');
}

/** Build an authorization request URL for the mobile client. */
export function authorizationRequestUrl(as, {
  redirectUri = as.clients.mobile.redirectUris[0],
  scope = 'openid orders:read',
  state,
  codeChallenge,
  codeChallengeMethod = 'S256',
  clientId = as.clients.mobile.clientId,
  extra = {},
} = {}) {
  const url = new URL(as.authorizationUrl);
  const params = {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    ...(state === undefined ? {} : { state }),
    ...(codeChallenge === undefined ? {} : {
      code_challenge: codeChallenge,
      code_challenge_method: codeChallengeMethod,
    }),
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

function formAction(html, base) {
  const m = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(html);
  return m ? new URL(m[1].replace(/&amp;/g, '&'), base).href : undefined;
}

function cancelLink(html, base) {
  const m = /<a href="([^"]+)">\[ Cancel \]<\/a>/.exec(html);
  return m ? new URL(m[1].replace(/&amp;/g, '&'), base).href : undefined;
}

/**
 * Play the browser: open `authUrl`, follow redirects, fill the devInteractions login form with
 * `login` (any name is accepted) and accept the consent form, or press "[ Cancel ]" on the login
 * screen when `cancel` is true. Stops at the first redirect to `redirectUri` and returns it
 * (the URL is not fetched). Throws with the screen it got stuck on otherwise.
 */
export async function runBrowserFlow(authUrl, {
  redirectUri, login = 'alice', cancel = false, jar = new CookieJar(), maxSteps = 12,
} = {}) {
  const screens = [];
  const pages = [];
  let next = { url: authUrl, init: { method: 'GET' } };
  for (let step = 0; step < maxSteps; step += 1) {
    const res = await fetch(next.url, {
      ...next.init,
      redirect: 'manual',
      headers: { ...(next.init.headers ?? {}), cookie: jar.header() },
    });
    jar.store(res);
    if (res.status >= 300 && res.status < 400) {
      await res.arrayBuffer();
      const location = new URL(res.headers.get('location'), next.url).href;
      if (redirectUri && location.startsWith(redirectUri)) {
        return { redirect: new URL(location), screens, pages, jar };
      }
      next = { url: location, init: { method: 'GET' } };
      continue;
    }
    const body = await res.text();
    if (res.status !== 200) {
      throw new Error(`authorization flow stopped at ${new URL(next.url).pathname} with HTTP ${res.status}: ${body.slice(0, 300)}`);
    }
    const prompt = /name="prompt" value="(\w+)"/.exec(body)?.[1];
    screens.push(prompt ?? 'unknown');
    pages.push({ url: next.url, html: body });
    if (cancel) {
      const href = cancelLink(body, next.url);
      if (!href) throw new Error('no Cancel link on the interaction screen');
      next = { url: href, init: { method: 'GET' } };
      continue;
    }
    const action = formAction(body, next.url);
    if (!action || !prompt) throw new Error(`unexpected screen at ${new URL(next.url).pathname}`);
    const form = prompt === 'login'
      ? { prompt, login, password: 'TEST-ONLY-any-password' }
      : { prompt };
    next = {
      url: action,
      init: {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      },
    };
  }
  throw new Error(`authorization flow did not reach the redirect URI in ${maxSteps} steps (screens: ${screens.join(', ')})`);
}

async function tokenRequest(as, form, headers = {}) {
  const res = await fetch(as.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/**
 * Sender-constraint headers of a token request: `dpop` is a DPoP key pair (lib/dpop.mjs; a fresh proof for
 * POST <token endpoint> is made by the `dpop` package) or a ready proof string; `certificate` is the PEM client
 * certificate the TLS-terminating proxy in front of the server verified (the test plays that proxy and passes it
 * URL-encoded in the server's client-certificate header).
 */
export async function senderConstraintHeaders(as, { dpop, certificate } = {}) {
  const headers = {};
  if (dpop !== undefined) {
    headers.dpop = typeof dpop === 'string' ? dpop : await proof(dpop, { htm: 'POST', htu: as.tokenUrl });
  }
  if (certificate !== undefined) headers[as.clientCertificateHeader] = encodeURIComponent(certificate);
  return headers;
}

/** Play the app: exchange an authorization code (public client, PKCE verifier; `dpop`: see senderConstraintHeaders). */
export async function exchangeCode(as, {
  code, verifier, redirectUri = as.clients.mobile.redirectUris[0], clientId = as.clients.mobile.clientId, dpop,
}) {
  return tokenRequest(as, {
    grant_type: 'authorization_code',
    client_id: clientId,
    code,
    redirect_uri: redirectUri,
    ...(verifier === undefined ? {} : { code_verifier: verifier }),
  }, await senderConstraintHeaders(as, { dpop }));
}

/** Play the app: refresh (public client; `dpop`: see senderConstraintHeaders). */
export async function refresh(as, refreshToken, { clientId = as.clients.mobile.clientId, dpop } = {}) {
  return tokenRequest(as, {
    grant_type: 'refresh_token',
    client_id: clientId,
    refresh_token: refreshToken,
  }, await senderConstraintHeaders(as, { dpop }));
}

/**
 * Service-to-service token: client_credentials with a resource indicator (RFC 8707). `client` (default the service
 * client) is { clientId, clientSecret }; `dpop` / `certificate` bind the token (see senderConstraintHeaders).
 */
export async function clientCredentials(as, {
  scope = as.resourceScopes.join(' '), resource = as.resource, client = as.clients.service, dpop, certificate,
} = {}) {
  const { clientId, clientSecret } = client;
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
  return tokenRequest(as, {
    grant_type: 'client_credentials',
    ...(scope ? { scope } : {}),
    ...(resource ? { resource } : {}),
  }, { authorization: `Basic ${basic}`, ...(await senderConstraintHeaders(as, { dpop, certificate })) });
}

/** Decode a JWT's payload (no verification: for assertions only). */
export function jwtPayload(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** Decode a JWT's header (no verification: for assertions on kid/alg/typ only). */
export function jwtHeader(token) {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
}
