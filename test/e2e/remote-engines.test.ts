import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, inject, it} from 'vitest'

import {REPO_ROOT, runCli, tempDir} from '../helpers/cli.js'
import {type RemoteEngine, startDockerd, startPodmanService} from '../helpers/remote-engines.js'
import {type Registry, registryDigest} from './registry.js'

// Issue 13, for real: a second dockerd and a `podman system service`, each on its own socket with
// its own storage, started here and used as the "remote" engine of a push (--builder). The real
// bentoml containerizes through them, the real registry receives the push, moto is the AWS side.
// What is checked: the image is in that engine and not in the local one, and the registry holds
// the digest mldeploy reports (for podman --remote, read from the registry: no --digestfile).
const stack = inject('stackEnv')
const registry: Registry = {host: stack.MLDEPLOY_REGISTRY!, password: stack.MLDEPLOY_REGISTRY_PASSWORD!}
const EXAMPLE = path.join(REPO_ROOT, 'examples/project')
const RUN = Date.now().toString(36)

function env(): Record<string, string> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  )
  return {...base, ...stack}
}

interface PushJson {
  status: string
  digest: string
  images: string[]
  settings: Record<string, {value: unknown; source: string}>
  steps: Array<{id: string; status: string; ran?: string[]}>
  error?: {message: string}
}

async function push(repository: string, builder: string) {
  // A BentoML home per push: the two run at once, and bentoml rewrites a store's `latest` files in
  // place, so one import could read the other's half-written one.
  // --rebuild: the podman service sees the local podman's images (its additional image store),
  // where push.test.ts may have left an image of the same content, which mldeploy would rightly
  // reuse; the point here is a build in the remote engine.
  const result = await runCli(
    [
      'push',
      'iris/V1',
      '--repository',
      repository,
      '--create-repository',
      '--builder',
      builder,
      '--rebuild',
      '--json',
    ],
    {cwd: EXAMPLE, env: {...env(), BENTOML_HOME: tempDir('bentoml-home')}},
  )
  return {...result, json: JSON.parse(result.stdout) as PushJson}
}

const ran = (json: PushJson, step: string): string[] => json.steps.find((each) => each.id === step)?.ran ?? []

// The two pushes run side by side: on two cores the docker push's gzip (one thread) leaves room
// for the podman build, and each waits on the network part of the time.
describe.concurrent('remote engines (--builder)', () => {
  let dockerd: Promise<RemoteEngine>
  let podman: Promise<RemoteEngine>

  beforeAll(() => {
    // Both at once, and each push waits for its own engine only: the podman service is ready in a
    // second or two, the dockerd once its base image is pulled.
    dockerd = startDockerd(env())
    podman = startPodmanService(env())
    // A start that fails fails its own push (the await below).
    for (const each of [dockerd, podman]) each.catch(() => undefined)
  })

  afterAll(async () => {
    await Promise.all(
      [dockerd, podman].map((each) =>
        each.then(
          (engine) => engine.stop(),
          () => undefined,
        ),
      ),
    )
  })

  it('docker-host: containerize, login and push go to the second dockerd; the registry has the push', async ({
    expect,
  }) => {
    const {url} = await dockerd
    const repository = `remote-${RUN}/docker`
    const {json, exitCode, stderr} = await push(repository, `docker-host:${url}`)
    expect(json.error, stderr.slice(-3000)).toBeUndefined()
    expect(exitCode).toBe(0)
    expect(json.settings.builder).toMatchObject({value: `docker-host:${url}`})
    // Every backend command was addressed to that engine; bentoml got it through DOCKER_HOST.
    for (const line of [...ran(json, 'login'), ...ran(json, 'push')])
      expect(line).toContain(`docker --host ${url}`)
    expect(ran(json, 'containerize').join('\n')).toContain(`DOCKER_HOST=${url}`)
    expect(ran(json, 'preflight').join('\n')).toContain(`docker --host ${url} version`)

    const image = json.images.find((each) => !each.endsWith(':latest'))!
    const inRemote = await execa('docker', ['-H', url, 'image', 'inspect', image], {reject: false})
    expect(inRemote.exitCode).toBe(0)
    const inLocal = await execa('docker', ['image', 'inspect', image], {env: env(), reject: false})
    expect(inLocal.exitCode).not.toBe(0)
    expect(await registryDigest(registry, repository, image.split(':').at(-1)!)).toBe(json.digest)
  })

  it('podman-url: the same through a podman service; the digest comes from the registry', async ({
    expect,
  }) => {
    const {url} = await podman
    const repository = `remote-${RUN}/podman`
    const {json, exitCode, stderr} = await push(repository, `podman-url:${url}`)
    expect(json.error, stderr.slice(-3000)).toBeUndefined()
    expect(exitCode).toBe(0)
    const pushed = ran(json, 'push')
    expect(pushed.some((line) => line.includes(`podman --remote --url ${url} push`))).toBe(true)
    expect(pushed.join('\n')).not.toContain('--digestfile')
    expect(pushed.some((line) => line.startsWith('http:HEAD'))).toBe(true)
    expect(ran(json, 'containerize').join('\n')).toContain(`CONTAINER_HOST=${url}`)

    const image = json.images.find((each) => !each.endsWith(':latest'))!
    const inRemote = await execa('podman', ['--remote', '--url', url, 'image', 'exists', image], {
      env: env(),
      reject: false,
    })
    expect(inRemote.exitCode).toBe(0)
    const inLocal = await execa('podman', ['image', 'exists', image], {env: env(), reject: false})
    expect(inLocal.exitCode).not.toBe(0)
    expect(await registryDigest(registry, repository, image.split(':').at(-1)!)).toBe(json.digest)
  })
})
