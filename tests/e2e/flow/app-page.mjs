// The screens of the demo's app and of the demo's authorization server sign-in, rendered as HTML on the server: the
// app's result after a sign-in (the steps it took, the API's answers as cards, the tokens shortened with a copy
// button), the plain-words screens when it refuses a response (already used, cancelled, refused), and the sign-in
// and consent screens of the authorization server (interaction.mjs). Styled with the intermediate page's
// stylesheet (www/assets/page.css) plus assets/app.css beside this file, in the page's three languages, chosen
// the page's way: the first of the browser's languages (Accept-Language) whose primary subtag we have, else English.
// No inline script or style: the endpoint serves them with a CSP of 'self' only.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO } from '../lib/paths.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const LANGS = ['en', 'de', 'fr'];

/** The assets the screens load, by URL path below /assets/: the page's stylesheet and ours. */
export const ASSETS = {
  'page.css': { type: 'text/css; charset=utf-8', file: path.join(REPO, 'www', 'assets', 'page.css') },
  'app.css': { type: 'text/css; charset=utf-8', file: path.join(HERE, 'assets', 'app.css') },
  'app.js': { type: 'text/javascript; charset=utf-8', file: path.join(HERE, 'assets', 'app.js') },
};

/** The headers every screen is served with: no inline script or style, nothing from elsewhere, never cached. No
 *  form-action: browsers apply it to the redirects after a form too, and the consent form ends at the redirect URI. */
export const SCREEN_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
};

/** An asset's { type, body }, or undefined for a name that is not one. */
export function asset(name) {
  if (!Object.hasOwn(ASSETS, name)) return undefined;
  return { type: ASSETS[name].type, body: readFileSync(ASSETS[name].file) };
}

/** The language for an Accept-Language header value: the first supported primary subtag in the order given
 *  (quality values are ignored, as the page ignores them in navigator.languages), else English. */
export function chooseLang(acceptLanguage) {
  for (const item of String(acceptLanguage ?? '').split(',')) {
    const primary = item.split(';')[0].trim().split(/[-_]/)[0].toLowerCase();
    if (LANGS.includes(primary)) return primary;
  }
  return 'en';
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A token as the screen shows it: its first 10 and last 6 characters. */
export function shortToken(token) {
  const t = String(token);
  return t.length <= 24 ? t : `${t.slice(0, 10)}…${t.slice(-6)}`;
}

// Every text of the app's screens, per language. Functions take the values they show.
const TEXT = {
  en: {
    signedInTitle: 'You are signed in',
    signedInBody: (sub) => `The app finished the sign-in for ${sub} and called the API through Envoy with its new access token.`,
    stepsTitle: 'What the app checked',
    stepState: 'state matches the request this app started (used once)',
    stepIss: (iss) => `iss is the authorization server the request went to (${iss})`,
    stepPkce: 'code exchanged with the PKCE verifier (S256)',
    stepScope: (scope, ttl) => `granted scope: ${scope}; access token valid for ${ttl} s`,
    apiTitle: 'The API’s answers',
    apiSaw: 'The API received these headers from the filter:',
    apiRefused: 'Envoy refused the call:',
    tokensTitle: 'Tokens of this sign-in (TEST/DEMO ONLY)',
    accessToken: 'Access token',
    refreshToken: 'Refresh token',
    copy: 'Copy',
    copied: 'Copied',
    showFull: 'Show the full token',
    curlHint: 'The terminal that runs the demo prints curl commands with these tokens.',
    again: 'Sign in again',
    usedTitle: 'This sign-in was already used',
    usedBody: 'The app accepts each sign-in answer once, so reloading or going back cannot repeat it. Start again to sign in anew.',
    cancelledTitle: 'You cancelled the sign-in',
    cancelledBody: 'Nothing was shared with the app. Start again whenever you like.',
    deniedTitle: 'The sign-in was not completed',
    deniedBody: 'The authorization server did not grant access. Start again to retry.',
    refusedTitle: 'The app stopped this sign-in',
    refusedBody: 'The answer that reached the app did not pass its checks, so it did not use it.',
    reason: 'Reason',
    start: 'Start again',
  },
  de: {
    signedInTitle: 'Sie sind angemeldet',
    signedInBody: (sub) => `Die App hat die Anmeldung für ${sub} abgeschlossen und mit dem neuen Zugriffstoken die API über Envoy aufgerufen.`,
    stepsTitle: 'Was die App geprüft hat',
    stepState: 'state gehört zur Anfrage, die diese App gestartet hat (einmal verwendet)',
    stepIss: (iss) => `iss ist der Autorisierungsserver, an den die Anfrage ging (${iss})`,
    stepPkce: 'Code mit dem PKCE-Verifier (S256) eingetauscht',
    stepScope: (scope, ttl) => `gewährter Scope: ${scope}; Zugriffstoken ${ttl} s gültig`,
    apiTitle: 'Die Antworten der API',
    apiSaw: 'Diese Header hat die API vom Filter erhalten:',
    apiRefused: 'Envoy hat den Aufruf abgelehnt:',
    tokensTitle: 'Tokens dieser Anmeldung (NUR TEST/DEMO)',
    accessToken: 'Zugriffstoken',
    refreshToken: 'Aktualisierungstoken',
    copy: 'Kopieren',
    copied: 'Kopiert',
    showFull: 'Ganzes Token anzeigen',
    curlHint: 'Das Terminal, in dem die Demo läuft, zeigt curl-Befehle mit diesen Tokens.',
    again: 'Erneut anmelden',
    usedTitle: 'Diese Anmeldung wurde bereits verwendet',
    usedBody: 'Die App nimmt jede Anmeldeantwort nur einmal an; Neuladen oder Zurückgehen wiederholt sie nicht. Beginnen Sie von vorn, um sich neu anzumelden.',
    cancelledTitle: 'Sie haben die Anmeldung abgebrochen',
    cancelledBody: 'Die App hat nichts erhalten. Sie können jederzeit von vorn beginnen.',
    deniedTitle: 'Die Anmeldung wurde nicht abgeschlossen',
    deniedBody: 'Der Autorisierungsserver hat keinen Zugriff gewährt. Beginnen Sie von vorn, um es erneut zu versuchen.',
    refusedTitle: 'Die App hat diese Anmeldung gestoppt',
    refusedBody: 'Die Antwort, die bei der App ankam, hat ihre Prüfungen nicht bestanden; die App hat sie nicht verwendet.',
    reason: 'Grund',
    start: 'Von vorn beginnen',
  },
  fr: {
    signedInTitle: 'Vous êtes connecté',
    signedInBody: (sub) => `L’application a terminé la connexion de ${sub} et a appelé l’API via Envoy avec son nouveau jeton d’accès.`,
    stepsTitle: 'Ce que l’application a vérifié',
    stepState: 'state correspond à la demande lancée par cette application (utilisé une fois)',
    stepIss: (iss) => `iss est le serveur d’autorisation sollicité (${iss})`,
    stepPkce: 'code échangé avec le vérificateur PKCE (S256)',
    stepScope: (scope, ttl) => `portée accordée : ${scope} ; jeton d’accès valable ${ttl} s`,
    apiTitle: 'Les réponses de l’API',
    apiSaw: 'L’API a reçu ces en-têtes du filtre :',
    apiRefused: 'Envoy a refusé l’appel :',
    tokensTitle: 'Jetons de cette connexion (TEST/DÉMO UNIQUEMENT)',
    accessToken: 'Jeton d’accès',
    refreshToken: 'Jeton de rafraîchissement',
    copy: 'Copier',
    copied: 'Copié',
    showFull: 'Afficher le jeton complet',
    curlHint: 'Le terminal qui exécute la démo affiche des commandes curl avec ces jetons.',
    again: 'Se reconnecter',
    usedTitle: 'Cette connexion a déjà été utilisée',
    usedBody: 'L’application n’accepte chaque réponse de connexion qu’une fois : recharger ou revenir en arrière ne la répète pas. Recommencez pour vous connecter à nouveau.',
    cancelledTitle: 'Vous avez annulé la connexion',
    cancelledBody: 'Rien n’a été transmis à l’application. Recommencez quand vous le souhaitez.',
    deniedTitle: 'La connexion n’a pas abouti',
    deniedBody: 'Le serveur d’autorisation n’a pas accordé l’accès. Recommencez pour réessayer.',
    refusedTitle: 'L’application a arrêté cette connexion',
    refusedBody: 'La réponse reçue par l’application n’a pas passé ses vérifications ; elle ne l’a pas utilisée.',
    reason: 'Raison',
    start: 'Recommencer',
  },
};

/** The texts of the app's screens in `lang`. */
export function appText(lang) {
  return TEXT[lang] ?? TEXT.en;
}

/** A whole screen: `screen` names it for tests (html[data-screen]); `body` is trusted HTML built here. */
export function screenHtml({ lang, screen, title, body }) {
  return `<!doctype html>
<html lang="${escapeHtml(lang)}" data-screen="${escapeHtml(screen)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/assets/page.css">
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<main>
<h1 id="title">${escapeHtml(title)}</h1>
${body}</main>
</body>
</html>
`;
}

function tokenRow(id, label, token, t) {
  return `<div class="token" id="${id}">
<div class="token-head"><span class="token-label">${escapeHtml(label)}</span>
<code class="token-short">${escapeHtml(shortToken(token))}</code>
<button type="button" class="copy" data-copy="${id}-full" data-copied="${escapeHtml(t.copied)}">${escapeHtml(t.copy)}</button></div>
<details><summary>${escapeHtml(t.showFull)}</summary><code class="token-full" id="${id}-full">${escapeHtml(token)}</code></details>
</div>
`;
}

function apiCard(call, t) {
  const ok = call.status >= 200 && call.status < 300;
  const detail = ok
    ? `<p>${escapeHtml(t.apiSaw)}</p>\n<dl class="kv">${Object.entries(call.headers)
      .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v ?? '-')}</dd>`).join('')}</dl>\n`
    : `<p>${escapeHtml(t.apiRefused)}</p>\n<code class="wrap">${escapeHtml(call.wwwAuthenticate ? `WWW-Authenticate: ${call.wwwAuthenticate}` : `HTTP ${call.status}`)}</code>\n`;
  return `<section class="card api" data-method="${escapeHtml(call.method)}" data-status="${call.status}">
<div class="card-head"><span class="call">${escapeHtml(call.method)} ${escapeHtml(call.path)}</span>
<span class="status ${ok ? 'ok' : 'refused'}">${call.status}</span></div>
${detail}</section>
`;
}

/**
 * The app's screen after a finished sign-in. `result`: { sub, issuer, scope, expiresIn, accessToken,
 * refreshToken, calls: [{ method, path, status, headers (received by the API, for a 2xx), wwwAuthenticate }],
 * startUrl }.
 */
export function resultScreen(lang, result) {
  const t = appText(lang);
  const steps = [t.stepState, t.stepIss(result.issuer), t.stepPkce, t.stepScope(result.scope, result.expiresIn)];
  const body = `<p id="summary">${escapeHtml(t.signedInBody(result.sub))}</p>
<h2>${escapeHtml(t.apiTitle)}</h2>
${result.calls.map((c) => apiCard(c, t)).join('')}<section class="card" id="steps"><h2>${escapeHtml(t.stepsTitle)}</h2>
<ul class="checks">${steps.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ul></section>
<section class="card" id="tokens"><h2>${escapeHtml(t.tokensTitle)}</h2>
${tokenRow('access-token', t.accessToken, result.accessToken, t)}${result.refreshToken ? tokenRow('refresh-token', t.refreshToken, result.refreshToken, t) : ''}<p class="hint">${escapeHtml(t.curlHint)}</p></section>
<p class="actions"><a class="button secondary" id="again" href="${escapeHtml(result.startUrl)}">${escapeHtml(t.again)}</a></p>
`;
  return screenHtml({ lang, screen: 'signed-in', title: t.signedInTitle, body });
}

/** Why the app shows a problem screen instead of a result. */
export const Problem = Object.freeze({
  /** The response's state was already used by this app (a reload, or back navigation to the app link). */
  ALREADY_USED: 'already-used',
  /** The user cancelled at the authorization server (error=access_denied). */
  CANCELLED: 'cancelled',
  /** The authorization server answered with another error. */
  DENIED: 'denied',
  /** The app refused the response (unknown state, wrong iss, refused code exchange ...). */
  REFUSED: 'refused',
});

/** A problem screen: `problem` one of Problem, `reason` the technical reason shown below (optional). */
export function problemScreen(lang, problem, { reason, startUrl }) {
  const t = appText(lang);
  const [title, text] = {
    [Problem.ALREADY_USED]: [t.usedTitle, t.usedBody],
    [Problem.CANCELLED]: [t.cancelledTitle, t.cancelledBody],
    [Problem.DENIED]: [t.deniedTitle, t.deniedBody],
    [Problem.REFUSED]: [t.refusedTitle, t.refusedBody],
  }[problem];
  const body = `<p id="summary">${escapeHtml(text)}</p>
${reason ? `<dl class="reason"><dt>${escapeHtml(t.reason)}</dt><dd><code>${escapeHtml(reason)}</code></dd></dl>\n` : ''}<p class="actions"><a class="button" id="again" href="${escapeHtml(startUrl)}">${escapeHtml(t.start)}</a></p>
`;
  return screenHtml({ lang, screen: problem, title, body });
}
