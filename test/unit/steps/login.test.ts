import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {classify} from '../../../src/errors.js'
import {backendAuthEnv, loginCommand, loginStep} from '../../../src/steps/login.js'
import {afterPreflight, PASSWORD, REGISTRY, scriptTool, stepFixture} from '../../helpers/deploy-state.js'
import {recordingIo} from '../../helpers/recording-host.js'

describe('the login step', () => {
  it('logs in to the bare registry host with the password on stdin, into a private auth file', async () => {
    const fixture = await afterPreflight(stepFixture())
    const {state, bin} = fixture
    state.workDir = '/tmp/mldeploy-private'
    expect(loginCommand(state)).toEqual({
      command: 'podman',
      args: ['login', '--username', 'AWS', '--password-stdin', REGISTRY],
      cwd: state.config.target.dir,
      env: {REGISTRY_AUTH_FILE: path.join('/tmp/mldeploy-private', 'auth.json')},
      stdinDescription: 'the ECR password from GetAuthorizationToken',
    })
    // Before the reuse step decides, the login is conditional: a reused image needs none.
    expect(loginStep.describe(state).commands).toEqual([
      {...loginCommand(state), when: 'the image is not reused from the repository'},
    ])
    const io = recordingIo()
    await loginStep.run(state, io)
    const [call] = bin.calls()
    expect(call).toMatchObject({tool: 'podman', step: 'login', stdin: PASSWORD})
    expect(call!.argv).not.toContain(PASSWORD)
    expect(io.lines.join('\n')).not.toContain(PASSWORD)
    expect(loginStep.failure).toBe('auth')
  })

  it('describes a placeholder folder before the run has one; docker gets DOCKER_CONFIG', () => {
    const {state} = stepFixture({flags: {backend: 'docker'}})
    expect(backendAuthEnv(state)).toEqual({DOCKER_CONFIG: path.join('$TMPDIR', 'mldeploy-XXXXXX')})
  })

  it('--keep-login leaves the backend its own login store', () => {
    const {state} = stepFixture({flags: {'keep-login': true}})
    expect(backendAuthEnv(state)).toEqual({})
    expect(loginCommand(state).env).toEqual({})
  })

  it('without a token from the preflight: check:no-token, class auth (7)', async () => {
    const {state, bin} = stepFixture()
    const error = await loginStep.run(state, recordingIo()).catch((caught: unknown) => caught)
    expect(classify(error, loginStep.failure)).toMatchObject({
      kind: 'auth',
      exitCode: 7,
      reason: 'check:no-token',
    })
    expect(bin.calls()).toEqual([])
  })

  it('a refused password is registry:login-refused, class auth (7)', async () => {
    const fixture = await afterPreflight(stepFixture({env: {FAKE_PASSWORD: 'another'}}))
    const error = await loginStep.run(fixture.state, recordingIo()).catch((caught: unknown) => caught)
    const failure = classify(error, loginStep.failure)
    expect(failure).toMatchObject({kind: 'auth', reason: 'registry:login-refused'})
    expect(failure.message).toBe(
      'podman login failed: The registry 123456789012.dkr.ecr.us-east-1.amazonaws.com refused the credentials (invalid username/password).',
    )
  })

  it('an unrecognised failure is a child failure, still class auth (7)', async () => {
    const fixture = await afterPreflight(stepFixture())
    scriptTool(fixture.bin.dir, 'podman', "console.error('something odd'); process.exit(1)")
    const error = await loginStep.run(fixture.state, recordingIo()).catch((caught: unknown) => caught)
    const failure = classify(error, loginStep.failure)
    expect(failure).toMatchObject({kind: 'auth', reason: 'child:exit'})
    expect(failure.message).toBe(`podman login to ${REGISTRY} failed (exit code 1): something odd`)
  })

  it('says why there is no token, and is titled for the task list', async () => {
    const {state} = stepFixture()
    await expect(loginStep.run(state, recordingIo())).rejects.toThrow(
      'No ECR login token: the preflight did not fetch one.',
    )
    expect(loginStep.title).toBe('Log in to the registry')
  })
})
