import {rmSync, symlinkSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {AwsError, classify, EnvironmentError, ExitCode} from '../../../src/errors.js'
import {newRun, runPlans} from '../../../src/pipeline/engine.js'
import {PUSH_PLAN} from '../../../src/pipeline/plan.js'
import {DeployState} from '../../../src/pipeline/state.js'
import {assertTagsFree, bentomlProbeCommand, preflightStep} from '../../../src/steps/preflight.js'
import {resolvePython} from '../../../src/systems/python.js'
import {
  ACCOUNT,
  DIGEST,
  hang,
  PASSWORD,
  REGISTRY,
  type StepFixture,
  stepFixture,
} from '../../helpers/deploy-state.js'
import {tempDir} from '../../helpers/cli.js'
import {RecordingHost, recordingIo} from '../../helpers/recording-host.js'

async function preflightFailure(state: DeployState, io = recordingIo()) {
  const error = await preflightStep.run(state, io).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error, 'the preflight failed').toBeDefined()
  return classify(error, preflightStep.failure, {step: 'preflight'})
}

let server: Server | undefined
afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())))
  server = undefined
})

/** A TCP port that answers (the VPN is on). */
async function listening(): Promise<number> {
  server = createServer((socket) => socket.end())
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** A loopback port nothing listens on (the VPN is off). */
async function closedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const {port} = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

/** A PATH of the stand-ins and node alone: the machine may have a real podman or docker. */
function onlyStandIns(binDir: string): string {
  const nodeDir = tempDir('node')
  symlinkSync(process.execPath, path.join(nodeDir, 'node'))
  return `${binDir}:${nodeDir}`
}

describe('the preflight step', () => {
  it('checks identity, repository, token and executables at once, and keeps what it learned', async () => {
    const {state, aws, bin} = stepFixture({flags: {tag: ['latest']}})
    const io = recordingIo()
    await preflightStep.run(state, io)
    expect(io.lines).toEqual([
      'ok   VPN: skipped',
      `ok   AWS identity and repository: account ${ACCOUNT} (arn:aws:iam::${ACCOUNT}:user/ci); repository modela/v1 exists (MUTABLE)`,
      `ok   ECR login token: registry ${REGISTRY}`,
      `ok   Executables: ${bin.dir}/python, bentoml 1.4.30 (>= 1.4.25), podman`,
    ])
    expect(state.account).toEqual({value: ACCOUNT, source: 'STS GetCallerIdentity'})
    expect(state.authorization).toMatchObject({registry: REGISTRY, password: PASSWORD})
    expect(state.registry).toEqual({value: REGISTRY, source: 'ECR GetAuthorizationToken proxyEndpoint'})
    expect(state.repositoryFacts?.mutability).toBe('MUTABLE')
    // A mutable repository needs no look at the tags.
    expect(aws.calls.sort()).toEqual(['authorization', 'identity', `repository modela/v1 ${ACCOUNT}`])
    // The token is a secret from the moment it is fetched.
    expect(state.secrets.redact(`p=${PASSWORD}`)).not.toContain(PASSWORD)
    const probe = bin.calls().find((call) => call.step === 'probe')
    expect(probe?.argv).toEqual(['-c', bentomlProbeCommand(state).args[1]])
  })

  it('the fallback python3 says why it was chosen, passing or failing', async () => {
    const {state, aws, bin, root} = stepFixture()
    symlinkSync(path.join(bin.dir, 'python'), path.join(bin.dir, 'python3'))
    const python = resolvePython(undefined, {PATH: bin.dir}, root, root)
    const why =
      'no virtualenv active (VIRTUAL_ENV), no Pipfile at the project root; set MLDEPLOY_PYTHON (or --python) to choose'
    const fallback = new DeployState({...state.config, python}, state.region, aws.asClients)
    const io = recordingIo()
    await preflightStep.run(fallback, io)
    expect(io.lines).toContain(`ok   Executables: python3 (${why}), bentoml 1.4.30 (>= 1.4.25), podman`)
    const missing = new DeployState(
      {...state.config, python: {...python, value: {...python.value, command: 'python3-nowhere'}}},
      state.region,
      aws.asClients,
    )
    expect((await preflightFailure(missing)).message).toBe(
      `Not found on PATH: python3-nowhere (Python, ${why}).`,
    )
  })

  it('describes each check with the calls it makes', () => {
    const {state} = stepFixture()
    const description = preflightStep.describe(state)
    expect(description.actions.map((action) => action.calls)).toEqual([
      ['aws:sts:GetCallerIdentity'],
      ['aws:ecr:DescribeRepositories'],
      ['aws:ecr:DescribeImages'],
      ['aws:ecr:GetAuthorizationToken'],
      [],
      [],
      [],
    ])
    expect(description.actions[0]!.text).toBe('AWS identity: STS GetCallerIdentity (region us-east-1)')
    expect(description.actions[2]!.when).toBe('the repository is IMMUTABLE')
    expect(description.actions.at(-2)!.text).toBe(
      'VPN check: skipped (no --vpn-check and no http(s) MLFLOW_TRACKING_URI)',
    )
    // The step fixtures skip the disk check (its own tests are in systems/disk).
    expect(description.actions.at(-1)!.text).toBe('Disk check: skipped (--skip-disk-check)')
    // dryRun: the checking dry run starts this read-only probe too (issue 16 §3).
    expect(description.commands).toEqual([
      {...bentomlProbeCommand(state), when: 'the Python is on PATH', dryRun: true},
    ])
    expect(preflightStep).toMatchObject({id: 'preflight', failure: 'preflight'})
  })

  it('describes the creation of a missing repository and the VPN probe when asked for', () => {
    const {state} = stepFixture({
      flags: {
        'create-repository': true,
        'image-tag-mutability': 'IMMUTABLE',
        'vpn-check': 'mlflow.internal:443',
      },
    })
    const description = preflightStep.describe(state)
    expect(description.actions[2]).toEqual({
      text: 'Create it (IMMUTABLE, scan on push on), ECR CreateRepository'.replace('), ECR', '): ECR'),
      calls: ['aws:ecr:CreateRepository', 'aws:ecr:DescribeRepositories'],
      when: 'the repository is missing',
    })
    expect(description.actions.at(-2)).toEqual({
      text: 'VPN check: TCP connect to mlflow.internal:443 within 3 s (from flag --vpn-check)',
      calls: ['tcp:mlflow.internal:443'],
      dryRun: true,
    })
  })

  it('reports a repository it created', async () => {
    const {state, aws} = stepFixture({flags: {'create-repository': true}})
    aws.repositoryAnswer = {uri: 'x', mutability: 'MUTABLE', created: true}
    const io = recordingIo()
    await preflightStep.run(state, io)
    expect(aws.calls).toContain(`repository modela/v1 ${ACCOUNT} create MUTABLE`)
    expect(aws.calls).toContain(`putLifecyclePolicy modela/v1 ${ACCOUNT}`)
    expect(JSON.parse(aws.lifecyclePolicies[0]!).rules[0].selection.tagPatternList).toEqual(['latest'])
    expect(io.lines[1]).toMatch(
      /repository modela\/v1 created \(MUTABLE, scan on push (on|off), lifecycle policy attached\)$/,
    )
  })

  it('a lifecycle policy that cannot be attached is a warning: the push goes on', async () => {
    const {state, aws} = stepFixture({flags: {'create-repository': true}})
    aws.repositoryAnswer = {uri: 'x', mutability: 'MUTABLE', created: true}
    aws.lifecycleAnswer = new AwsError('throttled', 'ecr:PutLifecyclePolicy', 'Slow down.')
    const io = recordingIo()
    await preflightStep.run(state, io)
    expect(io.lines[1]).toMatch(/created \(MUTABLE, scan on push on, lifecycle policy NOT attached\)$/)
    expect(state.warnings).toContainEqual(
      expect.stringMatching(
        /^modela\/v1 was created without its lifecycle policy \(Slow down\): it keeps every image/,
      ),
    )
  })

  it('no lifecycle policy with --no-lifecycle-policy, and none for a repository that existed', async () => {
    const off = stepFixture({flags: {'create-repository': true, 'lifecycle-policy': false}})
    off.aws.repositoryAnswer = {uri: 'x', mutability: 'MUTABLE', created: true}
    const io = recordingIo()
    await preflightStep.run(off.state, io)
    expect(io.lines[1]).toMatch(/, no lifecycle policy\)$/)
    const existing = stepFixture({flags: {'create-repository': true}})
    await preflightStep.run(existing.state, recordingIo())
    expect(
      off.aws.calls.concat(existing.aws.calls).some((call) => call.startsWith('putLifecyclePolicy')),
    ).toBe(false)
  })

  it('AccessDenied from DescribeRepositories (a push-only role) is a warning naming the permission', async () => {
    const {state, aws} = stepFixture()
    aws.repositoryAnswer = new AwsError(
      'access-denied',
      'ecr:DescribeRepositories',
      'Not allowed to describe.',
    )
    const io = recordingIo()
    await preflightStep.run(state, io)
    expect(state.warnings.join('\n')).toContain('ecr:DescribeRepositories')
    expect(io.lines.some((line) => line.startsWith('FAIL'))).toBe(false)
  })

  it('another AWS failure of the repository check stays a preflight failure (3)', async () => {
    const {state, aws} = stepFixture()
    aws.repositoryAnswer = new AwsError('credentials-expired', 'ecr:DescribeRepositories', 'Expired.')
    const io = recordingIo()
    const error = await preflightFailure(state, io)
    expect(error).toMatchObject({
      kind: 'preflight',
      exitCode: ExitCode.preflight,
      reason: 'aws:credentials-expired',
    })
    expect(io.lines[1]).toBe('FAIL AWS identity and repository: Expired.')
    expect(io.lines[2]).toMatch(/^ok {3}ECR login token/)
  })

  it('the first failure, in the order of the checks, is the one reported', async () => {
    const {state, aws} = stepFixture()
    aws.identityAnswer = new AwsError('credentials-missing', 'sts:GetCallerIdentity', 'No credentials.')
    aws.authorizationAnswer = new AwsError('access-denied', 'ecr:GetAuthorizationToken', 'No token.')
    expect(await preflightFailure(state)).toMatchObject({reason: 'aws:credentials-missing'})
  })

  it('an environment error (the temp folder) is class 3 as well', async () => {
    const {state, aws} = stepFixture()
    aws.identityAnswer = new EnvironmentError('temp-missing', 'No temp folder.')
    expect(await preflightFailure(state)).toMatchObject({
      kind: 'preflight',
      reason: 'environment:temp-missing',
    })
  })

  it('credentials of another account than --account-id: check:account-mismatch', async () => {
    const {state, aws} = stepFixture({flags: {'account-id': '999999999999'}})
    const error = await preflightFailure(state)
    expect(error).toMatchObject({kind: 'preflight', reason: 'check:account-mismatch'})
    expect(error.message).toBe(
      `The AWS credentials are for account ${ACCOUNT} (arn:aws:iam::${ACCOUNT}:user/ci), but flag --account-id says 999999999999.`,
    )
    expect(aws.calls).not.toContain(`repository modela/v1 ${ACCOUNT}`)
  })

  describe('an immutable repository', () => {
    function immutable(): StepFixture {
      const fixture = stepFixture({flags: {tag: ['latest'], 'bento-version': 'v1'}})
      fixture.aws.repositoryAnswer = {uri: 'x', mutability: 'IMMUTABLE', created: false}
      return fixture
    }

    it('passes when none of the tags exists yet', async () => {
      const {state, aws} = immutable()
      const io = recordingIo()
      await preflightStep.run(state, io)
      expect(aws.calls).toContain('imagesByTag modela/v1 latest,v1')
      expect(io.lines[1]).toMatch(/exists \(IMMUTABLE\)$/)
    })

    it('fails with check:tag-taken, naming the tag and its image', async () => {
      const {state, aws} = immutable()
      aws.images.set('latest', {digest: DIGEST, sizeBytes: 1, pushedAt: null, tags: ['latest']})
      const error = await preflightFailure(state)
      expect(error).toMatchObject({kind: 'preflight', reason: 'check:tag-taken'})
      expect(error.message).toBe(
        `Tag latest already exists in the immutable repository modela/v1 (image ${DIGEST}).`,
      )
      expect(error.hint).toBe('Push under new tags (--tag), or promote the existing image instead.')
    })

    it('does not ask about the placeholder of a version not known yet', async () => {
      const {state, aws} = stepFixture({flags: {tag: ['latest']}})
      await assertTagsFree(state, AbortSignal.timeout(5000))
      expect(aws.calls).toEqual(['imagesByTag modela/v1 latest'])
    })
  })

  it('missing executables: check:missing-executable naming each', async () => {
    const {state, bin} = stepFixture({env: {MLDEPLOY_PYTHON: '/nonexistent/python'}})
    rmSync(path.join(bin.dir, 'podman'))
    state.config.childEnv.PATH = onlyStandIns(bin.dir)
    const io = recordingIo()
    const error = await preflightFailure(state, io)
    expect(error).toMatchObject({kind: 'preflight', reason: 'check:missing-executable'})
    expect(error.message).toBe(
      'Not found on PATH: /nonexistent/python (Python, from env MLDEPLOY_PYTHON), podman (container backend).',
    )
    expect(bin.calls()).toEqual([])
  })

  it('missing backend alone is named alone', async () => {
    const {state, bin} = stepFixture()
    rmSync(path.join(bin.dir, 'podman'))
    state.config.childEnv.PATH = onlyStandIns(bin.dir)
    expect((await preflightFailure(state)).message).toBe('Not found on PATH: podman (container backend).')
  })

  it('a bentoml older than 1.4.25: check:bentoml', async () => {
    const {state} = stepFixture({env: {FAKE_BENTOML_VERSION: '1.3.9'}})
    const error = await preflightFailure(state)
    expect(error).toMatchObject({kind: 'preflight', reason: 'check:bentoml'})
    expect(error.message).toContain('bentoml 1.3.9')
  })

  it('no bentoml at all: check:bentoml with the probe output as detail', async () => {
    const {state} = stepFixture({env: {FAKE_FAIL: 'probe'}})
    const error = await preflightFailure(state)
    expect(error).toMatchObject({reason: 'check:bentoml'})
    expect(error.detail).toContain("No module named 'bentoml'")
  })

  it('the VPN answers: reported with where the check came from', async () => {
    const port = await listening()
    const {state} = stepFixture({flags: {'vpn-check': `127.0.0.1:${port}`}})
    const io = recordingIo()
    await preflightStep.run(state, io)
    expect(io.lines[0]).toBe(`ok   VPN: 127.0.0.1:${port} (from flag --vpn-check) answered`)
  })

  it('the VPN is off: check:vpn-off, class preflight (3)', async () => {
    const port = await closedPort()
    const {state} = stepFixture({flags: {'vpn-check': `127.0.0.1:${port}`}})
    const error = await preflightFailure(state)
    expect(error).toMatchObject({kind: 'preflight', reason: 'check:vpn-off'})
  })

  it('a check that never answers: check:timeout within --timeout preflight', async () => {
    const {state, aws} = stepFixture({flags: {timeout: ['preflight=1s']}})
    aws.identityAnswer = hang
    const io = recordingIo()
    const error = await preflightFailure(state, io)
    expect(error).toMatchObject({kind: 'preflight', reason: 'check:timeout'})
    expect(error.message).toBe('The preflight did not finish within 1s.')
    expect(io.lines[1]).toMatch(/^FAIL AWS identity and repository: aborted/)
  })

  it('SIGINT while a check hangs: interrupted (130), the rest of the plan skipped', async () => {
    const {state, aws} = stepFixture()
    aws.identityAnswer = hang
    const controller = new AbortController()
    const host = new RecordingHost((event) => {
      if (event.type === 'stepStarted') setTimeout(() => controller.abort('SIGINT'), 50)
    })
    const run = newRun(PUSH_PLAN, state)
    await runPlans(PUSH_PLAN, [run], {host, signal: controller.signal})
    expect(run.failure).toMatchObject({kind: 'interruptedSigint', exitCode: 130, step: 'preflight'})
    expect(run.steps.map((step) => step.status)).toEqual([
      'interrupted',
      ...Array(PUSH_PLAN.length - 1).fill('skipped'),
    ])
  })

  it('describes every check in words', () => {
    const {state, bin} = stepFixture()
    expect(preflightStep.describe(state).actions.map((action) => action.text)).toEqual([
      'AWS identity: STS GetCallerIdentity (region us-east-1)',
      'ECR repository modela/v1 exists: ECR DescribeRepositories',
      'None of the tags exists yet: ECR DescribeImages',
      'ECR login token and registry host: ECR GetAuthorizationToken',
      `Executables on PATH: ${bin.dir}/python, podman`,
      'VPN check: skipped (no --vpn-check and no http(s) MLFLOW_TRACKING_URI)',
      'Disk check: skipped (--skip-disk-check)',
    ])
    expect(preflightStep.title).toBe('Preflight checks')
  })

  it('with --registry, says the token is for ECR and the push goes elsewhere', async () => {
    const {state} = stepFixture({flags: {registry: '127.0.0.1:5000'}})
    const io = recordingIo()
    await preflightStep.run(state, io)
    expect(io.lines[2]).toBe(
      `ok   ECR login token: token for ${REGISTRY}; pushing to 127.0.0.1:5000 (flag --registry)`,
    )
  })

  it('the hints of a timeout and of missing executables', async () => {
    const timed = stepFixture({flags: {timeout: ['preflight=1s']}})
    timed.aws.identityAnswer = hang
    expect((await preflightFailure(timed.state)).hint).toBe(
      'Something did not answer (AWS endpoint, VPN, Python): see the checks above, or raise --timeout preflight=<duration>.',
    )
    const missing = stepFixture({env: {MLDEPLOY_PYTHON: '/nonexistent/python'}})
    expect((await preflightFailure(missing.state)).hint).toBe(
      'Install them, or choose the Python with --python and the backend with --backend.',
    )
  })

  it('describes the creation with scan on push off', () => {
    const {state} = stepFixture({flags: {'create-repository': true, 'scan-on-push': false}})
    expect(preflightStep.describe(state).actions[2]!.text).toBe(
      'Create it (MUTABLE, scan on push off): ECR CreateRepository',
    )
  })

  it('reports a repository it created with scan on push off', async () => {
    const {state, aws} = stepFixture({flags: {'create-repository': true, 'scan-on-push': false}})
    aws.repositoryAnswer = {uri: 'x', mutability: 'MUTABLE', created: true}
    const io = recordingIo()
    await preflightStep.run(state, io)
    expect(io.lines[1]).toMatch(
      /repository modela\/v1 created \(MUTABLE, scan on push off, lifecycle policy attached\)$/,
    )
  })
})

// Issue 13: a remote engine is resolved and probed here; no local disk check applies.
describe('the preflight with a remote engine (--builder)', () => {
  it('describes the resolution and the probe; the name stands for the endpoint until then', () => {
    const {state} = stepFixture({flags: {builder: 'docker-context:build'}})
    const {actions, commands} = preflightStep.describe(state)
    expect(actions.map((action) => action.text)).toContain(
      "Disk check: none (builder docker-context:build builds on its engine's disk, not this machine's)",
    )
    expect(commands.slice(1).map((command) => [command.command, ...command.args])).toEqual([
      ['docker', 'context', 'inspect', 'build', '--format', '{{json .}}'],
      [
        'docker',
        '--host',
        '<endpoint-of-docker-context:build>',
        'version',
        '--format',
        '{{.Server.Version}}',
      ],
    ])
  })

  it('a context that is not there fails the preflight (exit 3) with one line naming it', async () => {
    // The real docker CLI, against an empty docker config folder.
    const fixture = stepFixture({flags: {builder: 'docker-context:gone'}})
    fixture.state.config.childEnv.PATH = `/usr/bin:${fixture.state.config.childEnv.PATH}`
    fixture.state.config.childEnv.DOCKER_CONFIG = tempDir('docker-config')
    const io = recordingIo()
    const failure = await preflightFailure(fixture.state, io)
    expect(failure).toMatchObject({exitCode: ExitCode.preflight, reason: 'check:engine'})
    expect(failure.message).toMatch(/^Builder docker-context:gone: it could not be resolved \(.+\)\.$/)
    expect(io.lines).toContain(
      "skip Disk: builder docker-context:gone builds on its engine's disk (not measured)",
    )
  })
})
