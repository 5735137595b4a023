// tollgate redirect page: plain-JavaScript fallback for browsers without WebAssembly
// (iOS Lockdown Mode) or when the Wasm fails to load.
//
// It implements the same policy as the Rust page crate (redirect-page/page/src/params.rs,
// link.rs, screen.rs, error_code.rs): the allow-list, limits, known error codes and texts come
// from fallback-data.js, which tollgate-site generates from that crate. The parity test
// (tests/e2e/page/parity.test.mjs) feeds this module the vectors the Rust code writes, and the
// browser e2e tests run every case against both implementations.
import { PARAMS, LIMITS, META, ERRORS, MESSAGES } from './fallback-data.js';

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const ERROR_CODE = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;
// error_uri: RFC 6749's characters, https (any case), a non-empty authority without user info.
const ERROR_URI_CHARS = /^[\x21\x23-\x5b\x5d-\x7e]*$/;
const HTTPS_AUTHORITY = /^https:\/\/([^/?#]*)/i;
const UTF8 = new TextEncoder();

class Malformed extends Error {}

function byteLength(s) {
  return UTF8.encode(s).length;
}

// application/x-www-form-urlencoded component; throws on bad % escapes or bad UTF-8.
function formDecode(s) {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch (e) {
    throw new Malformed('encoding');
  }
}

// Allow-listed, validated parameters of a query or fragment, in forwarding order.
function extract(input) {
  if (byteLength(input) > LIMITS.input) throw new Malformed('input too long');
  const raw = input.replace(/^[?#]/, '');
  const found = new Map();
  let pairs = 0;
  for (const segment of raw.split('&')) {
    if (segment === '') continue;
    if (pairs === LIMITS.pairs) throw new Malformed('too many pairs');
    pairs += 1;
    const eq = segment.indexOf('=');
    const name = formDecode(eq < 0 ? segment : segment.slice(0, eq));
    const value = formDecode(eq < 0 ? '' : segment.slice(eq + 1));
    if (!PARAMS.includes(name)) continue; // not allow-listed: dropped
    if (found.has(name)) throw new Malformed('duplicate ' + name);
    if (value !== '') {
      if (byteLength(value) > LIMITS.value) throw new Malformed('too long ' + name);
      if (CONTROL.test(value)) throw new Malformed('control character in ' + name);
    }
    found.set(name, value);
  }
  const params = [];
  for (const name of PARAMS) {
    const value = found.get(name);
    if (value) params.push([name, value]);
  }
  return params;
}

// Same rules as AppLink::parse: https (or http on loopback), lower-case host, a path, no query/fragment.
function parseAppLink(url) {
  if (!url || url.length > LIMITS.appLink) return null;
  const m = /^(https:\/\/|http:\/\/(?=(?:127\.0\.0\.1|localhost)[:/]))([a-z0-9.-]+)(:[0-9]{1,5})?(\/[A-Za-z0-9\-._~/%]*)$/.exec(url);
  if (!m || /^[.-]/.test(m[2])) return null;
  return url;
}

function encode(value) {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function isForwardableErrorUri(uri) {
  if (!ERROR_URI_CHARS.test(uri)) return false;
  const m = HTTPS_AUTHORITY.exec(uri);
  return m !== null && m[1] !== '' && !m[1].includes('@');
}

function withParams(base, inFragment, params) {
  if (params.length === 0) return base;
  return base + (inFragment ? '#' : '?') + params.map(([n, v]) => n + '=' + encode(v)).join('&');
}

// The screen for a page of `kind` with `appLink` opened at `query` / `fragment`:
// { screen, link?, message?, code? } (message: the key of the explanation; code: a known error code).
export function decide(kind, appLink, query, fragment) {
  if (kind !== 'login' && kind !== 'logout') return { screen: 'misconfigured' };
  const base = parseAppLink(appLink);
  if (!base) return { screen: 'misconfigured' };
  let fromQuery;
  let fromFragment;
  try {
    fromQuery = extract(query);
    fromFragment = extract(fragment);
  } catch (e) {
    if (e instanceof Malformed) return { screen: 'malformed' };
    throw e;
  }
  if (fromQuery.length > 0 && fromFragment.length > 0) return { screen: 'malformed' };
  if (fromQuery.length === 0 && fromFragment.length === 0) {
    return kind === 'login' ? { screen: 'no-response' } : { screen: 'logout', link: base };
  }
  const inFragment = fromQuery.length === 0;
  // An error_uri the app must not open is dropped; the rest is still forwarded.
  const params = (inFragment ? fromFragment : fromQuery).filter(([n, v]) => n !== 'error_uri' || isForwardableErrorUri(v));
  if (kind === 'logout') {
    return { screen: 'logout', link: withParams(base, inFragment, params.filter(([n]) => n === 'state')) };
  }
  const get = (name) => (params.find(([n]) => n === name) || [])[1];
  const code = get('code');
  const error = get('error');
  if (code && error) return { screen: 'malformed' };
  if (!code && !error) return { screen: 'malformed' };
  if (code) return { screen: 'continue', link: withParams(base, inFragment, params) };
  if (!ERROR_CODE.test(error)) return { screen: 'malformed' };
  // Only the page's own words: a known code gets its fixed explanation, anything else the generic
  // one; error_description and unknown values are forwarded, never shown.
  const known = Object.prototype.hasOwnProperty.call(ERRORS, error);
  return {
    screen: 'error',
    message: known ? ERRORS[error] : 'error_body',
    code: known ? error : null,
    link: withParams(base, inFragment, params),
  };
}

export function chooseLanguage(preferences) {
  for (const pref of preferences || []) {
    const primary = String(pref).split(/[-_]/)[0].toLowerCase();
    if (Object.prototype.hasOwnProperty.call(MESSAGES, primary)) return primary;
  }
  return 'en';
}

function meta(id) {
  const el = document.getElementById(id);
  return el ? el.getAttribute('content') : null;
}

function show(id, text) {
  const el = document.getElementById(id);
  el.textContent = text;
  el.hidden = false;
}

export function run() {
  const result = decide(meta(META.page), meta(META.appLink), location.search, location.hash);
  if (location.search || location.hash) {
    history.replaceState(null, '', location.pathname);
  }
  const lang = chooseLanguage(navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
  const m = MESSAGES[lang];
  const root = document.documentElement;
  root.lang = lang;
  root.dataset.engine = 'js';
  root.dataset.screen = result.screen;

  let title;
  let body;
  let label = null;
  switch (result.screen) {
    case 'continue':
      show('tg-hint', m.expiry_hint);
      [title, body, label] = [m.continue_title, m.continue_body, m.continue_label];
      break;
    case 'error':
      if (result.code !== null) {
        show('tg-error-code-label', m.error_code_label);
        show('tg-error-code', result.code);
        document.getElementById('tg-error').hidden = false;
      }
      [title, body, label] = [m.error_title, m[result.message], m.return_label];
      break;
    case 'logout':
      [title, body, label] = [m.logout_title, m.logout_body, m.continue_label];
      break;
    case 'no-response':
      [title, body] = [m.no_response_title, m.no_response_body];
      break;
    case 'malformed':
      [title, body] = [m.malformed_title, m.malformed_body];
      break;
    default:
      [title, body] = [m.config_title, m.config_body];
  }
  document.title = title;
  show('tg-title', title);
  show('tg-body', body);
  if (label !== null) {
    const a = document.getElementById('tg-continue');
    a.setAttribute('href', result.link);
    show('tg-continue', label);
    a.focus();
  }
}
