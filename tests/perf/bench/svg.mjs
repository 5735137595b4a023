// The benchmark's chart: one SVG document, written by hand (no chart library). For each token mix, one horizontal
// bar per setup (requests per second, scaled to the fastest setup of that mix), labelled with req/s and Envoy's CPU
// per request; the date, machine and Envoy version on top.
import { describeRun } from './report.mjs';

/** Bar colour per setup family. */
export const COLOURS = { none: '#9e9e9e', floor: '#b39ddb', jwt: '#4f81bd', tollgate: '#e8843a' };
const FAMILY_NAMES = { none: 'no auth', floor: 'Wasm floor', jwt: 'Envoy jwt_authn (native)', tollgate: 'tollgate (Wasm)' };

/** Text safe inside an XML element or a double-quoted attribute. */
export function escapeXml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
}

const WIDTH = 1000;
const LABEL_WIDTH = 360;
const BAR_X = LABEL_WIDTH + 10;
const BAR_MAX = 430;
const BAR_HEIGHT = 18;
const ROW = 26;

const int = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US').replaceAll(',', ' ') : '—');

/**
 * The chart for `cases` ([{ setup: { label, family }, mix: { id, label }, figures: { rps, cpuUs } }], run order) and
 * `meta` (as for the Markdown report). Returns the SVG text.
 */
export function chart(meta, cases) {
  const parts = [];
  let y = 28;
  const text = (x, yy, content, attrs = '') => parts.push(`<text x="${x}" y="${yy}"${attrs}>${escapeXml(content)}</text>`);
  text(16, y, 'tollgate filter benchmark: requests per second (Envoy CPU per request)', ' font-size="18" font-weight="bold"');
  for (const line of describeRun(meta)) {
    y += 20;
    text(16, y, line, ' font-size="12" fill="#333"');
  }
  if (meta.loaded) {
    y += 18;
    text(16, y, 'Figures from a loaded machine: compare ratios within this run.', ' font-size="12" fill="#b00020"');
  }
  y += 14;
  const mixes = [];
  for (const c of cases) if (!mixes.some((m) => m.id === c.mix.id)) mixes.push(c.mix);
  for (const mix of mixes) {
    const group = cases.filter((c) => c.mix.id === mix.id);
    const max = Math.max(...group.map((c) => (Number.isFinite(c.figures.rps) ? c.figures.rps : 0)), 1);
    y += 30;
    text(16, y, mix.label, ' font-size="14" font-weight="bold"');
    y += 10;
    for (const c of group) {
      const rps = Number.isFinite(c.figures.rps) ? c.figures.rps : 0;
      const width = Math.max(1, Math.round((rps / max) * BAR_MAX));
      const colour = COLOURS[c.setup.family] ?? '#607d8b';
      text(LABEL_WIDTH, y + 14, c.setup.label, ' font-size="12" text-anchor="end"');
      parts.push(`<rect x="${BAR_X}" y="${y}" width="${width}" height="${BAR_HEIGHT}" fill="${colour}"/>`);
      const cpu = Number.isFinite(c.figures.cpuUs) ? `${c.figures.cpuUs.toFixed(1)} µs` : '—';
      text(BAR_X + width + 6, y + 14, `${int(c.figures.rps)} req/s · ${cpu}`, ' font-size="12"');
      y += ROW;
    }
  }
  y += 20;
  let x = 16;
  for (const [family, colour] of Object.entries(COLOURS)) {
    parts.push(`<rect x="${x}" y="${y - 11}" width="12" height="12" fill="${colour}"/>`);
    text(x + 18, y, FAMILY_NAMES[family], ' font-size="12"');
    x += 48 + FAMILY_NAMES[family].length * 7;
  }
  text(WIDTH - 16, y, 'bars: requests per second, scaled to the fastest setup of each mix', ' font-size="11" fill="#555" text-anchor="end"');
  y += 16;
  const height = y + 8;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
