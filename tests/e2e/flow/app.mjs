// The mobile app's side of the flow, as a real app (AppAuth-style) does it after the OS hands it the App Link /
// Universal Link: build the authorization request (PKCE S256 + state), check the authorization response that the
// intermediate page forwarded (state, RFC 9207 `iss`, error), exchange the code with the PKCE verifier, refresh,
// and call the API through Envoy with the access token. With a DPoP key (MobileApp.dpopKey()), the app binds its
// tokens to that key (RFC 9449): the authorization request names the key's thumbprint (dpop_jkt), every token
// request carries a proof for the token endpoint, and every API call carries `Authorization: DPoP <token>` and a
// fresh proof for that method and URI. Proofs are made by the `dpop` npm package (lib/dpop.mjs).
//
// Used by tests/e2e/flow/mobile-flow.test.mjs (the automated scenario) and tests/e2e/demo/stack.mjs (the demo's
// tiny app endpoint). Never logs tokens or codes: errors name the reason, not the secret.

import { createHash, randomBytes } from 'node:crypto';
import { dpopKeyPair, proof, thumbprint } from '../lib/dpop.mjs';

/** Why the app refused an authorization response or a token answer. One kind per reason. */
export const AppErrorKind = Object.freeze({
  /** The response carries no `state`. */
  MISSING_STATE: 'missing_state',
  /** `state` does not belong to an authorization request this app started (CSRF / injected response), or was
   *  already used. */
  UNKNOWN_STATE: 'unknown_state',
  /** The server announced RFC 9207 (`authorization_response_iss_parameter_supported`) but the response has no `iss`. */
  MISSING_ISSUER: 'missing_issuer',
  /** `iss` is not the issuer the request was sent to (mix-up attack, RFC 9207 §2.4). */
  ISSUER_MISMATCH: 'issuer_mismatch',
  /** The server answered with `error=...` (e.g. the user cancelled: `access_denied`). */
  AUTHORIZATION_ERROR: 'authorization_error',
  /** A success response without `code`. */
  MISSING_CODE: 'missing_code',
  /** The token endpoint refused the request (`invalid_grant`, ...). */
  TOKEN_ERROR: 'token_error',
  /** The token endpoint answered 200 with something that is not a Bearer token response. */
  BAD_TOKEN_RESPONSE: 'bad_token_response',

  /** Discovery returned an `issuer` different from the one the app is configured with. */
  DISCOVERY_ISSUER_MISMATCH: 'discovery_issuer_mismatch',
});

export class AppError extends Error {
  /**
   * @param {string} kind one of AppErrorKind
   * @param {string} message plain words, never a token or code
   * @param {object} [details] e.g. { error, error_description } from the server
   */
  constructor(kind, message, details = {}) {
    super(message);
    this.name = 'AppError';
    this.kind = kind;
    this.details = details;
  }
}

/** RFC 7636 S256 pair: 32 random bytes -> 43-char verifier. */
export function pkceS256() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge, method: 'S256' };
}

/** The parameters of an authorization response, from a URL (query, or fragment for response_mode=fragment). */
export function responseParams(urlOrParams) {
  if (urlOrParams instanceof URLSearchParams) return urlOrParams;
  if (typeof urlOrParams === 'object' && !(urlOrParams instanceof URL)) return new URLSearchParams(urlOrParams);
  const url = new URL(urlOrParams);
  if (url.search.length > 1) return url.searchParams;
  return new URLSearchParams(url.hash.slice(1));
}

/**
 * A public mobile client. `config`:
 *   issuer, authorizationEndpoint, tokenEndpoint, clientId, redirectUri (the intermediate page),
 *   issParameterSupported (RFC 9207: `iss` is then required in every response), apiBase (Envoy),
 *   resource (optional RFC 8707 resource indicator), dpop (optional: the app's DPoP key, from MobileApp.dpopKey()),
 *   tokenRequestHeaders (optional, set on `config` after discover(): async (form) => more headers for a token request,
 *   e.g. a client attestation).
 */
export class MobileApp {
  #pending = new Map();

  constructor(config) {
    for (const k of ['issuer', 'authorizationEndpoint', 'tokenEndpoint', 'clientId', 'redirectUri']) {
      if (typeof config[k] !== 'string' || config[k] === '') throw new Error(`MobileApp: ${k} is required`);
    }
    this.config = { issParameterSupported: true, ...config };
  }

  /**
   * Configure from OIDC discovery (`<issuer>/.well-known/openid-configuration`), checking that the document's
   * `issuer` is exactly the configured one.
   */
  /** A DPoP key for the app (kept in the app, never exported): { keyPair, jkt } (jkt: its RFC 7638 thumbprint). */
  static async dpopKey(alg = 'ES256') {
    const keyPair = await dpopKeyPair(alg);
    return { keyPair, jkt: await thumbprint(keyPair) };
  }

  static async discover(issuer, { clientId, redirectUri, apiBase, resource, dpop, fetchImpl = fetch } = {}) {
    const res = await fetchImpl(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
    if (res.status !== 200) throw new Error(`discovery: HTTP ${res.status}`);
    const doc = await res.json();
    if (doc.issuer !== issuer) {
      throw new AppError(AppErrorKind.DISCOVERY_ISSUER_MISMATCH, `discovery names issuer ${doc.issuer}, expected ${issuer}`);
    }
    return new MobileApp({
      issuer,
      authorizationEndpoint: doc.authorization_endpoint,
      tokenEndpoint: doc.token_endpoint,
      issParameterSupported: doc.authorization_response_iss_parameter_supported === true,
      clientId,
      redirectUri,
      apiBase,
      resource,
      dpop,
    });
  }

  /** Number of authorization requests started and not yet answered. */
  get pendingCount() {
    return this.#pending.size;
  }

  /**
   * Start an authorization request: fresh state and PKCE S256 pair, kept until the response comes back.
   * Returns { url, state } (the verifier stays inside the app).
   */
  beginAuthorization({ scope = 'openid orders:read', extra = {} } = {}) {
    const state = randomBytes(16).toString('base64url');
    const pkce = pkceS256();
    this.#pending.set(state, { verifier: pkce.verifier, startedAt: Date.now() });
    const url = new URL(this.config.authorizationEndpoint);
    const params = {
      client_id: this.config.clientId,
      response_type: 'code',
      redirect_uri: this.config.redirectUri,
      scope,
      state,
      code_challenge: pkce.challenge,
      code_challenge_method: pkce.method,
      ...(this.config.resource ? { resource: this.config.resource } : {}),
      // RFC 9449 §10: the code can only be exchanged with a proof by this key
      ...(this.config.dpop ? { dpop_jkt: this.config.dpop.jkt } : {}),
      ...extra,
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return { url: url.href, state };
  }

  /**
   * Check an authorization response (the URL the App Link delivered, or its parameters), in this order:
   * state known (and consumed: single use), `iss` present and equal to the issuer, then error / code.
   * Returns { code, verifier, state }; throws AppError otherwise.
   */
  checkResponse(urlOrParams) {
    const p = responseParams(urlOrParams);
    const state = p.get('state');
    if (state === null || state === '') throw new AppError(AppErrorKind.MISSING_STATE, 'the authorization response has no state');
    const pending = this.#pending.get(state);
    if (!pending) {
      throw new AppError(AppErrorKind.UNKNOWN_STATE, 'the authorization response answers no request this app started');
    }
    // Consumed whatever happens next: a response is accepted at most once.
    this.#pending.delete(state);
    const iss = p.get('iss');
    if (iss === null) {
      if (this.config.issParameterSupported) {
        throw new AppError(AppErrorKind.MISSING_ISSUER, 'the authorization response has no iss although the server supports RFC 9207');
      }
    } else if (iss !== this.config.issuer) {
      throw new AppError(AppErrorKind.ISSUER_MISMATCH, `the authorization response comes from issuer ${JSON.stringify(iss)}, expected ${this.config.issuer}`);
    }
    const error = p.get('error');
    if (error !== null) {
      throw new AppError(AppErrorKind.AUTHORIZATION_ERROR, `the authorization server answered ${error}`, {
        error,
        error_description: p.get('error_description') ?? undefined,
      });
    }
    const code = p.get('code');
    if (code === null || code === '') throw new AppError(AppErrorKind.MISSING_CODE, 'the authorization response has no code');
    return { code, verifier: pending.verifier, state };
  }

  async #token(form) {
    const { dpop } = this.config;
    const res = await fetch(this.config.tokenEndpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...(dpop ? { dpop: await proof(dpop.keyPair, { htm: 'POST', htu: this.config.tokenEndpoint }) } : {}),
        ...(this.config.tokenRequestHeaders ? await this.config.tokenRequestHeaders(form) : {}),
      },
      body: new URLSearchParams({ client_id: this.config.clientId, ...form }).toString(),
    });
    let body;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    if (res.status !== 200) {
      throw new AppError(AppErrorKind.TOKEN_ERROR, `the token endpoint answered ${res.status} ${body?.error ?? ''}`.trim(), {
        status: res.status,
        error: body?.error,
        error_description: body?.error_description,
      });
    }
    const tokenType = String(body?.token_type).toLowerCase();
    if (!body || typeof body.access_token !== 'string' || (tokenType !== 'bearer' && tokenType !== 'dpop')) {
      throw new AppError(AppErrorKind.BAD_TOKEN_RESPONSE, 'the token endpoint did not return a Bearer or DPoP access token');
    }
    return body;
  }

  /** Exchange the code with the PKCE verifier (public client: no secret). Returns the token response. */
  exchangeCode({ code, verifier }) {
    return this.#token({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: this.config.redirectUri,
    });
  }

  /** checkResponse + exchangeCode. */
  async completeAuthorization(urlOrParams) {
    const { code, verifier } = this.checkResponse(urlOrParams);
    return this.exchangeCode({ code, verifier });
  }

  /** Refresh (the server rotates the refresh token: keep the new one). */
  refresh(refreshToken) {
    return this.#token({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  /**
   * Call the API through Envoy. Resolves { status, headers (lower-case names), body, json, wwwAuthenticate }.
   * `accessToken` undefined sends no Authorization header. With a DPoP key the call carries
   * `Authorization: DPoP <token>` and a fresh proof for this method and URL (query and fragment left out, RFC 9449
   * §4.2), unless `scheme` says otherwise; `proofKey` signs the proof with another key pair (a thief's).
   */
  async callApi(path, {
    method = 'GET', accessToken, body, headers = {}, scheme = this.config.dpop ? 'DPoP' : 'Bearer',
    proofKey = this.config.dpop?.keyPair,
  } = {}) {
    if (!this.config.apiBase) throw new Error('MobileApp: apiBase is not configured');
    const url = new URL(path, this.config.apiBase);
    const auth = {};
    if (accessToken !== undefined) {
      auth.authorization = `${scheme} ${accessToken}`;
      if (scheme === 'DPoP') {
        if (!proofKey) throw new Error('MobileApp: the DPoP scheme needs a DPoP key');
        auth.dpop = await proof(proofKey, { htm: method, htu: `${url.origin}${url.pathname}`, accessToken });
      }
    }
    const res = await fetch(url, { method, headers: { ...headers, ...auth }, body });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return {
      status: res.status,
      headers: Object.fromEntries(res.headers),
      body: text,
      json,
      wwwAuthenticate: res.headers.get('www-authenticate') ?? undefined,
    };
  }
}

/** Decode a JWT payload without verifying it (display and assertions only: the filter verifies). */
export function jwtClaims(token) {
  return JSON.parse(Buffer.from(String(token).split('.')[1] ?? '', 'base64url').toString('utf8'));
}
