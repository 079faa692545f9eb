import {readFileSync} from 'node:fs'
import path from 'node:path'

import {beforeEach, describe, expect, it, vi} from 'vitest'

import {classify, ExitCode} from '../../../src/errors.js'
import {newRun, runPlans} from '../../../src/pipeline/engine.js'
import type {DeployState} from '../../../src/pipeline/state.js'
import {digestFile, PUSH_ATTEMPTS, pushCommands, pushStep} from '../../../src/steps/push.js'
import {tagStep} from '../../../src/steps/tag.js'
import {tempDir} from '../../helpers/cli.js'
import {
  afterPreflight,
  DIGEST,
  PASSWORD,
  REGISTRY,
  scriptTool,
  type StepFixture,
  stepFixture,
} from '../../helpers/deploy-state.js'
import {RecordingHost, recordingIo} from '../../helpers/recording-host.js'

/** The pauses between tries, as asked for: recorded instead of waited (the real ones take 3 s). */
const pauses: number[] = []
/** Whether each pause was given a signal to end early on. */
const pauseSignals: boolean[] = []
vi.mock('node:timers/promises', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:timers/promises')>()),
  setTimeout: async (ms: number, _value?: unknown, options?: {signal?: AbortSignal}) => {
    pauses.push(ms)
    pauseSignals.push(options?.signal !== undefined)
    if (options?.signal?.aborted) throw options.signal.reason
  },
}))
beforeEach(() => {
  pauses.length = 0
  pauseSignals.length = 0
})

const EXPIRED =
  'Error: writing blob: denied: Your authorization token has expired. Reauthenticate and try again.'

/** A state ready to push: preflight done, bento built, a private folder for the digest file. */
async function readyToPush(options: Parameters<typeof stepFixture>[0] = {}): Promise<StepFixture> {
  const fixture = await afterPreflight(stepFixture({flags: {tag: ['latest']}, ...options}))
  fixture.state.bentoTag = 'iris_service:v1'
  fixture.state.workDir = tempDir('work')
  return fixture
}

async function pushFailure(state: DeployState) {
  const error = await pushStep.run(state, recordingIo()).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error, 'the push failed').toBeDefined()
  return classify(error, pushStep.failure, {step: 'push'})
}

const pushes = (fixture: StepFixture) => fixture.bin.calls().filter((call) => call.step === 'push')

describe('the push step', () => {
  it('uploads once, under the bento version, with podman writing the digest to the private folder', async () => {
    const fixture = await readyToPush()
    const {state} = fixture
    const image = `${REGISTRY}/modela/v1:v1`
    expect(pushCommands(state)).toEqual([
      {
        command: 'podman',
        args: ['push', '--format', 'v2s2', '--digestfile', digestFile(state, 0), image],
        cwd: state.config.target.dir,
        env: {REGISTRY_AUTH_FILE: `${state.workDir}/auth.json`},
      },
    ])
    expect(digestFile(state, 0)).toBe(`${state.workDir}/digest-0`)
    const io = recordingIo()
    await pushStep.run(state, io)
    expect(state.digest).toBe(DIGEST)
    expect(state.pushed).toEqual([image])
    expect(io.lines.at(-1)).toBe(`${image} -> ${DIGEST}`)
    expect(pushes(fixture)).toHaveLength(1)
    expect(fixture.aws.calls).toEqual([])
  })

  it('reports layers done/total as the output says them (real podman and docker lines), and in the record', async () => {
    const fixture = await readyToPush()
    const podman = readFileSync(
      path.resolve(import.meta.dirname, '../../fixtures/push/podman-first.txt'),
      'utf8',
    )
    scriptTool(
      fixture.bin.dir,
      'podman',
      `const fs = require('node:fs')
process.stderr.write(${JSON.stringify(podman)})
fs.writeFileSync(process.argv[process.argv.indexOf('--digestfile') + 1], ${JSON.stringify(DIGEST)})`,
    )
    const host = new RecordingHost()
    const run = newRun([pushStep], fixture.state)
    await runPlans([pushStep], [run], {host, signal: new AbortController().signal})
    const shown = host.events.flatMap((event) => (event.type === 'stepProgress' ? [event.text] : []))
    expect(shown[0]).toMatch(/^0\/1 layers done, \d+s$/)
    expect(shown.at(-1)).toMatch(/^13\/13 layers done, \d+s$/)
    expect(run.steps[0]!.progress).toMatchObject({unit: 'layers', done: 13, total: 13, existing: 0})
    expect(run.steps[0]!.progress!.elapsedMs).toBeGreaterThanOrEqual(0)
  })

  it('with docker: layers the registry had are counted apart', async () => {
    const fixture = await readyToPush({flags: {backend: 'docker', tag: ['latest']}})
    const docker = readFileSync(
      path.resolve(import.meta.dirname, '../../fixtures/push/docker-again.txt'),
      'utf8',
    )
    scriptTool(
      fixture.bin.dir,
      'docker',
      `process.stdout.write(${JSON.stringify(docker.replace(/sha256:[a-f0-9]{64}/, DIGEST))})`,
    )
    const io = recordingIo()
    await pushStep.run(fixture.state, io)
    expect(io.progressed.at(-1)).toEqual({unit: 'layers', done: 3, total: 3, existing: 3})
    expect(fixture.state.digest).toBe(DIGEST)
  })

  it('describes the upload, then the conditional re-login and retries', () => {
    const {state} = stepFixture()
    const description = pushStep.describe(state)
    expect(description.actions).toEqual([
      expect.objectContaining({calls: ['aws:ecr:GetAuthorizationToken'], when: 'the login token expired'}),
    ])
    expect(description.commands.map((command) => [command.args[0], command.when])).toEqual([
      ['push', 'the image is not reused from the repository'],
      ['login', 'the login token expired (then the push runs again)'],
      ['push', 'a transient failure (network reset, 5xx): up to 2 more tries'],
    ])
    expect(digestFile(state, 1)).toBe('$TMPDIR/mldeploy-XXXXXX/digest-1')
  })

  it('with docker, reads the digest from the line docker prints', async () => {
    const fixture = await readyToPush({flags: {backend: 'docker', tag: ['latest']}})
    expect(pushCommands(fixture.state)[0]!.args).toEqual(['push', `${REGISTRY}/modela/v1:v1`])
    await pushStep.run(fixture.state, recordingIo())
    expect(fixture.state.digest).toBe(DIGEST)
  })

  it('a push that reports no digest: check:no-digest, class push (8)', async () => {
    const fixture = await readyToPush()
    scriptTool(fixture.bin.dir, 'podman', "console.log('pushed, digest file not written')")
    const error = await pushFailure(fixture.state)
    expect(error).toMatchObject({kind: 'push', exitCode: ExitCode.push, reason: 'check:no-digest'})
    expect(fixture.state.pushed).toEqual([])
  })

  it('a digest that is not sha256:<64 hex> is no digest either', async () => {
    const fixture = await readyToPush({flags: {backend: 'docker', tag: ['latest']}})
    scriptTool(fixture.bin.dir, 'docker', "console.log('v1: digest: sha256:abc size: 1')")
    expect(await pushFailure(fixture.state)).toMatchObject({reason: 'check:no-digest'})
  })

  it('an image that changed since an earlier push of the run: check:digest-changed', async () => {
    const fixture = await readyToPush()
    fixture.state.digest = `sha256:${'cd'.repeat(32)}`
    const error = await pushFailure(fixture.state)
    expect(error).toMatchObject({kind: 'push', reason: 'check:digest-changed'})
    expect(error.message).toContain(`was pushed as ${DIGEST}, but the first tag as sha256:cdcd`)
  })

  it('retries a transient failure with doubling pauses, and succeeds within 3 attempts', async () => {
    const fixture = await readyToPush({env: {FAKE_TRANSIENT: '2'}})
    const io = recordingIo()
    await pushStep.run(fixture.state, io)
    expect(pushes(fixture)).toHaveLength(3)
    const retries = io.lines.filter((line) => line.includes('Trying again'))
    expect(retries).toEqual([
      'Pushing ' +
        `${REGISTRY}/modela/v1:v1 failed: The connection to registry was cut (connection reset by peer). Trying again in 1 s (attempt 2 of 3).`,
      'Pushing ' +
        `${REGISTRY}/modela/v1:v1 failed: The connection to registry was cut (connection reset by peer). Trying again in 2 s (attempt 3 of 3).`,
    ])
    expect(pauses).toEqual([1000, 2000])
    expect(fixture.state.digest).toBe(DIGEST)
  })

  it(`gives up after ${PUSH_ATTEMPTS} transient failures: registry:transient, class push (8)`, async () => {
    const fixture = await readyToPush({env: {FAKE_TRANSIENT: '5'}})
    const error = await pushFailure(fixture.state)
    expect(error).toMatchObject({kind: 'push', exitCode: 8, reason: 'registry:transient', step: 'push'})
    expect(pushes(fixture)).toHaveLength(PUSH_ATTEMPTS)
    expect(pauses).toEqual([1000, 2000])
    expect(fixture.state.pushed).toEqual([])
  })

  it('does not retry what a retry cannot fix (a missing repository)', async () => {
    const fixture = await readyToPush({env: {FAKE_FAIL: 'push'}})
    const error = await pushFailure(fixture.state)
    expect(error).toMatchObject({kind: 'push', reason: 'registry:not-found'})
    expect(error.message).toContain('ECR repository modela/v1 does not exist in account 123456789012.')
    expect(pushes(fixture)).toHaveLength(1)
    expect(pauses).toEqual([])
  })

  it('does not retry an unrecognised child failure either', async () => {
    const fixture = await readyToPush({env: {FAKE_PUSH_ERROR: 'Error: something nobody knows'}})
    expect(await pushFailure(fixture.state)).toMatchObject({kind: 'push', reason: 'child:exit'})
    expect(pushes(fixture)).toHaveLength(1)
  })

  it('an expired token: one fresh token, one new login with it, then the push again', async () => {
    const fresh = 'fresh-ecr-password-9876543210'
    const fixture = await readyToPush({env: {FAKE_EXPIRED: '1', FAKE_PASSWORD: fresh}})
    fixture.aws.passwords = [fresh]
    const io = recordingIo()
    await pushStep.run(fixture.state, io)
    expect(fixture.aws.calls).toEqual(['authorization'])
    expect(fixture.state.authorization?.password).toBe(fresh)
    expect(fixture.bin.calls().map((call) => call.step)).toEqual(['push', 'login', 'push'])
    expect(fixture.bin.calls()[1]!.stdin).toBe(fresh)
    expect(io.lines).toContain('The login token expired: fetching a new one and logging in again.')
    // The retry after a new login is not one of the transient tries.
    expect(io.lines.some((line) => line.includes('Trying again'))).toBe(false)
    expect(fixture.state.digest).toBe(DIGEST)
  })

  it('an expiry again after the fresh login is registry:login-expired, class auth (7)', async () => {
    const fixture = await readyToPush({env: {FAKE_PUSH_ERROR: EXPIRED}})
    const error = await pushFailure(fixture.state)
    expect(error).toMatchObject({kind: 'auth', exitCode: ExitCode.auth, reason: 'registry:login-expired'})
    expect(fixture.bin.calls().map((call) => call.step)).toEqual(['push', 'login', 'push'])
    expect(fixture.aws.calls).toEqual(['authorization'])
  })

  it('a refused token at push time is class auth (7), without a new login', async () => {
    const fixture = await readyToPush({
      env: {FAKE_PUSH_ERROR: 'Error: unauthorized: authentication required'},
    })
    expect(await pushFailure(fixture.state)).toMatchObject({kind: 'auth', reason: 'registry:login-refused'})
    expect(fixture.bin.calls().map((call) => call.step)).toEqual(['push'])
  })

  it('a denied permission is class push (8)', async () => {
    const fixture = await readyToPush({
      env: {
        FAKE_PUSH_ERROR:
          'denied: User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:InitiateLayerUpload on resource: x',
      },
    })
    expect(await pushFailure(fixture.state)).toMatchObject({kind: 'push', reason: 'registry:denied'})
  })

  it('a failed fresh token is an AWS failure of the push step (8)', async () => {
    const fixture = await readyToPush({env: {FAKE_EXPIRED: '1'}})
    const {AwsError} = await import('../../../src/errors.js')
    fixture.aws.authorizationAnswer = new AwsError('access-denied', 'ecr:GetAuthorizationToken', 'denied')
    expect(await pushFailure(fixture.state)).toMatchObject({kind: 'push', reason: 'aws:access-denied'})
  })

  it('SIGINT during the pause between tries: interrupted (130), nothing tried again, later steps skipped', async () => {
    const fixture = await readyToPush({env: {FAKE_TRANSIENT: '5'}})
    const controller = new AbortController()
    const host = new RecordingHost((event) => {
      if (event.type === 'stepOutput' && event.text.includes('Trying again')) controller.abort('SIGINT')
    })
    const plan = [pushStep, tagStep<DeployState>()]
    const run = newRun(plan, fixture.state)
    await runPlans(plan, [run], {host, signal: controller.signal})
    expect(run.failure).toMatchObject({
      kind: 'interruptedSigint',
      exitCode: 130,
      reason: 'interrupted:SIGINT',
      step: 'push',
    })
    expect(run.failure!.message).toBe('Interrupted by SIGINT during push.')
    expect(run.steps.map((step) => step.status)).toEqual(['interrupted', 'skipped'])
    expect(host.ends).toEqual([
      ['push', 'interrupted'],
      ['tag', 'skipped'],
    ])
    expect(pushes(fixture)).toHaveLength(1)
  })

  it('the password never shows in what the step printed', async () => {
    const fixture = await readyToPush({env: {FAKE_PUSH_ERROR: `Error: ${PASSWORD} rejected`}})
    const io = recordingIo()
    await pushStep.run(fixture.state, io).catch(() => undefined)
    expect(io.lines.join('\n')).not.toContain(PASSWORD)
  })

  it('pushing the same image again under a run that already knows its digest is fine', async () => {
    const fixture = await readyToPush()
    fixture.state.digest = DIGEST
    await pushStep.run(fixture.state, recordingIo())
    expect(fixture.state.pushed).toEqual([`${REGISTRY}/modela/v1:v1`])
  })

  it('the image changed: the message and what to do', async () => {
    const fixture = await readyToPush()
    fixture.state.digest = `sha256:${'cd'.repeat(32)}`
    const error = await pushFailure(fixture.state)
    expect(error.hint).toBe('The local image changed between pushes; run again.')
  })

  it("reads podman's digest file, trailing newline and all", async () => {
    const fixture = await readyToPush()
    scriptTool(
      fixture.bin.dir,
      'podman',
      `const a = process.argv; require('node:fs').writeFileSync(a[a.indexOf('--digestfile') + 1], '${DIGEST}\\n')`,
    )
    await pushStep.run(fixture.state, recordingIo())
    expect(fixture.state.digest).toBe(DIGEST)
  })

  it('a digest file with something else in it is no digest', async () => {
    const fixture = await readyToPush()
    scriptTool(
      fixture.bin.dir,
      'podman',
      "const a = process.argv; require('node:fs').writeFileSync(a[a.indexOf('--digestfile') + 1], 'sha256:short')",
    )
    const error = await pushFailure(fixture.state)
    expect(error.reason).toBe('check:no-digest')
    expect(error.message).toBe(`Pushed ${REGISTRY}/modela/v1:v1 but could not read its digest.`)
  })

  it('a fresh login does not use up a try: an expiry, then two transient failures, still pushes', async () => {
    const fixture = await readyToPush({env: {FAKE_EXPIRED: '1', FAKE_TRANSIENT: '2'}})
    await pushStep.run(fixture.state, recordingIo())
    expect(fixture.bin.calls().map((call) => call.step)).toEqual(['push', 'login', 'push', 'push', 'push'])
    expect(fixture.state.digest).toBe(DIGEST)
  })

  it('an interrupt during the pause runs no further push (the ledger shows one)', async () => {
    const fixture = await readyToPush({env: {FAKE_TRANSIENT: '5'}})
    const controller = new AbortController()
    const host = new RecordingHost((event) => {
      if (event.type === 'stepOutput' && event.text.includes('Trying again')) controller.abort('SIGINT')
    })
    const run = newRun([pushStep], fixture.state)
    await runPlans([pushStep], [run], {host, signal: controller.signal})
    expect(run.steps[0]!.ran!.filter((call) => call.includes(' push '))).toHaveLength(1)
    // The pause was handed the interrupt, so it ends at once rather than after its full length.
    expect(pauseSignals.every((signal) => signal === true)).toBe(true)
    expect(pushStep.title).toBe('Push the image')
    expect(pushStep.describe(fixture.state).actions[0]!.text).toBe(
      'A fresh ECR login token (GetAuthorizationToken) and a new login, once, if the registry says the token expired',
    )
  })

  it('an unrecognised failure names the image in its message', async () => {
    const fixture = await readyToPush({env: {FAKE_PUSH_ERROR: 'Error: something nobody knows'}})
    const error = await pushFailure(fixture.state)
    expect(error.message).toBe(
      `Pushing ${REGISTRY}/modela/v1:v1 failed (exit code 125): Error: something nobody knows`,
    )
  })
})
