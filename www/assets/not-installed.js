// tollgate app-not-installed page (app-link domain; same-origin module, the CSP forbids inline script).
//
// The browser shows this page when a Universal Link / App Link did not open the app, so the URL holds the
// authorization response. This script never reads it: it removes the query and fragment from the address bar
// and history, and shows the section in the browser's language (all sections stay visible without JavaScript).
if (location.search || location.hash) {
  history.replaceState(null, '', location.pathname);
}

const sections = [...document.querySelectorAll('section[data-lang]')];
const preferences = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
// Same rule as the redirect page: the first preference whose primary subtag we have, else English.
let chosen = 'en';
for (const pref of preferences) {
  const primary = String(pref).split(/[-_]/)[0].toLowerCase();
  if (sections.some((s) => s.dataset.lang === primary)) {
    chosen = primary;
    break;
  }
}
for (const section of sections) {
  section.hidden = section.dataset.lang !== chosen;
  if (!section.hidden) document.title = section.querySelector('h1').textContent;
}
document.documentElement.lang = chosen;
document.documentElement.dataset.screen = 'not-installed';
