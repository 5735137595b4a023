// Pull a Wasm image from a registry over the distribution HTTP API and take the module out of it by the rules
// Istio and Envoy Gateway apply. Those rules are restated here (not copied) from:
//   Istio          pkg/wasm/imagefetcher.go (PrepareFetch, extractDockerImage, extractOCIStandardImage,
//                  extractOCIArtifactImage) and pkg/wasm/cache.go (checksum comparison, isValidWasmBinary);
//   Envoy Gateway  internal/wasm/imagefetcher.go and internal/wasm/cache.go (the same functions, derived from
//                  Istio's; Docker and compat images may have several layers there, the last one counts).
// The error messages are theirs, so a test failing here reads like the proxy's log would.
import crypto from 'node:crypto';
import zlib from 'node:zlib';

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const WASM_LAYER = 'application/vnd.module.wasm.content.layer.v1+wasm';

const ACCEPT = [OCI_MANIFEST, DOCKER_MANIFEST, 'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** One image as a registry serves it: the manifest by tag or digest, with its digest checked. */
export async function getManifest(host, repo, reference) {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${reference}`, { headers: { accept: ACCEPT } });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`could not fetch manifest: GET ${reference}: HTTP ${res.status} ${body}`);
  const digest = `sha256:${sha256(body)}`;
  const served = res.headers.get('docker-content-digest');
  if (served && served !== digest) throw new Error(`manifest digest ${digest} differs from Docker-Content-Digest ${served}`);
  if (reference.startsWith('sha256:') && reference !== digest) throw new Error(`manifest ${reference} has digest ${digest}`);
  return { body, digest, contentType: res.headers.get('content-type'), manifest: JSON.parse(body) };
}

/** A blob by digest, verified. */
export async function getBlob(host, repo, desc) {
  const res = await fetch(`http://${host}/v2/${repo}/blobs/${desc.digest}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`could not get layer content: GET ${desc.digest}: HTTP ${res.status}`);
  if (`sha256:${sha256(body)}` !== desc.digest) throw new Error(`blob ${desc.digest} has digest sha256:${sha256(body)}`);
  if (body.length !== desc.size) throw new Error(`blob ${desc.digest} is ${body.length} bytes, its descriptor says ${desc.size}`);
  return body;
}

/** The file named plugin.wasm (any directory) in a gzipped tar, as both proxies search for it. */
export function pluginWasmFromTarGz(gz) {
  let tar;
  try {
    tar = zlib.gunzipSync(gz);
  } catch (err) {
    throw new Error(`failed to parse layer as tar.gz: ${err.message}`);
  }
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const prefix = header.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
    const full = prefix ? `${prefix}/${name}` : name;
    const data = tar.subarray(at + 512, at + 512 + size);
    if (full.split('/').pop() === 'plugin.wasm') return Buffer.from(data);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error('plugin.wasm not found in the archive');
}

function lastTarLayer(layers, wanted, flavour) {
  if (flavour === 'istio') {
    if (layers.length !== 1) throw new Error(`number of layers must be 1 but got ${layers.length}`);
  } else if (layers.length === 0) {
    throw new Error('number of layers must be greater than zero');
  }
  const layer = layers[layers.length - 1];
  if (layer.mediaType !== wanted) throw new Error(`invalid media type ${layer.mediaType} (expect ${wanted})`);
  return layer;
}

/**
 * Pull `repo:reference` from `host` as `flavour` ('istio' or 'envoy-gateway') would, checking `checksum` (the
 * WasmPlugin / EnvoyExtensionPolicy sha256, hex) against the image digest when given. Resolves
 * { module, digest, variant, manifest }.
 */
export async function pullWasmImage(host, repo, reference, { flavour = 'istio', checksum } = {}) {
  const url = `oci://${host}/${repo}:${reference}`;
  let got;
  try {
    got = await getManifest(host, repo, reference);
  } catch (err) {
    throw new Error(`could not fetch Wasm OCI image: ${err.message}`);
  }
  const actual = got.digest.slice('sha256:'.length);
  if (checksum && checksum !== actual) {
    throw new Error(`module downloaded from ${url} has checksum ${actual}, which does not match: ${checksum}`);
  }
  const layers = got.manifest.layers ?? [];
  let module;
  let variant;
  if (got.manifest.mediaType === DOCKER_MANIFEST) {
    try {
      module = pluginWasmFromTarGz(await getBlob(host, repo, lastTarLayer(layers, DOCKER_LAYER, flavour)));
    } catch (err) {
      throw new Error(`could not extract Wasm file from the image as Docker container ${err.message}`);
    }
    variant = 'docker';
  } else {
    let errCompat;
    try {
      module = pluginWasmFromTarGz(await getBlob(host, repo, lastTarLayer(layers, OCI_LAYER, flavour)));
      variant = 'compat';
    } catch (err) {
      errCompat = err;
    }
    if (!module) {
      try {
        if (layers.length !== 2) throw new Error(`number of layers must be 2 but got ${layers.length}`);
        const layer = layers.find((l) => l.mediaType === WASM_LAYER);
        if (!layer) throw new Error(`could not find the layer of type ${WASM_LAYER}`);
        module = await getBlob(host, repo, layer);
        variant = 'oci';
      } catch (errOci) {
        throw new Error('the given image is in invalid format as an OCI image: '
          + `could not parse as compat variant: ${errCompat.message}; could not parse as oci variant: ${errOci.message}`);
      }
    }
  }
  if (module.length < 8 || module.readUInt32BE(0) !== 0x0061736d) throw new Error(`fetched Wasm binary from ${url} is invalid`);
  return { module, digest: got.digest, variant, manifest: got.manifest, contentType: got.contentType };
}
