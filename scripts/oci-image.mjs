#!/usr/bin/env node
// Packs the built filter (a proxy-wasm module) as OCI images that Istio's WasmPlugin and Envoy Gateway's
// EnvoyExtensionPolicy pull, in an OCI image layout directory. No dependencies beyond Node's standard library;
// the module is taken as it is (never rebuilt, never re-optimised).
//
//   node scripts/oci-image.mjs --wasm target/wasm32-wasip1/release/tollgate_filter.wasm --out target/dist/oci
//   node scripts/oci-image.mjs ... --json          (the same summary as JSON on stdout)
//   node scripts/oci-image.mjs --update-manifests  (write the digest into envoy/istio and envoy/gateway)
//   node scripts/oci-image.mjs --check-manifests   (fail when they do not name the image built here)
//
// Two images, one layout (index.json names them by tag):
//
//   <version>         the "oci" variant of the Wasm image specification: config and first layer
//                     application/vnd.module.wasm.config.v1+json (runtime-config.json), second layer
//                     application/vnd.module.wasm.content.layer.v1+wasm (the raw module, uncompressed).
//   <version>-compat  the "compat" variant: one application/vnd.oci.image.layer.v1.tar+gzip layer holding
//                     plugin.wasm, a standard image config, annotation module.wasm.image/variant=compat. For
//                     registries and tools that refuse custom media types.
//
// Why two layers in the oci variant: Istio (pkg/wasm/imagefetcher.go, extractOCIArtifactImage) and Envoy
// Gateway (internal/wasm/imagefetcher.go, the same function) reject an artifact image whose manifest does not
// have exactly two layers ("number of layers must be 2 but got 1"), and take the module from the layer with the
// content media type. See envoy/istio/README.md for the full rules and their sources.
//
// Everything is deterministic: no timestamps, fixed tar header fields, gzip without a file name or time. The same
// module and version give the same digests on every machine.
import crypto from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { parseCli, workspaceVersion as cliWorkspaceVersion } from './cli.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const MEDIA = Object.freeze({
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  imageConfig: 'application/vnd.oci.image.config.v1+json',
  tarGzipLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  wasmConfig: 'application/vnd.module.wasm.config.v1+json',
  wasmContent: 'application/vnd.module.wasm.content.layer.v1+wasm',
});

export const IMAGE_NAME = 'tollgate-filter';
export const COMPAT_SUFFIX = '-compat';

/** A bad input to the packer; the message says what and where. */
export class PackError extends Error {}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** The workspace version: `[workspace.package] version` in the root Cargo.toml (the one place it is set). */
export function workspaceVersion(cargoToml) {
  try {
    return cliWorkspaceVersion(cargoToml);
  } catch (err) {
    throw new PackError(err.message);
  }
}

function readLeb128(buf, at) {
  let value = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    if (at >= buf.length) throw new PackError('truncated WebAssembly module (LEB128 runs past the end)');
    const byte = buf[at++];
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, at];
    shift += 7;
  }
  throw new PackError('malformed WebAssembly module (LEB128 longer than 5 bytes)');
}

/**
 * The proxy-wasm ABI versions a module declares: the names of its `proxy_abi_version_*` exports (read from the
 * export section). Throws PackError for a file that is not a WebAssembly module or is no proxy-wasm module.
 */
export function proxyAbiVersions(module) {
  if (module.length < 8 || module.readUInt32BE(0) !== 0x0061736d) throw new PackError('not a WebAssembly module (no \\0asm magic)');
  if (module.readUInt32LE(4) !== 1) throw new PackError(`unsupported WebAssembly binary version ${module.readUInt32LE(4)}`);
  const found = [];
  let at = 8;
  while (at < module.length) {
    const id = module[at++];
    let size;
    [size, at] = readLeb128(module, at);
    const end = at + size;
    if (end > module.length) throw new PackError(`truncated WebAssembly module (section ${id} runs past the end)`);
    if (id === 7) {
      let count;
      let p;
      [count, p] = readLeb128(module, at);
      for (let i = 0; i < count; i++) {
        let len;
        [len, p] = readLeb128(module, p);
        const name = module.subarray(p, p + len).toString('utf8');
        p += len + 1; // name, export kind
        [, p] = readLeb128(module, p); // index
        if (name.startsWith('proxy_abi_version_')) found.push(name);
      }
    }
    at = end;
  }
  if (found.length === 0) throw new PackError('not a proxy-wasm module: it exports no proxy_abi_version_* function');
  return found.sort();
}

/** A ustar archive with one regular file (mode 0644, owner 0:0, time 0), padded and terminated. */
export function tarOneFile(name, data) {
  if (Buffer.byteLength(name) > 99) throw new PackError(`tar: file name too long: ${name}`);
  const header = Buffer.alloc(512, 0);
  const put = (offset, length, text) => header.write(text, offset, length, 'ascii');
  put(0, 100, name);
  put(100, 8, '0000644\0');
  put(108, 8, '0000000\0');
  put(116, 8, '0000000\0');
  put(124, 12, `${data.length.toString(8).padStart(11, '0')}\0`);
  put(136, 12, '00000000000\0');
  put(148, 8, '        ');
  put(156, 1, '0');
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  let sum = 0;
  for (const b of header) sum += b;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512, 0);
  return Buffer.concat([header, data, pad, Buffer.alloc(1024, 0)]);
}

/** JSON as stored in a blob: compact, keys in the order written. */
const jsonBlob = (value) => Buffer.from(JSON.stringify(value));

function descriptor(mediaType, blob, annotations) {
  return { mediaType, digest: `sha256:${sha256(blob)}`, size: blob.length, ...(annotations ? { annotations } : {}) };
}

/**
 * Build both images in memory. Returns { version, module: {size, sha256, abiVersions}, images: [{tag, variant,
 * manifest (Buffer), digest, blobs: Map<hex, Buffer>}] }.
 */
export function buildImages(module, { version = workspaceVersion(), name = IMAGE_NAME } = {}) {
  const abiVersions = proxyAbiVersions(module);
  const common = {
    'org.opencontainers.image.title': name,
    'org.opencontainers.image.version': version,
    'org.opencontainers.image.description': 'tollgate: proxy-wasm JWT access-token filter for Envoy, Istio and Envoy Gateway',
    'org.opencontainers.image.licenses': 'Apache-2.0',
  };

  // oci variant: runtime config + raw module.
  const runtimeConfig = jsonBlob({ type: 'envoy_proxy', abiVersions, config: {} });
  const ociManifest = jsonBlob({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: descriptor(MEDIA.wasmConfig, runtimeConfig),
    layers: [
      descriptor(MEDIA.wasmConfig, runtimeConfig, { 'org.opencontainers.image.title': 'runtime-config.json' }),
      descriptor(MEDIA.wasmContent, module, { 'org.opencontainers.image.title': 'plugin.wasm' }),
    ],
    annotations: common,
  });

  // compat variant: plugin.wasm in a gzipped tar layer, a standard image config.
  const tar = tarOneFile('plugin.wasm', module);
  const layer = zlib.gzipSync(tar, { level: 9 });
  const imageConfig = jsonBlob({
    architecture: 'wasm',
    os: 'wasip1',
    config: { Labels: common },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
  });
  const compatManifest = jsonBlob({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: descriptor(MEDIA.imageConfig, imageConfig),
    layers: [descriptor(MEDIA.tarGzipLayer, layer, { 'org.opencontainers.image.title': 'plugin.wasm' })],
    annotations: { ...common, 'module.wasm.image/variant': 'compat' },
  });

  const image = (tag, variant, manifest, blobs) => ({
    tag,
    variant,
    manifest,
    digest: `sha256:${sha256(manifest)}`,
    blobs: new Map([manifest, ...blobs].map((b) => [sha256(b), b])),
  });
  return {
    name,
    version,
    module: { size: module.length, sha256: sha256(module), abiVersions },
    images: [
      image(version, 'oci', ociManifest, [runtimeConfig, module]),
      image(`${version}${COMPAT_SUFFIX}`, 'compat', compatManifest, [imageConfig, layer]),
    ],
  };
}

/** Write an OCI image layout (oci-layout, index.json, blobs/sha256/*) with both images, replacing `dir`. */
export function writeLayout(dir, built) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const img of built.images) {
    for (const [hex, blob] of img.blobs) writeFileSync(path.join(dir, 'blobs', 'sha256', hex), blob);
  }
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: built.images.map((img) => ({
      mediaType: MEDIA.manifest,
      digest: img.digest,
      size: img.manifest.length,
      annotations: { 'org.opencontainers.image.ref.name': img.tag },
    })),
  };
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
}

/** The plain summary: what the release notes and the manifests need. */
export function summary(built, { wasmPath, outDir } = {}) {
  const [oci, compat] = built.images;
  return {
    name: built.name,
    version: built.version,
    layout: outDir,
    module: { path: wasmPath, ...built.module },
    images: built.images.map((img) => ({ tag: img.tag, variant: img.variant, digest: img.digest })),
    // Istio WasmPlugin.spec.sha256 and Envoy Gateway code.image.sha256 for an oci:// image are compared with the
    // image (manifest) digest; for a module fetched over https they are the module's sha256.
    sha256ForOciUrl: oci.digest.slice('sha256:'.length),
    sha256ForCompatOciUrl: compat.digest.slice('sha256:'.length),
    sha256ForHttpsUrl: built.module.sha256,
  };
}

/** A path as the reader typed it: relative to the current directory when it lies below it. */
function shown(p) {
  if (!p) return p;
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

function printSummary(s) {
  const out = [
    `module   ${shown(s.module.path) ?? '(in memory)'}`,
    `         ${s.module.size} bytes, sha256 ${s.module.sha256}, ABI ${s.module.abiVersions.join(', ')}`,
    `layout   ${shown(s.layout)} (OCI image layout, version ${s.version})`,
    ...s.images.map((i) => `image    ${s.name}:${i.tag.padEnd(14)} ${i.variant.padEnd(6)} digest ${i.digest}`),
    '',
    `WasmPlugin.spec.sha256 / EnvoyExtensionPolicy code.image.sha256 for ${s.name}:${s.images[0].tag}:`,
    `         ${s.sha256ForOciUrl}`,
    `for a module served over https (Istio url: https://…, Envoy Gateway code.http.sha256):`,
    `         ${s.sha256ForHttpsUrl}`,
    '',
    `push:    skopeo copy oci:${shown(s.layout)}:${s.images[0].tag} docker://REGISTRY/${s.name}:${s.images[0].tag}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// The deployment manifests name the image by tag and pin it with sha256: keep them equal to what this tree builds.

// Every `sha256:` in these directories pins the tollgate image (Istio spec.sha256, Envoy Gateway
// code.image.sha256), and every `tollgate-filter:<tag>` names it. A module sha256 (for an https:// URL) has no
// place in them; it would be rewritten to the image digest here.
export const MANIFEST_DIRS = ['envoy/istio', 'envoy/gateway'];
const IMAGE_REF = new RegExp(`(${IMAGE_NAME}:)(\\d+\\.\\d+\\.\\d+(?:-[0-9A-Za-z.-]+)?)`, 'g');
const SHA_LINE = /(\bsha256: )(["']?)([0-9a-f]{64}|[^\s"']*)\2/g;

function manifestFiles(root = ROOT) {
  return MANIFEST_DIRS.flatMap((d) => {
    const dir = path.join(root, d);
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(d, f));
  });
}

/** Every `sha256:` and image tag in the deployment manifests, rewritten to the built image. Returns changes. */
export function syncManifests(s, { root = ROOT, write = false } = {}) {
  const problems = [];
  for (const rel of manifestFiles(root)) {
    const file = path.join(root, rel);
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const fixed = lines.map((line, i) => {
      if (/^\s*#/.test(line)) return line;
      let out = line.replace(IMAGE_REF, (all, prefix, tag) => {
        const want = tag.endsWith(COMPAT_SUFFIX) ? `${s.version}${COMPAT_SUFFIX}` : s.version;
        if (tag !== want) problems.push(`${rel}:${i + 1}: image tag ${tag}, this tree builds ${want}`);
        return `${prefix}${want}`;
      });
      out = out.replace(SHA_LINE, (all, prefix, quote, value) => {
        if (value !== s.sha256ForOciUrl) problems.push(`${rel}:${i + 1}: sha256 ${value || '(empty)'}, the image built from this tree has ${s.sha256ForOciUrl}`);
        return `${prefix}${quote}${s.sha256ForOciUrl}${quote}`;
      });
      return out;
    });
    if (write && fixed.join('\n') !== text) writeFileSync(file, fixed.join('\n'));
  }
  return problems;
}

const USAGE = `usage: node scripts/oci-image.mjs [--wasm FILE] [--out DIR] [--json]
       node scripts/oci-image.mjs [--wasm FILE] --update-manifests | --check-manifests
Packs the built filter as OCI images (the Wasm "oci" variant and a "-compat" variant) in an OCI image layout.
  --wasm FILE           the module (default: $TOLLGATE_FILTER_WASM, else target/wasm32-wasip1/release/tollgate_filter.wasm)
  --out DIR             the image layout to write (default: target/dist/oci)
  --json                print the summary as JSON
  --update-manifests    write this build's image digest and tag into envoy/istio and envoy/gateway
  --check-manifests     exit 2 when those manifests do not name this build's image
  --help, --version`;

async function main() {
  const { values } = parseCli({
    name: 'oci-image.mjs',
    usage: USAGE,
    options: {
      wasm: { type: 'string', default: process.env.TOLLGATE_FILTER_WASM || path.join(ROOT, 'target/wasm32-wasip1/release/tollgate_filter.wasm') },
      out: { type: 'string', default: path.join(ROOT, 'target/dist/oci') },
      json: { type: 'boolean', default: false },
      'update-manifests': { type: 'boolean', default: false },
      'check-manifests': { type: 'boolean', default: false },
    },
  });
  if (!existsSync(values.wasm)) {
    throw new PackError(`${values.wasm} does not exist: build the filter first (bash scripts/build.sh)`);
  }
  const built = buildImages(readFileSync(values.wasm));
  const s = summary(built, { wasmPath: values.wasm, outDir: values.out });
  if (values['check-manifests'] || values['update-manifests']) {
    const problems = syncManifests(s, { write: values['update-manifests'] });
    if (values['check-manifests'] && problems.length > 0) {
      throw new PackError(`the deployment manifests do not name this build's image:\n  ${problems.join('\n  ')}\n`
        + 'update them with: node scripts/oci-image.mjs --update-manifests');
    }
    process.stdout.write(problems.length ? `updated:\n  ${problems.join('\n  ')}\n` : 'manifests name this build\'s image\n');
    return;
  }
  writeLayout(values.out, built);
  if (values.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  else printSummary(s);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`oci-image: ${err instanceof PackError ? err.message : err.stack}\n`);
    process.exit(err instanceof PackError ? 2 : 1);
  });
}
