import {cpSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {REPO_ROOT, runCli, tempDir} from '../helpers/cli.js'
import {forward, listenOnLoopback} from '../helpers/fault-proxy.js'
import {type Registry, registryDigest, registryManifest, registryTags} from './registry.js'

// Issue 12 for real: real bentoml (import, build, containerize), real podman, the real registry
// (through --registry, as the stack sets MLDEPLOY_REGISTRY) and moto for ECR's API. The example's
// model carries ~100 MB of seeded extra weights (in this test's copy only). A login the registry
// refuses fails after containerize (exit 7) and says how to re-run; the re-run pushes the local
// image without containerizing; an unchanged target's next push containerizes and uploads
// nothing; a one-line change in service.py builds a new image.
const stack = inject('stackEnv')
const registry: Registry = {host: stack.MLDEPLOY_REGISTRY!, password: stack.MLDEPLOY_REGISTRY_PASSWORD!}
const EXAMPLE = path.join(REPO_ROOT, 'examples/project')
const RUN = Date.now().toString(36)
const REPOSITORY = `iris-${RUN}/reuse`
const WEIGHTS_MIB = 100
const CONTENT_LABEL = 'io.mldeploy.content-digest'

interface PushJson {
  status: string
  bentoTag: string
  digest: string | null
  contentDigest: string | null
  contentTag: string | null
  reused: {source: string; digest: string | null; builtFromBento: string | null} | null
  steps: Array<{id: string; status: string; ran?: string[]; durationMs?: number}>
  warnings: string[]
  error?: {message: string; hint?: string; step?: string; exitCode: number}
}

/** The registry behind a proxy on loopback that refuses every login while `refuse` is set. */
interface LoginGate {
  host: string
  refuse: boolean
  refused: number
  close(): Promise<void>
}

async function loginGate(): Promise<LoginGate> {
  const [targetHost, targetPort] = registry.host.split(':')
  const gate = {refuse: false, refused: 0}
  const server: Server = createServer((incoming, outgoing) => {
    // `podman login` checks its credentials with GET /v2/; the other calls pass.
    if (gate.refuse && incoming.url === '/v2/') {
      gate.refused++
      outgoing.writeHead(401, {'www-authenticate': 'Basic realm="login-gate"'}).end()
      return
    }
    incoming.pipe(forward(incoming, outgoing, targetHost!, targetPort!))
  })
  const host = `127.0.0.1:${await listenOnLoopback(server)}`
  return Object.assign(gate, {
    host,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  })
}

function baseEnv(): Record<string, string> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  )
  return {...base, ...stack}
}

/** The stack's environment, pushing through the gate (which podman must treat as plain http). */
function envThrough(gate: LoginGate): Record<string, string> {
  const conf = path.join(tempDir('registries'), 'registries.conf')
  writeFileSync(
    conf,
    `${readFileSync(stack.CONTAINERS_REGISTRIES_CONF!, 'utf8')}\n[[registry]]\nlocation = "${gate.host}"\ninsecure = true\n`,
  )
  return {...baseEnv(), MLDEPLOY_REGISTRY: gate.host, CONTAINERS_REGISTRIES_CONF: conf}
}

/**
 * The example with ~100 MB of seeded, incompressible extra weights packed into its BentoML model
 * (a custom object, numpy's PCG64 with a fixed seed: the same bytes on every import), in a copy.
 */
function weightedExample(): string {
  const dir = tempDir('weighted')
  cpSync(EXAMPLE, dir, {recursive: true})
  const script = path.join(dir, 'deploy/iris/V1/create_bento_model.py')
  const marker = '    custom_objects={\n'
  const text = readFileSync(script, 'utf8')
  expect(text).toContain(marker)
  writeFileSync(
    script,
    text.replace(
      marker,
      `${marker}        "extra_weights": __import__("numpy").random.default_rng(12).bytes(${WEIGHTS_MIB} * 2**20),\n`,
    ),
  )
  return dir
}

const PUSH_ARGS = ['push', 'iris/V1', '--repository', REPOSITORY, '--backend', 'podman', '--json']

async function push(cwd: string, env: Record<string, string>) {
  const started = performance.now()
  const result = await runCli(PUSH_ARGS, {cwd, env})
  const json = JSON.parse(result.stdout) as PushJson
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  const steps = json.steps.map((step) => `${step.id} ${((step.durationMs ?? 0) / 1000).toFixed(1)}s`)
  console.log(`push in ${path.basename(cwd)}: ${seconds} s, exit ${result.exitCode} (${steps.join(', ')})`)
  return {...result, json}
}

const ran = (json: PushJson): string[] => json.steps.flatMap((step) => step.ran ?? [])
const containerized = (json: PushJson): boolean =>
  ran(json).some((call) => / -m bentoml containerize /.test(call))
const uploaded = (json: PushJson): boolean =>
  ran(json).some((call) => /^(?:\S+=\S+ )*podman push /.test(call))

async function podman(...args: string[]): Promise<string[]> {
  const {stdout} = await execa('podman', args, {env: baseEnv(), extendEnv: false})
  return stdout.split('\n').filter((line) => line.trim() !== '')
}

/** Full IDs of the local images carrying a content digest. */
const localImages = (contentDigest: string): Promise<string[]> =>
  podman('images', '--no-trunc', '--filter', `label=${CONTENT_LABEL}=${contentDigest}`, '--format', '{{.ID}}')

/** Runs Python with the stack's BentoML store (one interpreter start: importing bentoml takes seconds). */
async function python(code: string): Promise<string> {
  const {stdout} = await execa(stack.MLDEPLOY_PYTHON ?? 'python3', ['-c', code], {
    env: baseEnv(),
    extendEnv: false,
  })
  return stdout
}

interface StoreTags {
  bentos: string[]
  models: string[]
}

const storeTags = async (): Promise<StoreTags> =>
  JSON.parse(
    (
      await python(
        'import bentoml, json; print(json.dumps({"bentos": [str(b.tag) for b in bentoml.list()], "models": [str(m.tag) for m in bentoml.models.list()]}))',
      )
    )
      .split('\n')
      .at(-1)!,
  ) as StoreTags

let gate: LoginGate | undefined
const contents = new Set<string>()
let before: StoreTags | undefined

beforeAll(async () => {
  before = await storeTags()
})

// The 100 MB images, bentos and models go: podman storage and the BentoML store are kept between
// CI runs (.cache), and a leftover image would let the next run skip its first containerize.
afterAll(async () => {
  await gate?.close()
  for (const content of contents) {
    const ids = await localImages(content)
    if (ids.length > 0) await podman('rmi', '--force', ...ids)
  }
  if (before === undefined) return
  const now = await storeTags()
  const added = {
    bentos: now.bentos.filter((tag) => !before!.bentos.includes(tag)),
    models: now.models.filter((tag) => !before!.models.includes(tag)),
  }
  await python(
    `import bentoml, json; added = json.loads(${JSON.stringify(JSON.stringify(added))}); [bentoml.delete(t) for t in added["bentos"]]; [bentoml.models.delete(t) for t in added["models"]]`,
  )
})

describe('reusing an identical image, for real', () => {
  it('a refused login leaves the image for the re-run; an unchanged push reuses it (100 MB of weights); a one-line change builds anew', async () => {
    await createRepository(stack.AWS_ENDPOINT_URL!, REPOSITORY)
    const weighted = weightedExample()
    gate = await loginGate()

    // 1. The registry refuses the login after containerize: exit 7, and the way out.
    gate.refuse = true
    const refused = await push(weighted, envThrough(gate))
    expect(refused.exitCode).toBe(7)
    expect(refused.json.error).toMatchObject({exitCode: 7, step: 'login'})
    expect(gate.refused).toBeGreaterThan(0)
    expect(refused.json.contentDigest).toMatch(/^sha256:[a-f0-9]{64}$/)
    contents.add(refused.json.contentDigest!)
    // Built now, unless an earlier run that crashed left an image with this content behind.
    if (refused.json.reused === null) expect(containerized(refused.json)).toBe(true)
    else expect(refused.json.reused.source).toBe('local')
    expect(refused.json.error!.hint).toContain(
      `The image stays in the local podman engine (content ${refused.json.contentDigest}): run \`mldeploy ${PUSH_ARGS.join(' ')}\` again and it is pushed without containerizing.`,
    )
    // The weights are in what was hashed (the reuse step says how much).
    const hashedMb = Number(/files, (\d+(?:\.\d+)?) MB hashed/.exec(refused.stderr)?.[1])
    expect(hashedMb).toBeGreaterThan((WEIGHTS_MIB * 2 ** 20) / 1e6)
    const [built] = await localImages(refused.json.contentDigest!)
    expect(built).toMatch(/^(?:sha256:)?[a-f0-9]{64}$/)
    expect(await registryTags(registry, REPOSITORY)).toEqual([])

    // 2. The same command again, this time straight to the registry (a registry name podman has
    // pushed these base layers to, so it mounts them instead of uploading 1.4 GB through the
    // gate): no containerize; the image built at step 1 is pushed.
    await gate.close()
    gate = undefined
    const env = baseEnv()
    const first = await push(weighted, env)
    expect(first.json.error).toBeUndefined()
    expect(first.exitCode).toBe(0)
    expect(first.json.contentDigest).toBe(refused.json.contentDigest)
    expect(first.json.reused).toMatchObject({source: 'local', digest: first.json.digest})
    expect(containerized(first.json)).toBe(false)
    expect(uploaded(first.json)).toBe(true)
    expect(await registryDigest(registry, REPOSITORY, first.json.contentTag!)).toBe(first.json.digest)
    // The pushed image is the local one: its config digest is the local image's ID.
    const manifest = await registryManifest(registry, REPOSITORY, first.json.digest!)
    expect(manifest.config.digest.replace(/^sha256:/, '')).toBe(built!.replace(/^sha256:/, ''))
    const firstVersion = first.json.bentoTag.split(':')[1]!

    // 3. Unchanged: another bento version, the same content; nothing built, nothing uploaded.
    const second = await push(weighted, env)
    expect(second.json.error).toBeUndefined()
    expect(second.exitCode).toBe(0)
    const secondVersion = second.json.bentoTag.split(':')[1]!
    expect(secondVersion).not.toBe(firstVersion)
    expect(second.json.contentDigest).toBe(first.json.contentDigest)
    expect(second.json.reused).toMatchObject({source: 'repository', digest: first.json.digest})
    // The image keeps the labels of the bento it was built from: step 1's.
    if (refused.json.reused === null) expect(second.json.reused!.builtFromBento).toBe(refused.json.bentoTag)
    else expect(second.json.reused!.builtFromBento).toMatch(/^iris_v1:/)
    expect(containerized(second.json)).toBe(false)
    expect(uploaded(second.json)).toBe(false)
    for (const id of ['containerize', 'login', 'push'])
      expect(second.json.steps.find((step) => step.id === id)?.ran).toEqual([])
    expect(await registryDigest(registry, REPOSITORY, 'latest')).toBe(first.json.digest)
    expect(await registryDigest(registry, REPOSITORY, secondVersion)).toBe(first.json.digest)
    expect(await registryTags(registry, REPOSITORY)).toEqual(
      [firstVersion, secondVersion, 'latest', first.json.contentTag!].sort(),
    )

    // 4. One line more in service.py: another content, a new image.
    const changed = tempDir('changed')
    cpSync(weighted, changed, {recursive: true})
    const service = path.join(changed, 'deploy/iris/V1/service.py')
    writeFileSync(service, `${readFileSync(service, 'utf8')}\n# a one-line change\n`)
    const third = await push(changed, env)
    expect(third.json.error).toBeUndefined()
    expect(third.exitCode).toBe(0)
    contents.add(third.json.contentDigest!)
    expect(third.json.contentDigest).not.toBe(first.json.contentDigest)
    expect(third.json.reused).toBeNull()
    expect(containerized(third.json)).toBe(true)
    expect(third.json.digest).not.toBe(first.json.digest)
    expect(await registryDigest(registry, REPOSITORY, 'latest')).toBe(third.json.digest)
  })
})
