import path from 'node:path'

import {setTimeout as sleep} from 'node:timers/promises'

import {execa} from 'execa'
import {afterAll, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {REPO_ROOT, runCli} from '../helpers/cli.js'
import {ADAPTER_LABEL, ADAPTER_SHA} from '../../src/systems/sagemaker-adapter.js'
import {SERVING_LABEL} from '../../src/systems/serving.js'
import {type Registry, registryManifest} from './registry.js'

// Issue 24 §1 and §2 for real: the real bentoml builds the example, podman containerizes it and
// builds the SageMaker adapter layer on it, the push uploads the adapted image, and the local
// contract run starts it with `serve`, no network and a memory limit, and gets a real prediction
// from the example's unchanged service.py through POST /invocations with example_input.csv
// (text/csv). The same target without the adapter fails the contract run (exit 10) with the
// reason. The second push reuses the first one's bento store and layers (one containerize).
// The same through the stack's private dockerd, as mldeploy drives it there (DOCKER_BUILDKIT=0,
// no buildx: the classic builder): the layer's FROM exists only in that engine, and nothing is
// pulled; the pushed image is a single-platform Docker V2 manifest, and it serves.
const stack = inject('stackEnv')
const registry: Registry = {host: stack.MLDEPLOY_REGISTRY!, password: stack.MLDEPLOY_REGISTRY_PASSWORD!}
const EXAMPLE = path.join(REPO_ROOT, 'examples/project')
const RUN = Date.now().toString(36)
const REPOSITORY = `iris-${RUN}/sagemaker`

function env(extra: Record<string, string> = {}): Record<string, string> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  )
  return {...base, ...stack, ...extra}
}

async function leftovers(backend: string): Promise<string> {
  const listed = await execa(
    backend,
    ['ps', '-a', '--filter', `label=${SERVING_LABEL}`, '--format', '{{.Names}}'],
    {
      env: env(),
      reject: false,
    },
  )
  return listed.stdout.trim()
}

interface PushJson {
  digest: string | null
  imageRules: Array<{rule: string; ok: boolean}>
  sagemaker: {
    adapter: {sha: string; api: string | null; route: string | null} | null
    serving: {status: number | null; body: string | null; secondsToAnswer: number | null} | null
  } | null
  error?: {exitCode: number; message: string; step?: string}
  steps: Array<{id: string; status: string}>
}

/** The running contract-run container's memory limit in bytes, read while it waits for /ping. */
async function servingMemoryLimit(backend: string): Promise<number | undefined> {
  for (let i = 0; i < 600; i++) {
    const name = (await leftovers(backend)).split('\n')[0]
    if (name) {
      const inspected = await execa(backend, ['inspect', '--format', '{{.HostConfig.Memory}}', name], {
        env: env(),
        reject: false,
      })
      if (inspected.exitCode === 0) return Number(inspected.stdout.trim())
    }
    await sleep(500)
  }
  return undefined
}

// The images this file made (the adapted ones and the bento images beneath them) go with it.
afterAll(async () => {
  for (const backend of ['podman', 'docker']) {
    const listed = await execa(backend, ['images', '--format', '{{.Repository}}:{{.Tag}}'], {
      env: env(),
      reject: false,
    })
    const ours = listed.stdout.split('\n').filter((name) => name.includes(REPOSITORY))
    if (ours.length > 0) await execa(backend, ['rmi', '--force', ...ours], {env: env(), reject: false})
  }
})

describe('a SageMaker-servable image from an unchanged service.py, proven locally (podman)', () => {
  it('the adapter layer serves a real prediction through /invocations; without it the contract run fails, exit 10', async () => {
    await createRepository(stack.AWS_ENDPOINT_URL!, REPOSITORY)
    const common = ['push', 'iris/V1', '--repository', REPOSITORY, '--backend', 'podman', '--json']
    const pushed = await runCli([...common, '--deploy-target', 'sagemaker', '--check-serving'], {
      cwd: EXAMPLE,
      env: env(),
    })
    const json = JSON.parse(pushed.stdout) as PushJson
    expect(json.error, pushed.stderr.slice(-3000)).toBeUndefined()
    expect(pushed.exitCode).toBe(0)
    expect(json.sagemaker?.adapter).toEqual({sha: ADAPTER_SHA, api: 'predict', route: '/predict'})
    expect(json.imageRules.every((rule) => rule.ok)).toBe(true)
    expect(json.sagemaker?.serving?.status).toBe(200)
    // A real prediction of the example's three rows.
    expect(JSON.parse(json.sagemaker!.serving!.body!)).toEqual({
      prediction: [expect.any(String), expect.any(String), expect.any(String)],
    })
    expect(json.steps.find((step) => step.id === 'serving')?.status).toBe('done')
    console.log(
      `contract run: serve → first /invocations answer in ${json.sagemaker?.serving?.secondsToAnswer} s`,
    )

    // inspect shows the adapter's label.
    const inspected = await runCli(['inspect', 'iris/V1', '--repository', REPOSITORY, '--json'], {
      cwd: EXAMPLE,
      env: env(),
    })
    expect(inspected.stdout).toContain(ADAPTER_LABEL)

    // Without the adapter: the contract rules only warn (the run decides), and the run fails.
    // Its container waits 20 s for a /ping that never comes: time to read its memory limit.
    const running = runCli(
      [
        ...common,
        '--deploy-target',
        'sagemaker',
        '--check-serving',
        '--no-sagemaker-adapter',
        '--serving-memory',
        '1536m',
        '--timeout',
        'serving=20s',
      ],
      {cwd: EXAMPLE, env: env()},
    )
    const memory = await servingMemoryLimit('podman')
    const bare = await running
    expect(memory).toBe(1536 * 1024 * 1024)
    const failed = JSON.parse(bare.stdout) as PushJson
    expect(bare.exitCode, bare.stderr.slice(-3000)).toBe(10)
    expect(failed.error?.step).toBe('serving')
    expect(failed.error?.message).toMatch(/GET \/ping never answered 200/)
    // No tag moved to the image that failed.
    expect(failed.steps.find((step) => step.id === 'tag')?.status).toBe('skipped')
    expect(await leftovers('podman')).toBe('')
  })
})

describe('the same through a real Docker engine (the classic builder, as the stack drives docker)', () => {
  it('the layer builds FROM the local bento image without a pull, pushes as Docker V2 and serves', async () => {
    const repository = `${REPOSITORY}-docker`
    await createRepository(stack.AWS_ENDPOINT_URL!, repository)
    const pushed = await runCli(
      [
        'push',
        'iris/V1',
        '--repository',
        repository,
        '--backend',
        'docker',
        '--deploy-target',
        'sagemaker',
        '--check-serving',
        '--json',
      ],
      {cwd: EXAMPLE, env: env()},
    )
    const json = JSON.parse(pushed.stdout) as PushJson
    expect(json.error, pushed.stderr.slice(-3000)).toBeUndefined()
    expect(pushed.exitCode).toBe(0)
    // No pull of the FROM image: the layer's base is the local bento image (a pull would fail here).
    expect(pushed.stderr).not.toMatch(/docker\.io|registry-1\.docker|pull access denied/)
    const manifest = (await registryManifest(registry, repository, 'latest')) as unknown as {
      mediaType: string
    }
    expect(manifest.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json')
    expect(json.imageRules.every((rule) => rule.ok)).toBe(true)
    expect(json.sagemaker?.serving?.status).toBe(200)
    expect(JSON.parse(json.sagemaker!.serving!.body!)).toEqual({
      prediction: [expect.any(String), expect.any(String), expect.any(String)],
    })
    console.log(
      `contract run (docker): serve → first /invocations answer in ${json.sagemaker?.serving?.secondsToAnswer} s`,
    )
    expect(await leftovers('docker')).toBe('')
  })
})
