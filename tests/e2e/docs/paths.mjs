// The repository paths a Markdown file names, and which of them do not exist: link targets (with their #anchors,
// checked against the target's headings) and inline code that names a path (`scripts/setup.sh`, or a path inside
// a command such as `cd tests/e2e && node --test flow/demo.test.mjs`). Fenced code blocks, URLs, absolute paths,
// placeholders and paths git ignores (build output such as target/…) are not checked.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** GitHub's anchor of a heading: lower case, punctuation dropped (not - and _), spaces to hyphens. */
export function slug(heading) {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The text without fenced code blocks and HTML comments, line numbers kept (removed lines become empty). */
function prose(text) {
  let fence = null;
  const lines = text.replace(/<!--[\s\S]*?-->/g, (c) => c.replace(/[^\n]/g, '')).split('\n');
  return lines.map((line) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence) {
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length) fence = null;
      return '';
    }
    if (m) {
      fence = m[1];
      return '';
    }
    return line;
  });
}

/** Every anchor the headings of `text` define. */
export function anchors(text) {
  const seen = new Map();
  const out = new Set();
  for (const line of prose(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Tokens of an inline code span that are meant as repository paths, each with the directory it is relative to. */
function pathWords(span) {
  const words = [];
  let base = '';
  for (const part of span.split(/\s*(?:&&|;|\|\|?)\s*/)) {
    const tokens = part.trim().replace(/^\(+/, '').split(/\s+/);
    if (tokens[0] === 'cd' && tokens[1]) {
      base = path.join(base, tokens[1]);
      continue;
    }
    for (const t of tokens) {
      const w = t.replace(/^["'(]+|["'),.;:]+$/g, '');
      if (!w.includes('/') || /^(\/|~|-|\$)|:\/\/|[<>{}$=:@]/.test(w) || /^\.+$/.test(w)) continue;
      if (!/^[\w.*-]+(\/[\w.*-]*)*\/?$/.test(w)) continue;
      words.push({ word: w, base });
    }
  }
  return words;
}

/** Does `pattern` (a path with `*` in its segments, relative to `dir`) match at least one file or folder? */
function globExists(dir, pattern) {
  const parts = pattern.split('/').filter(Boolean);
  let dirs = [dir];
  for (const part of parts) {
    if (!part.includes('*')) {
      dirs = dirs.map((d) => path.join(d, part)).filter((p) => existsSync(p));
      continue;
    }
    const re = new RegExp(`^${part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    dirs = dirs.flatMap((d) => (existsSync(d) && statSync(d).isDirectory() ? readdirSync(d).filter((n) => re.test(n)).map((n) => path.join(d, n)) : []));
  }
  return dirs.length > 0;
}

/**
 * The missing repository paths `text` (the Markdown file `file`, relative to `root`) names:
 * [{ line, path, why }]. `ignored(relPath)` says whether git ignores a path (build output).
 */
export function missingPaths(text, file, { root, ignored = () => false, readDoc = (p) => readFileSync(p, 'utf8') }) {
  const dir = path.dirname(path.join(root, file));
  const missing = [];
  const lines = prose(text);
  const inRepo = (abs) => !path.relative(root, abs).startsWith('..');
  const exists = (abs) => (abs.includes('*') ? globExists('/', abs) : existsSync(abs));
  lines.forEach((raw, i) => {
    const line = i + 1;
    // links: [text](target "title") and reference definitions [label]: target
    const targets = [...raw.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
    const ref = /^\s*\[[^\]]+\]:\s+(\S+)/.exec(raw);
    if (ref) targets.push(ref[1]);
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      const [p, anchor] = target.split('#');
      if (!p) {
        if (anchor && !anchors(text).has(anchor)) missing.push({ line, path: target, why: `no heading for #${anchor}` });
        continue;
      }
      const abs = path.resolve(dir, decodeURIComponent(p));
      if (!inRepo(abs)) {
        missing.push({ line, path: target, why: 'outside the repository' });
        continue;
      }
      if (!existsSync(abs)) {
        if (!ignored(path.relative(root, abs))) missing.push({ line, path: target, why: 'no such file' });
        continue;
      }
      if (anchor && abs.endsWith('.md') && !anchors(readDoc(abs)).has(anchor)) {
        missing.push({ line, path: target, why: `no heading for #${anchor}` });
      }
    }
    // inline code that names a path, relative to the file's folder or to the repository root
    for (const span of raw.replace(/\]\([^)]*\)/g, ']').matchAll(/`([^`]+)`/g)) {
      for (const { word, base } of pathWords(span[1])) {
        const first = word.split('/')[0];
        const bases = [path.resolve(dir, base), path.resolve(root, base)];
        if (!bases.some((b) => existsSync(path.join(b, first)) || first === '.' || first === '..' || first.includes('*'))) continue;
        const candidates = bases.map((b) => path.resolve(b, word));
        if (candidates.some(exists)) continue;
        if (candidates.some((c) => inRepo(c) && ignored(path.relative(root, c)))) continue;
        missing.push({ line, path: word, why: 'no such file' });
      }
    }
  });
  return missing;
}

/** Every Markdown file of the repository (tracked, or new and not ignored). */
export function markdownFiles(root) {
  return execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '*.md'], { cwd: root, encoding: 'utf8' })
    .split('\0').filter((f) => f && existsSync(path.join(root, f)));
}

/** A `git check-ignore` for many paths (memoised). */
export function gitIgnored(root) {
  const cache = new Map();
  const one = (rel) => {
    if (!cache.has(rel)) {
      let ignored = true;
      try {
        execFileSync('git', ['check-ignore', '-q', '--no-index', rel], { cwd: root });
      } catch {
        ignored = false;
      }
      cache.set(rel, ignored);
    }
    return cache.get(rel);
  };
  // a folder pattern (`/tests/e2e/artifacts/`) matches a path that does not exist only with its trailing slash
  return (rel) => one(rel) || one(`${rel.replace(/\/$/, '')}/`);
}
