import {cpSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {REPO_ROOT, runCli, tempDir} from '../helpers/cli.js'
import {freePort, type Moto, startMoto} from '../helpers/moto.js'
import {type Registry, registryDigest, registryTags} from './registry.js'

// The whole pipeline for real: the real bentoml (import, build, containerize) on the example
// project, real podman and a real Docker engine, the real CNCF registry with htpasswd auth,
// the real AWS SDK against moto (the one stand-in: AWS itself is out of reach here). The stack
// is started by test/e2e/global-setup.ts through scripts/stack.sh.
const stack = inject('stackEnv')
const registry: Registry = {host: stack.MLDEPLOY_REGISTRY!, password: stack.MLDEPLOY_REGISTRY_PASSWORD!}
const EXAMPLE = path.join(REPO_ROOT, 'examples/project')
const TARGET_DIR = path.join(EXAMPLE, 'deploy/iris/V1')
// The registry keeps its data between runs: every run pushes to repositories of its own.
const RUN = Date.now().toString(36)
const repo = (name: string): string => `iris-${RUN}/${name}`

interface PushJson {
  status: string
  bentoTag: string
  digest: string
  images: string[]
  verified: Array<{tag: string; digest: string}>
  steps: Array<{id: string; status: string}>
  error?: {message: string; exitCode: number}
  // Issue 12: every push carries a content tag; an unchanged target is reused.
  contentTag: string
  reused: {source: string; digest: string | null} | null
}

/** The machine's environment (CA bundles, proxies: bentoml locks packages against PyPI) under the stack's. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  )
  return {...base, ...stack, ...extra}
}

async function push(
  repository: string,
  args: string[] = [],
  options: {cwd?: string; env?: Record<string, string>} = {},
) {
  const result = await runCli(['push', 'iris/V1', '--repository', repository, '--json', ...args], {
    cwd: options.cwd ?? EXAMPLE,
    env: options.env ?? env(),
  })
  return {...result, json: JSON.parse(result.stdout) as PushJson}
}

function sampleRecords(): Array<Record<string, number>> {
  const [header, ...rows] = readFileSync(path.join(TARGET_DIR, 'example_input.csv'), 'utf8')
    .trim()
    .split('\n')
  const columns = header!.split(',')
  return rows.map((row) => Object.fromEntries(row.split(',').map((value, i) => [columns[i]!, Number(value)])))
}

/** Start the pushed image with the backend, ask for a prediction on loopback, stop it. */
async function predict(backend: 'podman' | 'docker', image: string): Promise<unknown> {
  const port = await freePort()
  const name = `mldeploy-e2e-${backend}-${port}`
  await execa(backend, ['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:3000`, image], {env: env()})
  try {
    for (let i = 0; i < 240; i++) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
      if (ready) break
      await sleep(500)
    }
    const response = await fetch(`http://127.0.0.1:${port}/predict`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({data: sampleRecords()}),
    })
    expect(response.status).toBe(200)
    return await response.json()
  } finally {
    await execa(backend, ['rm', '-f', name], {env: env(), reject: false})
  }
}

async function bentoExists(tag: string): Promise<{name: string; version: string}> {
  const result = await execa(stack.MLDEPLOY_PYTHON!, ['-m', 'bentoml', 'get', tag, '-o', 'json'], {
    env: env({COLUMNS: '10000'}),
  })
  return JSON.parse(result.stdout) as {name: string; version: string}
}

describe('mldeploy push, for real', () => {
  it('podman: builds, containerizes and pushes; the registry holds what mldeploy reports; the image predicts', async () => {
    await createRepository(stack.AWS_ENDPOINT_URL!, repo('podman'))
    const first = await push(repo('podman'), ['--backend', 'podman'])
    expect(first.stderr).not.toMatch(/NodeVersionSupportWarning/)
    expect(first.json.error).toBeUndefined()
    expect(first.exitCode).toBe(0)
    const {bentoTag, digest} = first.json
    const version = bentoTag.split(':')[1]!
    // The tag mldeploy parsed is the bento the store has.
    expect(await bentoExists(bentoTag)).toMatchObject({name: 'iris_v1', version})
    expect(await registryTags(registry, repo('podman'))).toEqual(
      [version, 'latest', first.json.contentTag].sort(),
    )
    expect(await registryDigest(registry, repo('podman'), 'latest')).toBe(digest)
    expect(await registryDigest(registry, repo('podman'), version)).toBe(digest)
    expect(await predict('podman', first.json.images[0]!)).toEqual({
      prediction: ['setosa', 'versicolor', 'virginica'],
    })

    // A second push of the unchanged target (issue 12): a new bento version pointing at the same
    // image, reused from the repository (nothing containerized or uploaded; test/e2e/reuse.test.ts).
    const second = await push(repo('podman'), ['--backend', 'podman'])
    expect(second.exitCode).toBe(0)
    const secondVersion = second.json.bentoTag.split(':')[1]!
    expect(secondVersion).not.toBe(version)
    expect(second.json.reused).toMatchObject({source: 'repository', digest})
    expect(await registryTags(registry, repo('podman'))).toEqual(
      [version, secondVersion, 'latest', first.json.contentTag].sort(),
    )
    expect(await registryDigest(registry, repo('podman'), 'latest')).toBe(second.json.digest)
    expect(await registryDigest(registry, repo('podman'), version)).toBe(digest)
  })

  it('docker: the same through a real Docker engine', async () => {
    await createRepository(stack.AWS_ENDPOINT_URL!, repo('docker'))
    const result = await push(repo('docker'), [
      '--backend',
      'docker',
      '--tag',
      'latest',
      '--tag',
      'candidate',
    ])
    expect(result.json.error).toBeUndefined()
    expect(result.exitCode).toBe(0)
    const version = result.json.bentoTag.split(':')[1]!
    expect(await registryTags(registry, repo('docker'))).toEqual(
      [version, 'candidate', 'latest', result.json.contentTag].sort(),
    )
    for (const tag of ['latest', 'candidate', version]) {
      expect(await registryDigest(registry, repo('docker'), tag)).toBe(result.json.digest)
    }
    expect(await predict('docker', result.json.images[0]!)).toEqual({
      prediction: ['setosa', 'versicolor', 'virginica'],
    })
  })
})

describe('mldeploy push, failures against the real stack', () => {
  let otherAccount: Moto
  beforeAll(async () => {
    await createRepository(stack.AWS_ENDPOINT_URL!, repo('failures'))
    // A second moto for another account: its token carries another password than the one the
    // registry's htpasswd knows, so the login mldeploy performs is refused by the real registry.
    otherAccount = await startMoto({MOTO_ACCOUNT_ID: '999999999999'})
    await createRepository(otherAccount.url, repo('failures'))
  })
  afterAll(async () => {
    await otherAccount.stop()
  })

  it('a wrong registry password: login refused (exit 7), nothing pushed', async () => {
    const result = await push(repo('failures'), [], {env: env({AWS_ENDPOINT_URL: otherAccount.url})})
    expect(result.exitCode).toBe(7)
    expect(result.json.error?.message).toMatch(
      /podman login failed: The registry \S+ refused the credentials \(invalid username\/password\)/,
    )
    expect(result.stdout + result.stderr).not.toContain('999999999999-auth-token')
    expect(result.json.steps.find((step) => step.id === 'push')?.status).toBe('skipped')
    expect(await registryTags(registry, repo('failures'))).toEqual([])
  })

  it('a missing repository fails the preflight (exit 3) before any build', async () => {
    const result = await push(repo('absent'))
    expect(result.exitCode).toBe(3)
    expect(result.json.error?.message).toBe(
      `ECR repository ${repo('absent')} does not exist in account 123456789012, region us-east-1.`,
    )
    expect(result.json.steps.find((step) => step.id === 'import')?.status).toBe('skipped')
    expect(await registryTags(registry, repo('absent'))).toEqual([])
  })

  it('the MLflow check against a closed port fails the preflight (exit 3)', async () => {
    const port = await freePort()
    const result = await push(repo('failures'), [], {
      env: env({MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`}),
    })
    expect(result.exitCode).toBe(3)
    // An MLflow tracking URI is asked as MLflow (issue 22): nothing listens, so nothing answers.
    expect(result.json.error?.message).toMatch(
      new RegExp(`^The VPN looks off: MLflow at http://127\\.0\\.0\\.1:${port}/? did not answer`),
    )
    expect(await registryTags(registry, repo('failures'))).toEqual([])
  })

  it('a bentoml build that fails in the service code (exit 5), nothing pushed', async () => {
    const project = tempDir('broken')
    cpSync(EXAMPLE, project, {recursive: true})
    const service = path.join(project, 'deploy/iris/V1/service.py')
    writeFileSync(
      service,
      `${readFileSync(service, 'utf8')}\nraise RuntimeError("feature store unavailable")\n`,
    )
    const result = await push(repo('failures'), [], {cwd: project})
    expect(result.exitCode).toBe(5)
    expect(result.json.error?.message).toMatch(
      /bentoml build failed \(exit code 1\): RuntimeError: feature store unavailable/,
    )
    expect(await registryTags(registry, repo('failures'))).toEqual([])
  })
})
