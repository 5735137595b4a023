// The filter as an OCI image: scripts/oci-image.mjs packs the shipped module ($TOLLGATE_FILTER_WASM), skopeo
// pushes it to a real registry on loopback (Debian's docker-registry), and it comes back by digest byte for byte
// through skopeo and through the pull rules of Istio and Envoy Gateway; the pulled module then runs in the real
// Envoy with the Istio manifest's plugin configuration and answers requests.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { REPO, requireWasm } from '../lib/paths.mjs';
import { runToCompletion } from '../lib/proc.mjs';
import { withEnvoy } from '../lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter } from '../lib/envoy-config.mjs';
import { request } from '../lib/http.mjs';
import { mint } from '../fixtures/tokens.mjs';
import { findManifest } from './lib/manifests.mjs';
import { startRegistry, skopeo } from './lib/registry.mjs';
import { pullWasmImage, pluginWasmFromTarGz, getManifest, DOCKER_MANIFEST, DOCKER_LAYER, WASM_LAYER, OCI_LAYER } from './lib/wasm-pull.mjs';
import { MEDIA, workspaceVersion } from '../../../scripts/oci-image.mjs';

const SCRIPT = path.join(REPO, 'scripts', 'oci-image.mjs');
const REPO_NAME = 'tollgate/tollgate-filter';
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tollgate-oci-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function pack(out, wasm = requireWasm()) {
  const { code, output } = await runToCompletion(process.execPath, [SCRIPT, '--wasm', wasm, '--out', out, '--json'], { timeoutMs: 60_000 });
  return { code, output, summary: code === 0 ? JSON.parse(output) : undefined };
}

const layoutBlob = (dir, digest) => readFileSync(path.join(dir, 'blobs', 'sha256', digest.replace(/^sha256:/, '')));
const layoutJson = (dir, digest) => JSON.parse(layoutBlob(dir, digest));

describe('OCI image of the filter: the layout scripts/oci-image.mjs writes', () => {
  const module = readFileSync(requireWasm());
  let first;
  before(async () => {
    first = await pack(path.join(tmp, 'a'));
    assert.equal(first.code, 0, first.output);
  });

  it('summary: module size and sha256, the workspace version, two images, sha256 values for the manifests', () => {
    const s = first.summary;
    assert.equal(s.version, workspaceVersion());
    assert.equal(s.module.size, module.length);
    assert.equal(s.module.sha256, sha256(module));
    assert.deepEqual(s.module.abiVersions, ['proxy_abi_version_0_2_1']);
    assert.deepEqual(s.images.map((i) => [i.tag, i.variant]), [[s.version, 'oci'], [`${s.version}-compat`, 'compat']]);
    assert.equal(s.sha256ForOciUrl, s.images[0].digest.slice(7));
    assert.equal(s.sha256ForHttpsUrl, sha256(module));
  });

  it('the version is the one of Cargo.toml, which the filter crate inherits', async () => {
    const { code, output } = await runToCompletion('cargo', ['metadata', '--no-deps', '--format-version', '1', '--offline'], { cwd: REPO, timeoutMs: 60_000 });
    assert.equal(code, 0, output);
    const filter = JSON.parse(output).packages.find((p) => p.name === 'tollgate-filter');
    assert.equal(filter.version, first.summary.version);
  });

  it('is an OCI image layout whose every blob matches its digest, with both tags in index.json', () => {
    const dir = path.join(tmp, 'a');
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
    assert.equal(index.mediaType, MEDIA.index);
    assert.deepEqual(index.manifests.map((m) => [m.annotations['org.opencontainers.image.ref.name'], m.digest]),
      first.summary.images.map((i) => [i.tag, i.digest]));
    for (const m of index.manifests) {
      const blob = layoutBlob(dir, m.digest);
      assert.equal(`sha256:${sha256(blob)}`, m.digest);
      assert.equal(blob.length, m.size);
      const manifest = JSON.parse(blob);
      for (const d of [manifest.config, ...manifest.layers]) {
        const b = layoutBlob(dir, d.digest);
        assert.equal(`sha256:${sha256(b)}`, d.digest);
        assert.equal(b.length, d.size);
      }
    }
  });

  it('oci variant: config and first layer are the runtime config, second layer is the raw module', () => {
    const dir = path.join(tmp, 'a');
    const manifest = layoutJson(dir, first.summary.images[0].digest);
    assert.equal(manifest.mediaType, MEDIA.manifest);
    assert.equal(manifest.config.mediaType, 'application/vnd.module.wasm.config.v1+json');
    assert.deepEqual(manifest.layers.map((l) => [l.mediaType, l.annotations['org.opencontainers.image.title']]), [
      ['application/vnd.module.wasm.config.v1+json', 'runtime-config.json'],
      ['application/vnd.module.wasm.content.layer.v1+wasm', 'plugin.wasm'],
    ]);
    assert.deepEqual(layoutBlob(dir, manifest.layers[1].digest), module);
    assert.deepEqual(layoutJson(dir, manifest.config.digest), { type: 'envoy_proxy', abiVersions: ['proxy_abi_version_0_2_1'], config: {} });
    assert.equal(manifest.annotations['org.opencontainers.image.version'], first.summary.version);
  });

  it('compat variant: one tar+gzip layer holding plugin.wasm, a standard image config whose diff_id is the tar', () => {
    const dir = path.join(tmp, 'a');
    const manifest = layoutJson(dir, first.summary.images[1].digest);
    assert.equal(manifest.config.mediaType, MEDIA.imageConfig);
    assert.equal(manifest.annotations['module.wasm.image/variant'], 'compat');
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), [OCI_LAYER]);
    const gz = layoutBlob(dir, manifest.layers[0].digest);
    assert.deepEqual(pluginWasmFromTarGz(gz), module);
    const config = layoutJson(dir, manifest.config.digest);
    assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: [`sha256:${sha256(zlib.gunzipSync(gz))}`] });
    assert.deepEqual([config.os, config.architecture], ['wasip1', 'wasm']);
  });

  it('is reproducible: packing again gives the same digests and the same bytes', async () => {
    const again = await pack(path.join(tmp, 'b'));
    assert.equal(again.code, 0, again.output);
    assert.deepEqual(again.summary.images, first.summary.images);
    assert.equal(readFileSync(path.join(tmp, 'b', 'index.json'), 'utf8'), readFileSync(path.join(tmp, 'a', 'index.json'), 'utf8'));
  });

  it('refuses what is not a proxy-wasm module, with the reason', async () => {
    const notWasm = await pack(path.join(tmp, 'x'), path.join(REPO, 'Cargo.toml'));
    assert.equal(notWasm.code, 2);
    assert.equal(notWasm.output, 'oci-image: not a WebAssembly module (no \\0asm magic)\n');
    const bare = path.join(tmp, 'bare.wasm');
    writeFileSync(bare, Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    const noAbi = await pack(path.join(tmp, 'x'), bare);
    assert.equal(noAbi.code, 2);
    assert.equal(noAbi.output, 'oci-image: not a proxy-wasm module: it exports no proxy_abi_version_* function\n');
    const missing = await pack(path.join(tmp, 'x'), path.join(tmp, 'absent.wasm'));
    assert.equal(missing.code, 2);
    assert.equal(missing.output, `oci-image: ${path.join(tmp, 'absent.wasm')} does not exist: build the filter first (bash scripts/build.sh)\n`);
  });
});

describe('OCI image of the filter: through a real registry and back', () => {
  const module = readFileSync(requireWasm());
  let registry;
  let s;
  const layout = path.join(tmp, 'push');
  before(async () => {
    const packed = await pack(layout);
    assert.equal(packed.code, 0, packed.output);
    s = packed.summary;
    registry = await startRegistry();
    for (const { tag } of s.images) {
      await skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${registry.host}/${REPO_NAME}:${tag}`]);
    }
  });
  after(async () => {
    await registry?.stop();
  });

  it('the registry serves both images under the digests the layout has (nothing was rewritten on push)', async () => {
    for (const { tag, digest } of s.images) {
      const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/${REPO_NAME}:${tag}`]);
      assert.equal(`sha256:${sha256(Buffer.from(raw))}`, digest, tag);
      const got = await getManifest(registry.host, REPO_NAME, tag);
      assert.equal(got.digest, digest);
      assert.equal(got.contentType, MEDIA.manifest);
    }
  });

  it('skopeo pulls the oci variant back by digest: same manifest, the module byte for byte', async () => {
    const [oci] = s.images;
    const back = path.join(tmp, 'pulled');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${registry.host}/${REPO_NAME}@${oci.digest}`, `oci:${back}:pulled`]);
    const index = JSON.parse(readFileSync(path.join(back, 'index.json'), 'utf8'));
    assert.equal(index.manifests[0].digest, oci.digest);
    const manifest = layoutJson(back, oci.digest);
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), ['application/vnd.module.wasm.config.v1+json', WASM_LAYER]);
    assert.deepEqual(layoutBlob(back, manifest.layers[1].digest), module);
  });

  for (const flavour of ['istio', 'envoy-gateway']) {
    it(`${flavour} pull rules: both variants by digest and tag give the module byte for byte, sha256 checked`, async () => {
      for (const { tag, digest, variant } of s.images) {
        const byDigest = await pullWasmImage(registry.host, REPO_NAME, digest, { flavour, checksum: digest.slice(7) });
        assert.equal(byDigest.variant, variant);
        assert.deepEqual(byDigest.module, module);
        const byTag = await pullWasmImage(registry.host, REPO_NAME, tag, { flavour, checksum: digest.slice(7) });
        assert.equal(byTag.digest, digest);
      }
    });
  }

  it('a Docker-format copy (skopeo --format v2s2 of the compat image) is pulled by the Docker rule', async () => {
    const tag = `${s.version}-docker`;
    await skopeo(['copy', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${layout}:${s.images[1].tag}`, `docker://${registry.host}/${REPO_NAME}:${tag}`]);
    for (const flavour of ['istio', 'envoy-gateway']) {
      const pulled = await pullWasmImage(registry.host, REPO_NAME, tag, { flavour });
      assert.equal(pulled.variant, 'docker');
      assert.equal(pulled.manifest.mediaType, DOCKER_MANIFEST);
      assert.deepEqual(pulled.manifest.layers.map((l) => l.mediaType), [DOCKER_LAYER]);
      assert.deepEqual(pulled.module, module);
    }
    // The oci variant has no Docker form: skopeo says so instead of producing something no proxy can read.
    const refused = await skopeo(['copy', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${layout}:${s.version}`,
      `docker://${registry.host}/${REPO_NAME}:refused`], { expectFailure: true });
    assert.match(refused, /creating an updated image manifest: unsupported image-specific operation on artifact with type \\"application\/vnd\.module\.wasm\.config\.v1\+json\\"/);
  });

  it('a wrong sha256 is refused as Istio and Envoy Gateway refuse it', async () => {
    const wrong = '0'.repeat(64);
    await assert.rejects(pullWasmImage(registry.host, REPO_NAME, s.version, { checksum: wrong }), {
      message: `module downloaded from oci://${registry.host}/${REPO_NAME}:${s.version} has checksum ${s.sha256ForOciUrl}, which does not match: ${wrong}`,
    });
    // The module's own sha256 is not the image's: it is the value for https:// URLs only.
    await assert.rejects(pullWasmImage(registry.host, REPO_NAME, s.version, { checksum: s.sha256ForHttpsUrl }), /which does not match/);
  });

  it('why the oci variant has two layers: an artifact with only the module layer is refused by both proxies', async () => {
    const single = path.join(tmp, 'single');
    mkdirSync(path.join(single, 'blobs', 'sha256'), { recursive: true });
    const put = (buf) => {
      writeFileSync(path.join(single, 'blobs', 'sha256', sha256(buf)), buf);
      return { digest: `sha256:${sha256(buf)}`, size: buf.length };
    };
    const config = Buffer.from('{"type":"envoy_proxy"}');
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: 'application/vnd.module.wasm.config.v1+json', ...put(config) },
      layers: [{ mediaType: WASM_LAYER, ...put(module) }],
    }));
    const m = put(manifest);
    writeFileSync(path.join(single, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(path.join(single, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MEDIA.manifest, ...m, annotations: { 'org.opencontainers.image.ref.name': 'one-layer' } }] }));
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${single}:one-layer`, `docker://${registry.host}/${REPO_NAME}:one-layer`]);
    await assert.rejects(pullWasmImage(registry.host, REPO_NAME, 'one-layer', { flavour: 'istio' }), {
      message: 'the given image is in invalid format as an OCI image: could not parse as compat variant: invalid media type '
        + `${WASM_LAYER} (expect ${OCI_LAYER}); could not parse as oci variant: number of layers must be 2 but got 1`,
    });
  });

  it('the module pulled by digest loads in the real Envoy with the Istio manifest\'s pluginConfig and answers', async () => {
    const pulled = await pullWasmImage(registry.host, REPO_NAME, s.images[0].digest, { checksum: s.sha256ForOciUrl });
    const file = path.join(tmp, 'pulled-plugin.wasm');
    writeFileSync(file, pulled.module);
    const plugin = findManifest('envoy/istio/wasmplugin.yaml', 'WasmPlugin');
    assert.equal(plugin.spec.sha256, s.sha256ForOciUrl);
    const config = (upstreamPort) => toYaml(bootstrap({ upstreamPort, httpFilters: [tollgateFilter(plugin.spec.pluginConfig, { wasm: file })] }));
    await withEnvoy(config, { name: 'oci-pulled' }, async (envoy) => {
      const port = envoy.listenerPort('ingress');
      const ok = await request(port, { path: '/orders', headers: { authorization: `Bearer ${await mint({ scope: 'orders:read' })}` } });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.json.headers['x-user-id'], 'user-1234');
      const none = await request(port, { path: '/orders' });
      assert.equal(none.status, 401);
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="orders-api"');
      // The filter names its version when it is configured (once it logs one, it must be the workspace version).
      const configured = envoy.log().split('\n').filter((l) => l.includes('tollgate') && l.includes('configured'));
      assert.ok(configured.length > 0, 'the filter logged its configuration');
      for (const line of configured) {
        const version = /\b(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\b/.exec(line.replace(/^\[[^\]]*\]/, '').replace(/\[[^\]]*\]/g, ''));
        if (version) assert.equal(version[1], s.version, line);
      }
    });
  });
});
