// Plain-HTTP helpers that play the browser and the app against the test authorization server:
// a cookie jar, PKCE, driving oidc-provider's devInteractions login and consent forms, and the
// token endpoint calls. No browser needed; the browser tests (tests/e2e/page) drive the same
// screens with Chromium instead.

import { createHash, randomBytes } from 'node:crypto';

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
  return { status: res.status, body: await res.json() };
}

/** Play the app: exchange an authorization code (public client, PKCE verifier). */
export function exchangeCode(as, { code, verifier, redirectUri = as.clients.mobile.redirectUris[0] }) {
  return tokenRequest(as, {
    grant_type: 'authorization_code',
    client_id: as.clients.mobile.clientId,
    code,
    redirect_uri: redirectUri,
    ...(verifier === undefined ? {} : { code_verifier: verifier }),
  });
}

/** Play the app: refresh (public client). */
export function refresh(as, refreshToken) {
  return tokenRequest(as, {
    grant_type: 'refresh_token',
    client_id: as.clients.mobile.clientId,
    refresh_token: refreshToken,
  });
}

/** Service-to-service token: client_credentials with a resource indicator (RFC 8707). */
export function clientCredentials(as, { scope = as.resourceScopes.join(' '), resource = as.resource } = {}) {
  const { clientId, clientSecret } = as.clients.service;
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
  return tokenRequest(as, {
    grant_type: 'client_credentials',
    ...(scope ? { scope } : {}),
    ...(resource ? { resource } : {}),
  }, { authorization: `Basic ${basic}` });
}

/** Decode a JWT's header (no verification: for assertions on kid/alg/typ only). */
export function jwtHeader(token) {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
}
