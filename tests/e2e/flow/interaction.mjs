// The authorization server's sign-in and consent screens for the mobile flow, in place of oidc-provider's
// development screens: rendered here with oidc-provider's interaction API (interactionDetails, Grant,
// interactionResult), styled and localised like our page (app-page.mjs), each scope listed once with a sentence
// about what it allows. Any name and password sign in (TEST/DEMO ONLY). The forms keep the development screens'
// field names (prompt, login, password), so plain-HTTP helpers (authz/flow.mjs runBrowserFlow) fill them too.
//
//   startAuthServer({ ..., interactions: interactionScreens })
import { SCREEN_HEADERS, asset, chooseLang, screenHtml } from './app-page.mjs';

/** The longest sign-in name accepted (the account id of the tokens' `sub`). */
export const MAX_LOGIN = 64;
/** The largest form body read. */
const MAX_BODY = 8 * 1024;

const TEXT = {
  en: {
    loginTitle: 'Sign in',
    loginBody: (client) => `Sign in to continue to ${client}.`,
    loginHint: 'TEST/DEMO server: any name and password sign in.',
    name: 'Name',
    password: 'Password',
    signIn: 'Sign in',
    nameMissing: 'Enter a name (up to 64 characters).',
    expiredTitle: 'This sign-in step is over',
    expiredBody: 'It was already completed, cancelled or timed out. Go back to the app to start again.',
    consentTitle: 'Allow access',
    consentBody: (client, account) => `${client} asks for access as ${account}. It will be able to:`,
    allow: 'Allow',
    cancel: 'Cancel',
    scopes: {
      openid: 'know who you are (your account name)',
      offline_access: 'stay signed in while you are away',
      'orders:read': 'see your orders',
      'orders:write': 'place and change orders',
    },
  },
  de: {
    loginTitle: 'Anmelden',
    loginBody: (client) => `Melden Sie sich an, um mit ${client} fortzufahren.`,
    loginHint: 'TEST/DEMO-Server: Jeder Name und jedes Passwort meldet an.',
    name: 'Name',
    password: 'Passwort',
    signIn: 'Anmelden',
    nameMissing: 'Geben Sie einen Namen ein (bis zu 64 Zeichen).',
    expiredTitle: 'Dieser Anmeldeschritt ist vorbei',
    expiredBody: 'Er wurde bereits abgeschlossen, abgebrochen oder ist abgelaufen. Kehren Sie zur App zurück, um neu zu beginnen.',
    consentTitle: 'Zugriff erlauben',
    consentBody: (client, account) => `${client} bittet um Zugriff als ${account}. Die App darf dann:`,
    allow: 'Erlauben',
    cancel: 'Abbrechen',
    scopes: {
      openid: 'wissen, wer Sie sind (Ihr Kontoname)',
      offline_access: 'angemeldet bleiben, während Sie nicht da sind',
      'orders:read': 'Ihre Bestellungen sehen',
      'orders:write': 'Bestellungen aufgeben und ändern',
    },
  },
  fr: {
    loginTitle: 'Se connecter',
    loginBody: (client) => `Connectez-vous pour continuer vers ${client}.`,
    loginHint: 'Serveur de TEST/DÉMO : tout nom et tout mot de passe conviennent.',
    name: 'Nom',
    password: 'Mot de passe',
    signIn: 'Se connecter',
    nameMissing: 'Saisissez un nom (64 caractères au plus).',
    expiredTitle: 'Cette étape de connexion est terminée',
    expiredBody: 'Elle a déjà été menée à bien, annulée ou a expiré. Revenez à l’application pour recommencer.',
    consentTitle: 'Autoriser l’accès',
    consentBody: (client, account) => `${client} demande l’accès en tant que ${account}. L’application pourra :`,
    allow: 'Autoriser',
    cancel: 'Annuler',
    scopes: {
      openid: 'savoir qui vous êtes (le nom de votre compte)',
      offline_access: 'rester connectée en votre absence',
      'orders:read': 'voir vos commandes',
      'orders:write': 'passer et modifier des commandes',
    },
  },
};

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The scopes a consent screen lists: every scope the request still needs, each once, in the order asked. */
export function consentScopes(details) {
  const all = [...(details.missingOIDCScope ?? []), ...Object.values(details.missingResourceScopes ?? {}).flat()];
  return [...new Set(all)];
}

/** The sign-in screen. */
export function loginScreen(lang, { uid, client, error, login = '' }) {
  const t = TEXT[lang];
  const body = `<p id="summary">${escapeHtml(t.loginBody(client))}</p>
${error ? `<p class="error" id="form-error" role="alert">${escapeHtml(error)}</p>\n` : ''}<form action="/interaction/${escapeHtml(uid)}" method="post" autocomplete="off">
<input type="hidden" name="prompt" value="login">
<label for="login">${escapeHtml(t.name)}</label>
<input type="text" id="login" name="login" value="${escapeHtml(login)}" maxlength="${MAX_LOGIN}" required autofocus autocapitalize="none">
<label for="password">${escapeHtml(t.password)}</label>
<input type="password" id="password" name="password">
<p class="actions"><button type="submit" class="button" id="submit">${escapeHtml(t.signIn)}</button>
<a class="button secondary" id="cancel" href="/interaction/${escapeHtml(uid)}/abort">${escapeHtml(t.cancel)}</a></p>
</form>
<p class="hint">${escapeHtml(t.loginHint)}</p>
`;
  return screenHtml({ lang, screen: 'login', title: t.loginTitle, body });
}

/** The screen for an interaction that is over (back navigation to a finished step, a timeout). */
export function expiredScreen(lang) {
  const t = TEXT[lang];
  return screenHtml({ lang, screen: 'expired', title: t.expiredTitle, body: `<p id="summary">${escapeHtml(t.expiredBody)}</p>\n` });
}

/** The consent screen: each scope once, with what it allows (unknown scopes by name only). */
export function consentScreen(lang, { uid, client, account, scopes }) {
  const t = TEXT[lang];
  const items = scopes.map((s) => `<li>${Object.hasOwn(t.scopes, s) ? `${escapeHtml(t.scopes[s])} ` : ''}<span class="scope-name">${escapeHtml(s)}</span></li>`);
  const body = `<p id="summary">${escapeHtml(t.consentBody(client, account))}</p>
<section class="card"><ul class="scopes" id="scopes">${items.join('')}</ul></section>
<form action="/interaction/${escapeHtml(uid)}" method="post">
<input type="hidden" name="prompt" value="consent">
<p class="actions"><button type="submit" class="button" id="submit">${escapeHtml(t.allow)}</button>
<a class="button secondary" id="cancel" href="/interaction/${escapeHtml(uid)}/abort">${escapeHtml(t.cancel)}</a></p>
</form>
`;
  return screenHtml({ lang, screen: 'consent', title: t.consentTitle, body });
}

async function readForm(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** The Koa middleware for startAuthServer's `interactions` option: the screens at /interaction/<uid>, their assets
 *  at /assets/. */
export function interactionScreens(provider) {
  const answer = (ctx, status, html) => {
    ctx.status = status;
    ctx.set(SCREEN_HEADERS);
    ctx.body = html;
  };
  const finish = async (ctx, result) => {
    const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.set('cache-control', 'no-store');
    ctx.redirect(to);
    ctx.status = 303;
  };
  return async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path.startsWith('/assets/')) {
      const file = asset(ctx.path.slice('/assets/'.length));
      if (!file) return next();
      ctx.set({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      ctx.type = file.type;
      ctx.body = file.body;
      return undefined;
    }
    const m = /^\/interaction\/([\w-]+)(\/abort)?$/.exec(ctx.path);
    if (!m) return next();
    const lang = chooseLang(ctx.get('accept-language'));
    let details;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      // going back to a step that is finished, or one that timed out: say so instead of oidc-provider's error page
      if (err.name === 'SessionNotFound') return answer(ctx, 400, expiredScreen(lang));
      throw err;
    }
    if (details.uid !== m[1]) return answer(ctx, 400, expiredScreen(lang));
    const client = details.params.client_id;
    if (m[2]) {
      if (ctx.method !== 'GET') return next();
      return finish(ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' });
    }
    const prompt = details.prompt.name;
    if (ctx.method === 'GET') {
      if (prompt === 'login') return answer(ctx, 200, loginScreen(lang, { uid: details.uid, client }));
      if (prompt === 'consent') {
        return answer(ctx, 200, consentScreen(lang, {
          uid: details.uid, client, account: details.session.accountId, scopes: consentScopes(details.prompt.details),
        }));
      }
      return next();
    }
    if (ctx.method !== 'POST') return next();
    const form = await readForm(ctx.req);
    if (!form || form.get('prompt') !== prompt) {
      ctx.status = 400;
      ctx.type = 'text/plain';
      ctx.body = 'this form does not answer the current step of the sign-in\n';
      return undefined;
    }
    if (prompt === 'login') {
      const login = (form.get('login') ?? '').trim();
      if (login === '' || login.length > MAX_LOGIN) {
        return answer(ctx, 400, loginScreen(lang, { uid: details.uid, client, error: TEXT[lang].nameMissing, login: login.slice(0, MAX_LOGIN) }));
      }
      return finish(ctx, { login: { accountId: login } });
    }
    const { accountId } = details.session;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: client });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return finish(ctx, { consent: details.grantId ? {} : { grantId } });
  };
}
