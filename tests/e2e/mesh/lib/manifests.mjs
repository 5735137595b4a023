// The Kubernetes manifests we ship for Istio (envoy/istio) and Envoy Gateway (envoy/gateway), parsed strictly:
// a YAML error or warning (duplicate key, bad indentation, tab) is an error here, as it is for kubectl.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO } from '../../lib/paths.mjs';

export const MANIFEST_DIRS = ['envoy/istio', 'envoy/gateway'];

/** Parse YAML text into plain objects; throws with file:line for any error or warning. */
export function parseManifests(text, file = '<text>') {
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  const out = [];
  for (const doc of docs) {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${file}: ${problems.map((p) => p.message).join('\n')}`);
    const value = doc.toJS({ maxAliasCount: 0 });
    if (value === null || value === undefined) continue;
    out.push(value);
  }
  return out;
}

/** Every .yaml file under the manifest directories (repo-relative), sorted. */
export function manifestFiles() {
  return MANIFEST_DIRS.flatMap((dir) => readdirSync(path.join(REPO, dir))
    .filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => `${dir}/${f}`));
}

/** [{file, index, object}] for every document of every shipped manifest. */
export function loadShippedManifests() {
  return manifestFiles().flatMap((file) => parseManifests(readFileSync(path.join(REPO, file), 'utf8'), file)
    .map((object, index) => ({ file, index, object })));
}

/** The one object of `kind` named `name` in `file`. */
export function findManifest(file, kind, name) {
  const found = loadShippedManifests().filter((m) => m.file === file && m.object.kind === kind
    && (name === undefined || m.object.metadata?.name === name));
  if (found.length !== 1) throw new Error(`${file}: expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0].object;
}

/** The plugin configuration exactly as the proxy gets it: Istio's pluginConfig, Envoy Gateway's wasm[].config. */
export function pluginConfigOf(object) {
  if (object.kind === 'WasmPlugin') return object.spec.pluginConfig;
  if (object.kind === 'EnvoyExtensionPolicy') {
    if (object.spec.wasm?.length !== 1) throw new Error(`${object.metadata.name}: expected one wasm extension`);
    return object.spec.wasm[0].config;
  }
  throw new Error(`${object.kind} carries no plugin configuration`);
}
