import {readFileSync} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {execa} from 'execa'
import {describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {REPO_ROOT, runCli, tempDir} from '../helpers/cli.js'
import {freePort} from '../helpers/moto.js'
import {pushArgs} from '../../src/systems/backend.js'
import {type Registry, registryDigest} from './registry.js'

// Issue 11 for real: the example pushed by `mldeploy push` with podman in the default (docker)
// format, then the same local image pushed again in OCI (one containerize, two pushes). The real
// registry is the judge: its manifest media type, the sha256 of what it serves, the labels in the
// config blob it serves; `inspect --registry` must report the same. moto serves no layers
// (GetDownloadUrlForLayer), so ECR's config path is covered by the registry API here and by unit
// tests. Docker is left out to keep within the issue's +5 min of CI (containerize + push take ~8 min
// cold on this machine); its format and labels were checked by hand (test/fixtures/images/README.md).
const stack = inject('stackEnv')
const registry: Registry = {host: stack.MLDEPLOY_REGISTRY!, password: stack.MLDEPLOY_REGISTRY_PASSWORD!}
const EXAMPLE = path.join(REPO_ROOT, 'examples/project')
const TARGET_DIR = path.join(EXAMPLE, 'deploy/iris/V1')
const RUN = Date.now().toString(36)
const REPOSITORY = `iris-${RUN}/images`
const DOCKER_V2 = 'application/vnd.docker.distribution.manifest.v2+json'
const OCI = 'application/vnd.oci.image.manifest.v1+json'

function env(extra: Record<string, string> = {}): Record<string, string> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  )
  return {...base, ...stack, ...extra}
}

const auth = `Basic ${Buffer.from(`AWS:${registry.password}`).toString('base64')}`

async function served(reference: string): Promise<{mediaType: string; sha: string; body: Buffer}> {
  const response = await fetch(`http://${registry.host}/v2/${REPOSITORY}/manifests/${reference}`, {
    headers: {authorization: auth, accept: [DOCKER_V2, OCI].join(', ')},
  })
  expect(response.status).toBe(200)
  const body = Buffer.from(await response.arrayBuffer())
  const {createHash} = await import('node:crypto')
  return {
    mediaType: response.headers.get('content-type') ?? '',
    sha: `sha256:${createHash('sha256').update(body).digest('hex')}`,
    body,
  }
}

async function configLabels(manifest: Buffer): Promise<Record<string, string>> {
  const digest = (JSON.parse(manifest.toString()) as {config: {digest: string}}).config.digest
  const response = await fetch(`http://${registry.host}/v2/${REPOSITORY}/blobs/${digest}`, {
    headers: {authorization: auth},
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as {config: {Labels: Record<string, string>}}).config.Labels
}

function sampleRecords(): Array<Record<string, number>> {
  const [header, ...rows] = readFileSync(path.join(TARGET_DIR, 'example_input.csv'), 'utf8')
    .trim()
    .split('\n')
  const columns = header!.split(',')
  return rows.map((row) => Object.fromEntries(row.split(',').map((value, i) => [columns[i]!, Number(value)])))
}

async function predicts(image: string): Promise<void> {
  const port = await freePort()
  const name = `mldeploy-e2e-images-${port}`
  await execa('podman', ['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:3000`, image], {env: env()})
  try {
    for (let i = 0; i < 240; i++) {
      if (
        await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break
      await sleep(500)
    }
    const response = await fetch(`http://127.0.0.1:${port}/predict`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({data: sampleRecords()}),
    })
    expect(response.status).toBe(200)
  } finally {
    await execa('podman', ['rm', '-f', name], {env: env(), reject: false})
  }
}

describe('images that run where they are deployed, for real', () => {
  it('podman: Docker V2 by default with provenance labels, OCI on request, inspect reports them', async () => {
    const started = performance.now()
    await createRepository(stack.AWS_ENDPOINT_URL!, REPOSITORY)
    const pushed = await runCli(
      // --rebuild (issue 12): the labels checked below are this build's, not a reused image's.
      ['push', 'iris/V1', '--repository', REPOSITORY, '--backend', 'podman', '--json', '--rebuild'],
      {
        cwd: EXAMPLE,
        env: env(),
      },
    )
    const json = JSON.parse(pushed.stdout) as {
      bentoTag: string
      digest: string
      images: string[]
      error?: unknown
    }
    expect(json.error).toBeUndefined()
    expect(pushed.exitCode).toBe(0)
    const version = json.bentoTag.split(':')[1]!

    // The default format is what the registry holds, under the digest podman reported.
    const v2 = await served(version)
    expect(v2.mediaType).toBe(DOCKER_V2)
    expect(v2.sha).toBe(json.digest)
    expect(await registryDigest(registry, REPOSITORY, 'latest')).toBe(json.digest)

    // The labels are in the image config the registry serves.
    const labels = await configLabels(v2.body)
    expect(labels).toMatchObject({
      'io.mldeploy.bento': json.bentoTag,
      'org.opencontainers.image.version': version,
      'org.opencontainers.image.title': 'iris/V1',
      'io.mldeploy.models': expect.stringMatching(/^iris-classifier:/),
      'io.mldeploy.mlflow.run-id': expect.stringMatching(/^[0-9a-f]{32}$/),
      'io.mldeploy.mlflow.model-uri': 'models:/iris-classifier/latest',
      'org.opencontainers.image.revision': expect.stringMatching(/^[0-9a-f]{40}(-dirty)?$/),
      'org.opencontainers.image.created': expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
    expect(JSON.stringify(labels)).not.toContain(registry.password)

    // inspect reads it back from the registry API, without pulling.
    const inspected = await runCli(
      [
        'inspect',
        'iris/V1',
        '--repository',
        REPOSITORY,
        '--registry',
        registry.host,
        '--tag',
        version,
        '--json',
      ],
      {cwd: EXAMPLE, env: env()},
    )
    expect(inspected.exitCode).toBe(0)
    const report = JSON.parse(inspected.stdout) as Record<string, unknown>
    expect(report).toMatchObject({
      digest: json.digest,
      mediaType: DOCKER_V2,
      platform: 'linux/amd64',
      pushedAt: null,
      // The bento version, latest and the content tag (issue 12), whatever their order.
      tags: expect.arrayContaining([version, 'latest', expect.stringMatching(/^content-[0-9a-f]{12}$/)]),
      labels: expect.objectContaining({'io.mldeploy.bento': json.bentoTag}),
    })
    expect(report.provenance).toMatch(
      /^model iris-classifier:\S+ from MLflow run [0-9a-f]{8}…, commit [0-9a-f]{7}/,
    )
    const missing = await runCli(
      [
        'inspect',
        'iris/V1',
        '--repository',
        REPOSITORY,
        '--registry',
        registry.host,
        '--tag',
        'nope',
        '--json',
      ],
      {cwd: EXAMPLE, env: env()},
    )
    expect(missing.exitCode).toBe(3)

    // The same local image, pushed again in OCI: same layers, a new manifest, the reported digest.
    const dir = tempDir('mldeploy-e2e-images-')
    const authFile = path.join(dir, 'auth.json')
    await execa('podman', ['login', '--username', 'AWS', '--password-stdin', registry.host], {
      input: registry.password,
      env: env({REGISTRY_AUTH_FILE: authFile}),
    })
    const ociImage = `${registry.host}/${REPOSITORY}:oci`
    await execa('podman', ['tag', json.images[0]!, ociImage], {env: env()})
    const digestFile = path.join(dir, 'digest')
    await execa('podman', pushArgs('podman', ociImage, digestFile, 'oci'), {
      env: env({REGISTRY_AUTH_FILE: authFile}),
    })
    const oci = await served('oci')
    expect(oci.mediaType).toBe(OCI)
    expect(oci.sha).toBe(readFileSync(digestFile, 'utf8').trim())
    expect(oci.sha).not.toBe(json.digest)
    expect(await configLabels(oci.body)).toEqual(labels)

    // The pushed image still runs and answers.
    await predicts(json.images[0]!)
    console.log(`images e2e: ${((performance.now() - started) / 1000).toFixed(1)} s`)
  })
})
