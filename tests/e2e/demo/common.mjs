// What the two demos share: the folder that keeps their logs after they stop, the preferred ports and the line
// that says when one was busy, and how paths are shown.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPO } from '../lib/paths.mjs';
import { isPortFree } from '../lib/net.mjs';

/** Where the demos keep their logs, one folder per run (git-ignored): $TOLLGATE_DEMO_LOGS, else .demo/logs. */
export function logBase(option) {
  return path.resolve(option ?? process.env.TOLLGATE_DEMO_LOGS ?? path.join(REPO, '.demo', 'logs'));
}

/** A new folder for this run's logs, named by the UTC start time (20261201T200113Z, then -2, -3 … on a clash). */
export function newLogDir(base, now = new Date()) {
  const stamp = now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
  mkdirSync(base, { recursive: true });
  for (let n = 1; ; n += 1) {
    const dir = path.join(base, n === 1 ? stamp : `${stamp}-${n}`);
    try {
      mkdirSync(dir);
      return dir;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
  }
}

/** `p` as a user wants to read it: relative to the working directory when it lies below it, else absolute. */
export function shown(p) {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

/**
 * The ports to ask for: each wanted port if it is free now, else 0 (the kernel picks one when the component
 * starts). `wanted` maps a key to { port, what } (port 0 or undefined: any free port).
 */
export async function choosePorts(wanted) {
  const ports = {};
  for (const [key, { port }] of Object.entries(wanted)) {
    ports[key] = port && (await isPortFree(port)) ? port : 0;
  }
  return ports;
}

/** One line per component that did not get the port it wanted: "port 9000 (authorization server) is busy: it took 41234 instead". */
export function busyPortLines(wanted, actual) {
  const lines = [];
  for (const [key, { port, what }] of Object.entries(wanted)) {
    if (port && actual[key] !== port) lines.push(`port ${port} (${what}) is busy: it took ${actual[key]} instead`);
  }
  return lines;
}

/** The lines that list the kept logs, `files` mapping a label to a path. */
export function logLines(dir, files) {
  const width = Math.max(...Object.keys(files).map((k) => k.length)) + 1;
  return [
    `Logs of this run (kept after the demo stops): ${shown(dir)}${path.sep}`,
    ...Object.entries(files).map(([label, file]) => `  ${`${label}:`.padEnd(width)} ${shown(file)}`),
  ];
}
