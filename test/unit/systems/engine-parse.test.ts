import {describe, expect, it} from 'vitest'

import {CheckError} from '../../../src/errors.js'
import type {ChildResult} from '../../../src/process.js'
import {
  describeEngine,
  type Engine,
  engineArgs,
  isRemoteEngine,
  judgeProbe,
  parseResolved,
  probeArgs,
  resolveArgs,
  resolveEngine,
} from '../../../src/systems/engine.js'
import {tempDir} from '../../helpers/cli.js'

// What engine.ts makes of the answers of `docker context inspect`, `podman system connection
// list` and `<backend> version`, given as results: engine.test.ts runs the real CLIs.
const answer = (tail: string[], more: Partial<ChildResult> = {}): ChildResult => ({
  exitCode: 0,
  timedOut: false,
  canceled: false,
  tail,
  durationMs: 1,
  ...more,
})

function thrown(run: () => unknown): CheckError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(CheckError)
    return error as CheckError
  }
  throw new Error('nothing was thrown')
}

const CONTEXT = {kind: 'docker-context', name: 'build'} as const
const CONNECTION = {kind: 'podman-connection', name: 'gpu'} as const

describe('which builders are remote engines', () => {
  it('the four remote forms, not local or codebuild', () => {
    for (const kind of ['docker-host', 'docker-context', 'podman-url', 'podman-connection'])
      expect(isRemoteEngine({kind}), kind).toBe(true)
    expect(isRemoteEngine({kind: 'local'})).toBe(false)
    expect(isRemoteEngine({kind: 'codebuild'})).toBe(false)
  })
})

describe('resolving a name (parseResolved)', () => {
  it('asks docker for the context and podman for its connections, as JSON', () => {
    expect(resolveArgs(CONTEXT)).toEqual(['context', 'inspect', 'build', '--format', '{{json .}}'])
    expect(resolveArgs(CONNECTION)).toEqual(['system', 'connection', 'list', '--format', 'json'])
  })

  it('a docker context: its host, and its TLS folder only when it has TLS material', () => {
    const context = (extra: object): ChildResult =>
      answer(
        // Pretty-printed over several lines, as docker prints it.
        JSON.stringify(
          {Endpoints: {docker: {Host: 'tcp://b:2376'}}, Storage: {TLSPath: '/ctx/tls'}, ...extra},
          null,
          2,
        ).split('\n'),
      )
    expect(parseResolved(CONTEXT, context({}))).toStrictEqual({
      backend: 'docker',
      url: 'tcp://b:2376',
      builder: 'docker-context:build',
    })
    expect(parseResolved(CONTEXT, context({TLSMaterial: {docker: []}}))).not.toHaveProperty('tlsDir')
    expect(
      parseResolved(CONTEXT, context({TLSMaterial: {docker: ['ca.pem', 'cert.pem', 'key.pem']}})),
    ).toStrictEqual({
      backend: 'docker',
      url: 'tcp://b:2376',
      builder: 'docker-context:build',
      tlsDir: '/ctx/tls/docker',
    })
    expect(
      parseResolved(
        CONTEXT,
        answer([
          JSON.stringify({
            Endpoints: {docker: {Host: 'tcp://b:2376', SkipTLSVerify: true}},
            TLSMaterial: {docker: ['ca.pem']},
            Storage: {TLSPath: '/ctx/tls'},
          }),
        ]),
      ),
    ).toStrictEqual({
      backend: 'docker',
      url: 'tcp://b:2376',
      builder: 'docker-context:build',
      tlsDir: '/ctx/tls/docker',
      skipTlsVerify: true,
    })
  })

  it('TLS material without a storage folder gives no TLS folder', () => {
    expect(
      parseResolved(
        CONTEXT,
        answer([
          JSON.stringify({Endpoints: {docker: {Host: 'tcp://b:2376'}}, TLSMaterial: {docker: ['ca.pem']}}),
        ]),
      ),
    ).toStrictEqual({backend: 'docker', url: 'tcp://b:2376', builder: 'docker-context:build'})
  })

  it('a missing docker or podman CLI says which could not be started', async () => {
    const context = {env: {PATH: tempDir('empty-path')}, cwd: tempDir('cwd')}
    await expect(resolveEngine(CONTEXT, context)).rejects.toThrow(
      'Builder docker-context:build: docker could not be started (ENOENT).',
    )
    await expect(resolveEngine(CONNECTION, context)).rejects.toThrow(
      'Builder podman-connection:gpu: podman could not be started (ENOENT).',
    )
  })

  it('a docker context without a docker endpoint', () => {
    for (const description of [{}, {Endpoints: {}}, {Endpoints: {docker: {Host: ''}}}]) {
      const error = thrown(() => parseResolved(CONTEXT, answer([JSON.stringify(description)])))
      expect(error.message).toBe('Builder docker-context:build: the context has no docker endpoint.')
      expect(error.reason).toBe('engine')
      expect(error.hint).toBe(
        "Check the name (docker context ls), or give the engine's URL with --builder docker-host:<url>.",
      )
    }
  })

  it('a podman connection by its name: its URI, and its key when it has one', () => {
    const list = JSON.stringify([
      {Name: 'cpu', URI: 'ssh://ci@cpu/run/podman.sock', Identity: '/keys/cpu'},
      {Name: 'gpu', URI: 'ssh://ci@gpu/run/podman.sock', Identity: ''},
    ])
    expect(parseResolved(CONNECTION, answer([list]))).toStrictEqual({
      backend: 'podman',
      url: 'ssh://ci@gpu/run/podman.sock',
      builder: 'podman-connection:gpu',
    })
    expect(parseResolved({kind: 'podman-connection', name: 'cpu'}, answer([list]))).toStrictEqual({
      backend: 'podman',
      url: 'ssh://ci@cpu/run/podman.sock',
      builder: 'podman-connection:cpu',
      identity: '/keys/cpu',
    })
  })

  it('no connection of that name, or one without a URI', () => {
    for (const list of [[], [{Name: 'cpu', URI: 'ssh://x'}], [{Name: 'gpu'}], [{Name: 'gpu', URI: ''}]]) {
      const error = thrown(() => parseResolved(CONNECTION, answer([JSON.stringify(list)])))
      expect(error.message).toBe('Builder podman-connection:gpu: no podman connection named gpu.')
      expect(error.hint).toBe(
        "Check the name (podman system connection list), or give the engine's URL with --builder podman-url:<url>.",
      )
    }
  })

  it('a failed command names its last meaningful line; unreadable output names the parse error', () => {
    const failed = thrown(() =>
      parseResolved(CONTEXT, answer(['context "build": context not found', '  '], {exitCode: 1})),
    )
    expect(failed.message).toBe(
      'Builder docker-context:build: it could not be resolved (context "build": context not found).',
    )
    const garbled = thrown(() => parseResolved(CONNECTION, answer(['not json'])))
    expect(garbled.message).toMatch(
      /^Builder podman-connection:gpu: its description could not be read \(.*JSON.*\)\.$/,
    )
  })
})

describe('judging the probe (judgeProbe)', () => {
  const docker: Engine = {backend: 'docker', url: 'tcp://b:2376', builder: 'docker-host:tcp://b:2376'}
  const podman: Engine = {
    backend: 'podman',
    url: 'ssh://ci@gpu/run/podman.sock',
    builder: 'podman-connection:gpu',
  }

  it('a TLS context that skips verification uses --tls, not --tlsverify', () => {
    expect(engineArgs({...docker, tlsDir: '/c', skipTlsVerify: true}).slice(2, 4)).toEqual([
      '--tls',
      '--tlscacert',
    ])
  })

  it('asks the engine for its server version after the addressing flags', () => {
    expect(probeArgs(docker)).toEqual([
      '--host',
      'tcp://b:2376',
      'version',
      '--format',
      '{{.Server.Version}}',
    ])
  })

  it('names the endpoint after the builder unless the builder already ends with it', () => {
    expect(describeEngine(docker)).toBe('docker-host:tcp://b:2376')
    expect(describeEngine(podman)).toBe('podman-connection:gpu → ssh://ci@gpu/run/podman.sock')
  })

  it('an engine that answers: its backend, version and where', () => {
    expect(judgeProbe(docker, answer(['27.3.1 ']))).toBe('docker 27.3.1 at docker-host:tcp://b:2376')
    expect(judgeProbe(podman, answer(['warning: x', '5.2.0']))).toBe(
      'podman 5.2.0 at podman-connection:gpu → ssh://ci@gpu/run/podman.sock',
    )
  })

  it('no version, a failure, a timeout or a missing CLI: one line saying why, and a fix per backend', () => {
    const failed = thrown(() =>
      judgeProbe(docker, answer(['Cannot connect to the Docker daemon at tcp://b:2376.'], {exitCode: 1})),
    )
    expect(failed.message).toBe(
      'Builder docker-host:tcp://b:2376: the docker engine at tcp://b:2376 does not answer (Cannot connect to the Docker daemon at tcp://b:2376.).',
    )
    expect(failed.reason).toBe('engine')
    expect(failed.hint).toBe(
      'Start that engine or fix the builder; check it with: docker --host <url> version.',
    )
    // A zero exit without a version is not an answer either.
    expect(thrown(() => judgeProbe(docker, answer(['v27']))).message).toContain('does not answer (v27)')
    expect(thrown(() => judgeProbe(docker, answer(['v27.3.1']))).message).toContain(
      'does not answer (v27.3.1)',
    )
    // A version printed by a command that failed is no answer either.
    expect(thrown(() => judgeProbe(docker, answer(['27.3.1'], {exitCode: 1}))).message).toContain(
      'does not answer (27.3.1)',
    )
    expect(thrown(() => judgeProbe(docker, answer([]))).message).toContain('does not answer (no output)')
    const timedOut = thrown(() => judgeProbe(podman, answer([], {exitCode: undefined, timedOut: true})))
    expect(timedOut.message).toBe(
      'Builder podman-connection:gpu: the podman engine at ssh://ci@gpu/run/podman.sock does not answer (no answer within 20 s).',
    )
    expect(timedOut.hint).toBe(
      'Start the service there (podman system service) or fix the builder; check it with: podman --remote --url <url> version.',
    )
    const missing = thrown(() =>
      judgeProbe(podman, answer([], {exitCode: undefined, spawnErrorCode: 'ENOENT'})),
    )
    expect(missing.message).toContain('does not answer (podman could not be started (ENOENT)).')
  })
})
