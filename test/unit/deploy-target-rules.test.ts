import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {checkBackendFormat, dockerBuilder} from '../../src/config/image-settings.js'
import {checkDeployTarget, checkPushedImage, checkSageMaker} from '../../src/deploy-target-rules.js'
import {imageFacts} from '../../src/image-facts.js'
import {pushArgs} from '../../src/systems/backend.js'
import {containerizeOptions} from '../../src/systems/bentoml.js'
import {type ImageSource} from '../../src/systems/image-source.js'
import {sha256Digest} from '../../src/sha256.js'
import {MEDIA_TYPES} from '../../src/systems/media-types.js'

// Real manifests and the BentoML image config captured from pushes on the local stack; the OCI
// index with attestations and the arm64 config are written by hand (test/fixtures/images/README.md).
const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/images')
const read = (name: string): Buffer => readFileSync(path.join(FIXTURES, name))
const bentoConfig = read('bentoml-image.config.json')

const podmanV2 = imageFacts(MEDIA_TYPES.dockerManifest, read('podman-v2s2.manifest.json'), bentoConfig)
const podmanOci = imageFacts(MEDIA_TYPES.ociManifest, read('podman-oci.manifest.json'), bentoConfig)
const dockerV2 = imageFacts(MEDIA_TYPES.dockerManifest, read('docker-v2.manifest.json'), bentoConfig)
const index = imageFacts(MEDIA_TYPES.ociIndex, read('buildx-index-attestations.json'))
const arm64 = imageFacts(
  MEDIA_TYPES.dockerManifest,
  read('podman-v2s2.manifest.json'),
  read('arm64.config.json'),
)

const byRule = (results: ReturnType<typeof checkSageMaker>) =>
  Object.fromEntries(results.map((result) => [result.rule, result]))

describe('image facts', () => {
  it('reads a BentoML image pushed by podman as Docker V2', () => {
    expect(podmanV2).toMatchObject({
      kind: 'docker-v2',
      os: 'linux',
      architecture: 'amd64',
      layers: 13,
      exposedPorts: ['3000/tcp', '3001/tcp'],
      entrypoint: ['/home/bentoml/bento/env/docker/entrypoint.sh'],
      cmd: null,
      user: 'bentoml',
      manifests: null,
    })
    expect(podmanV2.labels['io.mldeploy.bento']).toMatch(/^iris_v1:/)
    expect(podmanV2.env.BENTO_PATH).toBe('/home/bentoml/bento')
    expect(podmanV2.totalSizeBytes).toBeGreaterThan(400_000_000)
  })

  it('keeps the same layers in both formats', () => {
    expect(podmanOci.kind).toBe('oci-manifest')
    expect(podmanOci.totalSizeBytes).toBe(podmanV2.totalSizeBytes)
  })

  it('reports an index with its manifests and recognises attestations', () => {
    expect(index).toMatchObject({kind: 'oci-index', os: null, layers: 0})
    expect(index.manifests).toEqual([
      expect.objectContaining({platform: 'linux/amd64', attestation: false}),
      expect.objectContaining({platform: 'unknown/unknown', attestation: true}),
    ])
  })

  it('takes the media type from the body when the source does not know it', () => {
    expect(imageFacts('unknown', read('docker-v2.manifest.json'), bentoConfig).kind).toBe('docker-v2')
  })
})

describe('SageMaker rules', () => {
  it('passes the format rules for Docker V2 linux/amd64 (podman v2s2 and docker)', () => {
    for (const facts of [podmanV2, dockerV2]) {
      const rules = byRule(checkSageMaker(facts))
      expect(rules['docker-v2-manifest']).toMatchObject({kind: 'format', ok: true})
      expect(rules['linux-amd64']).toMatchObject({kind: 'format', ok: true})
    }
  })

  it('refuses an OCI manifest, naming the fix', () => {
    const rule = byRule(checkSageMaker(podmanOci))['docker-v2-manifest']!
    expect(rule.ok).toBe(false)
    expect(rule.message).toContain('application/vnd.oci.image.manifest.v1+json')
    expect(rule.fix).toContain('--image-format docker')
  })

  it('refuses an index with attestations and stops at the format rules', () => {
    const results = checkSageMaker(index)
    expect(results.map((result) => result.rule)).toEqual(['docker-v2-manifest', 'linux-amd64'])
    expect(results[0]!.message).toMatch(/index .*attestation manifests/)
    expect(results.every((result) => !result.ok)).toBe(true)
  })

  it('refuses arm64', () => {
    expect(byRule(checkSageMaker(arm64))['linux-amd64']).toMatchObject({
      ok: false,
      message: expect.stringContaining('linux/arm64/v8'),
    })
  })

  it('says plainly why a template BentoML image breaks the contract, and what fixes it', () => {
    const rules = byRule(checkSageMaker(podmanV2, {routes: ['/predict']}))
    expect(rules['starts-with-serve']).toMatchObject({kind: 'contract', ok: true})
    expect(rules['port-8080']).toMatchObject({kind: 'contract', ok: false})
    expect(rules['port-8080']!.message).toContain("port 3000 (BentoML's default)")
    expect(rules['port-8080']!.fix).toMatch(/PORT=8080/)
    expect(rules['ping-and-invocations']!.message).toContain('/predict, not GET /ping and POST /invocations')
    expect(rules['ping-and-invocations']!.fix).toMatch(/route='\/invocations'/)
    expect(rules['runs-as-root']).toMatchObject({ok: false, message: expect.stringContaining('bentoml')})
  })

  it('passes the contract when PORT=8080, the routes exist and the user is root', () => {
    const config = JSON.parse(bentoConfig.toString()) as {config: {Env: string[]; User: string}}
    config.config.Env.push('PORT=8080')
    config.config.User = 'root'
    const facts = imageFacts(
      MEDIA_TYPES.dockerManifest,
      read('podman-v2s2.manifest.json'),
      JSON.stringify(config),
    )
    const results = checkSageMaker(facts, {routes: ['/ping', '/invocations']})
    expect(results.filter((result) => !result.ok)).toEqual([])
  })

  it('uses the service config port when the image sets no PORT', () => {
    expect(byRule(checkSageMaker(podmanV2, {routes: [], port: 8080}))['port-8080']!.ok).toBe(true)
  })

  it('has no rules for any', () => {
    expect(checkDeployTarget('any', podmanOci)).toEqual([])
  })
})

describe('checkPushedImage', () => {
  const source = (mediaType: string, manifest: Buffer, config: Buffer): ImageSource => ({
    manifest: async () => ({mediaType, digest: sha256Digest(manifest), raw: manifest}),
    blob: async () => config,
  })

  it('reads manifest and config, reports the facts and the violations', async () => {
    const manifest = read('podman-v2s2.manifest.json')
    const {facts, violations} = await checkPushedImage(
      source(MEDIA_TYPES.dockerManifest, manifest, bentoConfig),
      'v1',
      'sagemaker',
      {imageFormat: 'docker', bentoApis: {routes: ['/predict']}},
    )
    expect(facts).toMatchObject({kind: 'docker-v2', digest: sha256Digest(manifest)})
    expect(violations.map((v) => v.rule)).toEqual(['port-8080', 'ping-and-invocations', 'runs-as-root'])
  })

  it('flags a format other than the one asked for', async () => {
    const {violations} = await checkPushedImage(
      source(MEDIA_TYPES.ociManifest, read('podman-oci.manifest.json'), bentoConfig),
      'v1',
      'any',
      {imageFormat: 'docker'},
    )
    expect(violations).toEqual([expect.objectContaining({rule: 'requested-format', ok: false})])
  })
})

describe('format settings and arguments', () => {
  it('knows which docker builder is at hand and refuses oci with the classic one', () => {
    expect(dockerBuilder({DOCKER_BUILDKIT: '0'}, true)).toBe('classic')
    expect(dockerBuilder({}, false)).toBe('classic')
    expect(dockerBuilder({}, true)).toBe('buildx')
    const oci = {value: 'oci' as const, source: 'flag --image-format'}
    expect(() => checkBackendFormat('docker', oci, 'classic')).toThrow(/classic builder/)
    expect(() => checkBackendFormat('docker', oci, 'buildx')).not.toThrow()
    expect(() => checkBackendFormat('podman', oci, 'classic')).not.toThrow()
  })

  it('converts on podman push, leaves docker push alone', () => {
    expect(pushArgs('podman', 'r/x:1', '/d')).toEqual([
      'push',
      '--format',
      'v2s2',
      '--digestfile',
      '/d',
      'r/x:1',
    ])
    expect(pushArgs('podman', 'r/x:1', '/d', 'oci')).toContain('oci')
    expect(pushArgs('docker', 'r/x:1', '/d', 'docker')).toEqual(['push', 'r/x:1'])
  })

  it('passes labels and, with buildx only, provenance/SBOM off', () => {
    expect(containerizeOptions({labels: {'a.b': 'x=y,z'}})).toEqual(['--opt', 'label=a.b=x=y,z'])
    expect(containerizeOptions({dockerBuildx: true})).toEqual([
      '--opt',
      'provenance=false',
      '--opt',
      'sbom=false',
    ])
  })
})
