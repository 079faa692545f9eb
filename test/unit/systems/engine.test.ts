import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {pushArgs} from '../../../src/systems/backend.js'
import {CheckError} from '../../../src/errors.js'
import {
  type Engine,
  engineArgs,
  engineEnv,
  engineOfBuilder,
  probeEngine,
  resolveEngine,
  unresolvedEngine,
} from '../../../src/systems/engine.js'
import {builderOutcome} from '../../../src/doctor/doctor.js'
import {tempDir} from '../../helpers/cli.js'
import {type RemoteEngine, startPodmanService} from '../../helpers/remote-engines.js'

// Issue 13: how a remote engine is addressed, resolved and probed. The resolution runs the real
// `docker context` and `podman system connection` commands against temp configuration folders
// (never the user's); the probe runs the real CLIs against a dead socket and a live podman service.
const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  ...extra,
})

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

describe('engine addressing', () => {
  it('docker: --host before the subcommand, DOCKER_HOST for bentoml', () => {
    const engine = engineOfBuilder({kind: 'docker-host', url: 'tcp://build:2376'})!
    expect(engineArgs(engine)).toEqual(['--host', 'tcp://build:2376'])
    expect(engineEnv(engine)).toEqual({DOCKER_HOST: 'tcp://build:2376'})
  })

  it('docker context with TLS: the context folder’s certificates, verified unless the context skips it', () => {
    const engine: Engine = {
      backend: 'docker',
      url: 'tcp://b:2376',
      builder: 'docker-context:b',
      tlsDir: '/c/tls',
    }
    expect(engineArgs(engine)).toEqual([
      '--host',
      'tcp://b:2376',
      '--tlsverify',
      '--tlscacert',
      '/c/tls/ca.pem',
      '--tlscert',
      '/c/tls/cert.pem',
      '--tlskey',
      '/c/tls/key.pem',
    ])
    expect(engineEnv(engine)).toEqual({
      DOCKER_HOST: 'tcp://b:2376',
      DOCKER_CERT_PATH: '/c/tls',
      DOCKER_TLS_VERIFY: '1',
    })
    expect(engineEnv({...engine, skipTlsVerify: true})).not.toHaveProperty('DOCKER_TLS_VERIFY')
  })

  it('podman: --remote --url (and the ssh key), CONTAINER_HOST for bentoml', () => {
    const engine = engineOfBuilder({kind: 'podman-url', url: 'ssh://u@b/run/podman.sock'})!
    expect(engineArgs(engine)).toEqual(['--remote', '--url', 'ssh://u@b/run/podman.sock'])
    expect(engineEnv(engine)).toEqual({CONTAINER_HOST: 'ssh://u@b/run/podman.sock'})
    const keyed = {...engine, identity: '/k/id'}
    expect(engineArgs(keyed)).toEqual([
      '--remote',
      '--url',
      'ssh://u@b/run/podman.sock',
      '--identity',
      '/k/id',
    ])
    expect(engineEnv(keyed)).toEqual({CONTAINER_HOST: 'ssh://u@b/run/podman.sock', CONTAINER_SSHKEY: '/k/id'})
  })

  it('a context or connection shows its name until the preflight resolves it', () => {
    expect(engineOfBuilder({kind: 'docker-context', name: 'build'})).toBeUndefined()
    expect(unresolvedEngine({kind: 'podman-connection', name: 'gpu'})).toEqual({
      backend: 'podman',
      url: '<endpoint-of-podman-connection:gpu>',
      builder: 'podman-connection:gpu',
    })
  })

  it('podman --remote push has no --digestfile: the push leaves it out', () => {
    expect(pushArgs('podman', 'r/i:1', undefined)).toEqual(['push', '--format', 'v2s2', 'r/i:1'])
    expect(pushArgs('podman', 'r/i:1', '/w/d')).toContain('--digestfile')
  })
})

describe('resolving a docker context / podman connection (real CLIs, temp config)', () => {
  it('docker context: its endpoint, read from the user’s DOCKER_CONFIG', async () => {
    const config = tempDir('docker-config')
    await execa('docker', ['context', 'create', 'build', '--docker', 'host=unix:///run/build/docker.sock'], {
      env: env({DOCKER_CONFIG: config}),
      extendEnv: false,
    })
    const engine = await resolveEngine(
      {kind: 'docker-context', name: 'build'},
      {env: env({DOCKER_CONFIG: config}), cwd: config},
    )
    expect(engine).toEqual({
      backend: 'docker',
      url: 'unix:///run/build/docker.sock',
      builder: 'docker-context:build',
    })
    // The trap: under the private auth folder the login uses, the context is not there.
    const hidden = resolveEngine(
      {kind: 'docker-context', name: 'build'},
      {env: env({DOCKER_CONFIG: tempDir('private-auth')}), cwd: config},
    )
    await expect(hidden).rejects.toThrow(CheckError)
    await expect(hidden).rejects.toThrow(
      /^Builder docker-context:build: it could not be resolved \(.*not found.*\)\.$/,
    )
  })

  it('podman connection: its URI and key, from the containers.conf podman reads', async () => {
    const dir = tempDir('containers-conf')
    const conf = path.join(dir, 'containers.conf')
    writeFileSync(conf, '')
    // CONTAINERS_CONF: without it, root's podman writes connections to /etc/containers.
    const podmanEnv = env({CONTAINERS_CONF: conf})
    await execa(
      'podman',
      [
        'system',
        'connection',
        'add',
        'gpu',
        'ssh://ci@gpu.example:22/run/podman/podman.sock',
        '--identity',
        '/keys/id',
      ],
      {env: podmanEnv, extendEnv: false},
    )
    const engine = await resolveEngine({kind: 'podman-connection', name: 'gpu'}, {env: podmanEnv, cwd: dir})
    expect(engine).toEqual({
      backend: 'podman',
      url: 'ssh://ci@gpu.example:22/run/podman/podman.sock',
      identity: '/keys/id',
      builder: 'podman-connection:gpu',
    })
    await expect(
      resolveEngine({kind: 'podman-connection', name: 'cpu'}, {env: podmanEnv, cwd: dir}),
    ).rejects.toThrow('Builder podman-connection:cpu: no podman connection named cpu.')
  })
})

describe('probing the engine (preflight and doctor share it)', () => {
  let service: RemoteEngine | undefined
  beforeAll(async () => {
    service = await startPodmanService(env({BUILDAH_ISOLATION: 'chroot'}), {baseImage: false})
  }, 120_000)
  afterAll(async () => {
    await service?.stop()
  })

  it('an engine that does not answer: one line naming the builder and the endpoint', async () => {
    const url = `unix://${tempDir('dead')}/docker.sock`
    const engine = engineOfBuilder({kind: 'docker-host', url})!
    const probe = probeEngine(engine, {env: env(), cwd: '/'})
    await expect(probe).rejects.toThrow(CheckError)
    const message = await probe.catch((error: Error) => error.message)
    expect(message).toMatch(
      new RegExp(
        `^Builder docker-host:${escape(url)}: the docker engine at ${escape(url)} does not answer \\(.+\\)\\.$`,
      ),
    )
    expect(message).not.toContain('\n')
  })

  it('a live podman service answers, reached through a connection (doctor shows name → endpoint)', async () => {
    const dir = tempDir('containers-conf')
    const conf = path.join(dir, 'containers.conf')
    writeFileSync(conf, '')
    const podmanEnv = env({CONTAINERS_CONF: conf})
    await execa('podman', ['system', 'connection', 'add', 'test', service!.url], {
      env: podmanEnv,
      extendEnv: false,
    })
    const outcome = await builderOutcome(
      {
        builder: {value: {kind: 'podman-connection', name: 'test'}, source: 'flag --builder'},
        backend: {value: 'podman', source: 'needed by builder'},
        childEnv: podmanEnv,
        cwd: dir,
      },
      true,
      AbortSignal.timeout(30_000),
    )
    expect(outcome).toMatchObject({
      status: 'pass',
      message: expect.stringMatching(
        new RegExp(`^podman \\d+\\.\\d+\\S* at podman-connection:test → ${escape(service!.url)}\\.$`),
      ),
      data: {url: service!.url},
    })
  })

  it('doctor: a dead engine is a failed check with the same line and a fix', async () => {
    const url = `unix://${tempDir('dead')}/podman.sock`
    const outcome = await builderOutcome(
      {
        builder: {value: {kind: 'podman-url', url}, source: 'env MLDEPLOY_BUILDER'},
        backend: {value: 'podman', source: 'needed by builder'},
        childEnv: env(),
        cwd: '/',
      },
      true,
      AbortSignal.timeout(30_000),
    )
    expect(outcome.status).toBe('fail')
    expect(outcome.message).toMatch(
      new RegExp(`^Builder podman-url:${escape(url)}: the podman engine at ${escape(url)} does not answer`),
    )
    expect(outcome.fix).toMatch(/podman system service/)
  })
})
