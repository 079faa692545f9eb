import {cpSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {REPO_ROOT, runCli, tempDir} from '../helpers/cli.js'
import {type Registry, registryDigest, registryTags} from './registry.js'

// Issue 12 for real: real bentoml (import, build, containerize), real podman, the real registry
// (through --registry, as the stack sets MLDEPLOY_REGISTRY) and moto for ECR's API. An unchanged
// target's second push containerizes nothing and uploads nothing; a changed service.py builds again.
const stack = inject('stackEnv')
const registry: Registry = {host: stack.MLDEPLOY_REGISTRY!, password: stack.MLDEPLOY_REGISTRY_PASSWORD!}
const EXAMPLE = path.join(REPO_ROOT, 'examples/project')
const RUN = Date.now().toString(36)
const REPOSITORY = `iris-${RUN}/reuse`

interface PushJson {
  status: string
  bentoTag: string
  digest: string
  contentDigest: string | null
  contentTag: string | null
  reused: {source: string; digest: string | null; builtFromBento: string | null} | null
  steps: Array<{id: string; status: string; ran?: string[]; durationMs?: number}>
  error?: {message: string}
}

function env(): Record<string, string> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  )
  return {...base, ...stack}
}

async function push(cwd: string) {
  const started = performance.now()
  const result = await runCli(
    ['push', 'iris/V1', '--repository', REPOSITORY, '--backend', 'podman', '--json'],
    {cwd, env: env()},
  )
  const json = JSON.parse(result.stdout) as PushJson
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  const steps = json.steps.map((step) => `${step.id} ${((step.durationMs ?? 0) / 1000).toFixed(1)}s`)
  console.log(`push in ${path.basename(cwd)}: ${seconds} s (${steps.join(', ')})`)
  return {...result, json}
}

const ran = (json: PushJson): string[] => json.steps.flatMap((step) => step.ran ?? [])
const containerized = (json: PushJson): boolean =>
  ran(json).some((call) => / -m bentoml containerize /.test(call))
const uploaded = (json: PushJson): boolean =>
  ran(json).some((call) => /^(?:\S+=\S+ )*podman push /.test(call))

describe('reusing an identical image, for real', () => {
  it('a second push of the unchanged example reuses the first image; a one-line change builds a new one', async () => {
    await createRepository(stack.AWS_ENDPOINT_URL!, REPOSITORY)
    const first = await push(EXAMPLE)
    expect(first.json.error).toBeUndefined()
    expect(first.exitCode).toBe(0)
    expect(first.json.contentTag).toMatch(/^content-[a-f0-9]{12}$/)
    // Another e2e file may have built the same content already: then it was pushed, not rebuilt.
    if (first.json.reused === null) expect(containerized(first.json)).toBe(true)
    else expect(first.json.reused.source).toBe('local')
    expect(uploaded(first.json)).toBe(true)
    const firstVersion = first.json.bentoTag.split(':')[1]!
    expect(await registryDigest(registry, REPOSITORY, first.json.contentTag!)).toBe(first.json.digest)

    const second = await push(EXAMPLE)
    expect(second.json.error).toBeUndefined()
    expect(second.exitCode).toBe(0)
    const secondVersion = second.json.bentoTag.split(':')[1]!
    expect(secondVersion).not.toBe(firstVersion)
    expect(second.json.contentDigest).toBe(first.json.contentDigest)
    expect(second.json.reused).toMatchObject({source: 'repository', digest: first.json.digest})
    expect(second.json.reused!.builtFromBento).toMatch(/^iris_v1:/)
    if (first.json.reused === null) expect(second.json.reused!.builtFromBento).toBe(first.json.bentoTag)
    // No containerize, no podman push child: nothing was built or uploaded.
    expect(containerized(second.json)).toBe(false)
    expect(uploaded(second.json)).toBe(false)
    for (const id of ['containerize', 'login', 'push'])
      expect(second.json.steps.find((step) => step.id === id)?.ran).toEqual([])
    expect(await registryDigest(registry, REPOSITORY, 'latest')).toBe(first.json.digest)
    expect(await registryDigest(registry, REPOSITORY, secondVersion)).toBe(first.json.digest)
    expect(await registryTags(registry, REPOSITORY)).toEqual(
      [firstVersion, secondVersion, 'latest', first.json.contentTag!].sort(),
    )

    // One line more in service.py: another content, a new image (only the top layers are new).
    const changed = tempDir('changed')
    cpSync(EXAMPLE, changed, {recursive: true})
    const service = path.join(changed, 'deploy/iris/V1/service.py')
    writeFileSync(service, `${readFileSync(service, 'utf8')}\n# a one-line change\n`)
    const third = await push(changed)
    expect(third.json.error).toBeUndefined()
    expect(third.exitCode).toBe(0)
    expect(third.json.contentDigest).not.toBe(first.json.contentDigest)
    expect(third.json.reused).toBeNull()
    expect(containerized(third.json)).toBe(true)
    expect(third.json.digest).not.toBe(first.json.digest)
    expect(await registryDigest(registry, REPOSITORY, 'latest')).toBe(third.json.digest)
  })
})
