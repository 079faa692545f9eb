import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import path from 'node:path'

import {afterAll, beforeAll, beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository, expiredCredentialsHome, motoEnv} from '../helpers/aws.js'
import {baseEnv, makeProject, runCli, tempDir} from '../helpers/cli.js'
import {startFaultProxy} from '../helpers/fault-proxy.js'
import {MOTO_ACCOUNT, resetMoto} from '../helpers/moto.js'
import {
  CALLER_ROLE_ARN,
  EXECUTION_ROLE_ARN,
  type SageMakerStandIn,
  startSageMakerStandIn,
} from '../helpers/sagemaker-stand-in.js'
import {startMlflowStandIn} from '../helpers/mlflow-stand-in.js'

// The real CLI as a process, the real AWS SDK against moto, and small stand-ins for python, podman
// and docker whose answers each test picks through FAKE_* variables.
const motoUrl = inject('motoUrl')

const FAKE = `#!/usr/bin/env node
const tool = require('node:path').basename(process.argv[1])
const args = process.argv.slice(2)
const env = process.env
const out = (text) => process.stdout.write(text + '\\n')
if (env.FAKE_HANG === tool) setTimeout(() => {}, 60_000)
else if (tool === 'python' || tool === 'python3') {
  const code = args[args.indexOf('-c') + 1] ?? ''
  if (code.includes('sys.executable')) { out(process.argv[1]); out('3.11.7'); out('1') }
  else if (code.includes('bentoml')) {
    if (env.FAKE_BENTOML_VERSION === 'none') { process.stderr.write("ModuleNotFoundError: No module named 'bentoml'\\n"); process.exit(1) }
    out(env.FAKE_BENTOML_VERSION ?? '1.4.30')
  } else process.exit(2)
} else if (tool === 'podman' && args[0] === 'info') out('4.3.1|' + env.FAKE_STORAGE)
else if (tool === 'docker' && args[0] === 'version') {
  if (env.FAKE_DOCKER_DOWN) { process.stderr.write('Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\\n'); process.exit(1) }
  out('27.1.0')
} else if (tool === 'docker' && args[0] === 'info') out(env.FAKE_STORAGE)
else process.exit(2)
`

interface Setup {
  root: string
  env: Record<string, string>
  storage: string
  bentomlHome: string
}

function setup(extraEnv: Record<string, string> = {}, files: Record<string, string> = {}): Setup {
  const root = makeProject(files)
  const bin = tempDir('doctor-bin')
  for (const name of ['python', 'podman', 'docker']) {
    writeFileSync(path.join(bin, name), FAKE)
    chmodSync(path.join(bin, name), 0o755)
  }
  const storage = tempDir('storage')
  const bentomlHome = path.join(tempDir('bentoml'), 'not-yet')
  const env = baseEnv({
    ...motoEnv(motoUrl),
    PATH: `${bin}:${process.env.PATH}`,
    MLDEPLOY_PYTHON: path.join(bin, 'python'),
    FAKE_STORAGE: storage,
    BENTOML_HOME: bentomlHome,
    ...extraEnv,
  })
  return {root, env, storage, bentomlHome}
}

interface JsonCheck {
  id: string
  status: string
  message: string
  fix?: string
  data?: Record<string, unknown>
}

function byId(json: {checks: JsonCheck[]}): Record<string, JsonCheck> {
  return Object.fromEntries(json.checks.map((check) => [check.id, check]))
}

let vpn: Server
let vpnPort: number

beforeAll(async () => {
  vpn = createServer((socket) => socket.end())
  await new Promise<void>((resolve) => vpn.listen(0, '127.0.0.1', resolve))
  vpnPort = (vpn.address() as {port: number}).port
})

afterAll(() => new Promise<void>((resolve) => vpn.close(() => resolve())))

beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
})

describe('mldeploy doctor', () => {
  it('passes with everything in place; warnings (a repository without a lifecycle policy) do not fail; --json is one object', async () => {
    const s = setup({MLDEPLOY_VPN_CHECK: `127.0.0.1:${vpnPort}`})
    const result = await runCli(['doctor', 'modelA/V1', '--json'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    const checks = byId(json)
    expect(json.checks.map((check: JsonCheck) => check.id)).toEqual([
      'node',
      'mldeploy',
      'python',
      'bentoml',
      'backend',
      'builder',
      'aws',
      'ecr',
      'lifecycle',
      'vpn',
      'disk-bentoml',
      'disk-backend',
      'sagemaker',
      'project',
    ])
    expect(json.target).toBe('modelA/V1')
    // A target without an execution role does not deploy: nothing to check, nothing called.
    expect(checks.sagemaker).toMatchObject({
      status: 'skip',
      message: 'Not set up: no execution-role-arn is set (mldeploy.yaml, MLDEPLOY_SAGEMAKER_ROLE_ARN).',
    })
    expect(checks.node!.status).toBe('pass')
    expect(json.status).toBe('warnings')
    for (const id of ['mldeploy', 'python', 'bentoml', 'backend', 'aws', 'ecr', 'vpn']) {
      expect(checks[id]!.status, `${id}: ${checks[id]!.message}`).toBe('pass')
    }
    expect(checks.mldeploy!.data).toMatchObject({version: '0.1.0'})
    expect(checks.bentoml!.data).toEqual({version: '1.4.30'})
    expect(checks.aws!.data).toMatchObject({account: MOTO_ACCOUNT, region: 'us-east-1'})
    expect(checks.ecr!.message).toContain('Repository modela/v1 exists')
    // The repository beforeEach made has no lifecycle policy: a warning, not a failure.
    expect(checks.lifecycle).toMatchObject({
      status: 'warn',
      message:
        'Repository modela/v1 has no lifecycle policy: every push adds an image and none ever expires.',
      data: {repository: 'modela/v1', rules: 0},
    })
    expect(checks.lifecycle!.fix).toContain('Repository growth')
    expect(checks.vpn!.message).toBe(`127.0.0.1:${vpnPort} (from env MLDEPLOY_VPN_CHECK) answered.`)
    expect(checks['disk-bentoml']!.data).toMatchObject({
      path: s.bentomlHome,
      measuredAt: path.dirname(s.bentomlHome),
    })
    expect(checks['disk-backend']!.data).toMatchObject({path: s.storage})
    expect(json.settings.backend).toEqual({value: 'podman', source: 'default'})
  })

  it('fails with exit 3 and a fix per problem: old bentoml, docker down, missing repository, VPN off', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = createServer()
      server.listen(0, '127.0.0.1', () => {
        const {port} = server.address() as {port: number}
        server.close(() => resolve(port))
      })
    })
    const s = setup({FAKE_BENTOML_VERSION: '1.4.24', FAKE_DOCKER_DOWN: '1'})
    const args = ['doctor', 'modelA/V1', '--backend', 'docker', '--repository', 'nope/missing']
    const vpnFlags = ['--vpn-check', `127.0.0.1:${closed}`, '--vpn-timeout', '1']
    const result = await runCli([...args, ...vpnFlags], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(3)
    expect(result.stdout).toMatch(/^fail {2}bentoml +bentoml 1\.4\.24 in .* is older than 1\.4\.25\.$/m)
    expect(result.stdout).toMatch(/^ +fix: Upgrade it/m)
    expect(result.stdout).toMatch(
      /^fail {2}Backend \(docker\) +docker is installed but its daemon does not answer/m,
    )
    expect(result.stdout).toMatch(
      /^fail {2}ECR +ECR repository nope\/missing does not exist in account 123456789012/m,
    )
    expect(result.stdout).toMatch(
      // The same words as push's preflight: one VPN probe for both.
      /^fail {2}VPN +The VPN looks off: 127\.0\.0\.1:\d+ did not answer \(ECONNREFUSED; from flag --vpn-check\)/m,
    )
    // The daemon cannot say where it keeps its data: docker's default is measured.
    expect(result.stdout).toMatch(
      /^(pass|warn|fail) {2}Disk \(docker storage\) +.* free at \/var\/lib\/docker.*\(docker default\)\.$/m,
    )
    expect(result.stderr.trim()).toBe(
      'Error: 4 check(s) failed: bentoml, backend, ecr, vpn. Apply the fixes shown and run mldeploy doctor again.',
    )

    const json = await runCli([...args, ...vpnFlags, '--json'], {cwd: s.root, env: s.env})
    expect(json.exitCode).toBe(3)
    const parsed = JSON.parse(json.stdout)
    expect(parsed.status).toBe('failed')
    expect(parsed.error).toMatchObject({kind: 'preflight', exitCode: 3})
    expect(parsed.counts.fail).toBe(4)
    expect(byId(parsed).backend!.fix).toMatch(/--backend podman/)
  })

  it('reports missing credentials and skips ECR; bentoml missing is a fail', async () => {
    const s = setup({FAKE_BENTOML_VERSION: 'none'})
    delete s.env.AWS_ACCESS_KEY_ID
    delete s.env.AWS_SECRET_ACCESS_KEY
    const result = await runCli(['doctor', '--json', '--skip-vpn-check'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(3)
    const checks = byId(JSON.parse(result.stdout))
    expect(checks.aws).toMatchObject({status: 'fail'})
    expect(checks.aws!.message).toContain('no AWS credentials found')
    expect(checks.aws!.fix).not.toContain('--dry-run')
    expect(checks.ecr).toMatchObject({status: 'skip', message: 'Needs AWS credentials (see above).'})
    expect(checks.lifecycle!.status).toBe('skip')
    expect(checks.bentoml!.message).toMatch(/bentoml is not installed/)
    expect(checks.vpn).toMatchObject({status: 'skip', message: 'Skipped (--skip-vpn-check).'})
  })

  it.each(['sso-new', 'sso-legacy'])(
    '%s with an expired SSO session: the AWS check says to log in again, not to set AWS_PROFILE',
    async (profile) => {
      const s = setup({AWS_PROFILE: profile})
      delete s.env.AWS_ACCESS_KEY_ID
      delete s.env.AWS_SECRET_ACCESS_KEY
      expiredCredentialsHome(s.env.HOME!)
      const result = await runCli(['doctor', '--skip-vpn-check'], {cwd: s.root, env: s.env})
      expect(result.exitCode).toBe(3)
      expect(result.stdout).toMatch(
        new RegExp(
          `^fail {2}AWS credentials +Reading the AWS identity \\(STS GetCallerIdentity\\) failed: the AWS SSO session of profile ${profile} has expired \\(region us-east-1\\)\\.$`,
          'm',
        ),
      )
      expect(result.stdout).toMatch(
        new RegExp(`^ +fix: Run aws sso login --profile ${profile}, then run again\\.$`, 'm'),
      )
      const json = await runCli(['doctor', '--skip-vpn-check', '--json'], {cwd: s.root, env: s.env})
      expect(byId(JSON.parse(json.stdout)).aws).toMatchObject({
        status: 'fail',
        fix: `Run aws sso login --profile ${profile}, then run again.`,
      })
    },
  )

  it('without a chosen Python: python3, and why (no virtualenv, no Pipfile), in text and JSON', async () => {
    const s = setup()
    const bin = path.dirname(s.env.MLDEPLOY_PYTHON!)
    delete s.env.MLDEPLOY_PYTHON
    writeFileSync(path.join(bin, 'python3'), FAKE)
    chmodSync(path.join(bin, 'python3'), 0o755)
    const why =
      'no virtualenv active (VIRTUAL_ENV), no Pipfile at the project root; set MLDEPLOY_PYTHON (or --python) to choose'
    const text = await runCli(['doctor', '--skip-vpn-check'], {cwd: s.root, env: s.env})
    const line = text.stdout.split('\n').find((each) => each.includes('Python environment'))
    expect(line?.replace(/ +/g, ' ')).toBe(
      `pass Python environment python3 (${why}): Python 3.11.7 at ${bin}/python3 (virtualenv).`,
    )
    const json = await runCli(['doctor', '--skip-vpn-check', '--json'], {cwd: s.root, env: s.env})
    expect(byId(JSON.parse(json.stdout)).python).toMatchObject({
      status: 'pass',
      data: {command: 'python3', source: 'default', fallback: why},
    })
  })

  it.each([
    [
      'mlflow' as const,
      'pass',
      /^MLflow at http:\/\/127\.0\.0\.1:\d+ \(from env MLFLOW_TRACKING_URI\) answered\.$/,
    ],
    [
      'mlflow-auth' as const,
      'pass',
      /^MLflow at http:\/\/127\.0\.0\.1:\d+ \(from env MLFLOW_TRACKING_URI\) answered and asks for credentials \(the import's business/,
    ],
    [
      'proxy-auth' as const,
      'fail',
      /^The VPN looks off: a proxy answered for MLflow at .* asks for its own login \(HTTP 407/,
    ],
    [
      'plain-ok' as const,
      'fail',
      /^The VPN looks off: something that is not MLflow answered for .* \(HTTP 200 text\/plain; charset=utf-8: "OK"; from env MLFLOW_TRACKING_URI\)\.$/,
    ],
  ])('VPN check of an MLflow tracking URI answered as %s: %s', async (kind, status, message) => {
    const mlflow = await startMlflowStandIn(kind)
    try {
      const s = setup({MLFLOW_TRACKING_URI: mlflow.url.replace('http://', 'http://bob:hunter2-pw@')})
      const result = await runCli(['doctor', 'modelA/V1', '--json'], {cwd: s.root, env: s.env})
      expect(result.stdout).not.toContain('hunter2-pw')
      const vpnCheck = byId(JSON.parse(result.stdout)).vpn!
      expect(vpnCheck.status).toBe(status)
      expect(vpnCheck.message).toMatch(message)
      if (status === 'pass') expect(vpnCheck.data).toEqual({target: mlflow.url})
      else expect(vpnCheck.fix).toContain('--skip-vpn-check')
    } finally {
      await mlflow.close()
    }
  })

  it('without a target checks ECR with a read, and uses the root .env and --stage like push', async () => {
    const s = setup()
    writeFileSync(path.join(s.root, '.env'), 'MLDEPLOY_BACKEND=podman\n')
    writeFileSync(path.join(s.root, '.env.production'), `MLDEPLOY_BACKEND=docker\nAWS_REGION=us-east-1\n`)
    mkdirSync(path.join(s.root, 'sub'))
    const result = await runCli(['doctor', '--stage', 'production', '--json', '--skip-vpn-check'], {
      cwd: path.join(s.root, 'sub'),
      env: s.env,
    })
    const json = JSON.parse(result.stdout)
    expect(json.root).toBe(s.root)
    expect(json.stage).toBe('production')
    expect(json.envFiles).toEqual(['.env.production', '.env'])
    expect(json.settings.backend).toEqual({value: 'docker', source: '.env.production MLDEPLOY_BACKEND'})
    const checks = byId(json)
    expect(checks.backend).toMatchObject({status: 'pass', message: 'docker daemon 27.1.0 answers.'})
    expect(checks.ecr!.status).toBe('pass')
    expect(checks.ecr!.message).toContain('ECR answers in account 123456789012, region us-east-1')
    expect(result.exitCode).toBe(0)
  })

  it('lifecycle: a policy passes; a missing repository skips; GetLifecyclePolicy denied warns naming it', async () => {
    const {ECRClient, PutLifecyclePolicyCommand} = await import('@aws-sdk/client-ecr')
    const client = new ECRClient({
      region: 'us-east-1',
      endpoint: motoUrl,
      credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
    })
    const rule = {
      rulePriority: 1,
      selection: {tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14},
      action: {type: 'expire'},
    }
    await client.send(
      new PutLifecyclePolicyCommand({
        repositoryName: 'modela/v1',
        lifecyclePolicyText: JSON.stringify({rules: [rule]}),
      }),
    )
    client.destroy()
    const s = setup()
    const args = ['doctor', 'modelA/V1', '--json', '--skip-vpn-check']
    const passed = byId(JSON.parse((await runCli(args, {cwd: s.root, env: s.env})).stdout))
    expect(passed.lifecycle).toMatchObject({
      status: 'pass',
      message: 'Repository modela/v1 has a lifecycle policy (1 rule).',
    })

    const missing = await runCli([...args, '--repository', 'nope/missing'], {cwd: s.root, env: s.env})
    expect(byId(JSON.parse(missing.stdout)).lifecycle).toMatchObject({status: 'skip'})

    const proxy = await startFaultProxy(motoUrl, [
      {
        operation: 'GetLifecyclePolicy',
        times: 100,
        status: 400,
        body: JSON.stringify({
          __type: 'AccessDeniedException',
          message:
            'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:GetLifecyclePolicy on resource: arn:aws:ecr:us-east-1:123456789012:repository/modela/v1',
        }),
      },
    ])
    try {
      const result = await runCli(args, {cwd: s.root, env: {...s.env, AWS_ENDPOINT_URL: proxy.url}})
      expect(result.exitCode).toBe(0)
      expect(byId(JSON.parse(result.stdout)).lifecycle).toMatchObject({
        status: 'warn',
        message: 'Whether modela/v1 has a lifecycle policy is unknown: ecr:GetLifecyclePolicy is denied.',
      })
    } finally {
      await proxy.close()
    }
  })

  it('a hanging tool fails its check at the timeout, and the others still report', async () => {
    const s = setup({FAKE_HANG: 'podman'})
    const started = Date.now()
    // 5 s: long enough for the other checks on a loaded CI machine, short enough to show the limit.
    const result = await runCli(['doctor', '--json', '--skip-vpn-check', '--timeout', '5'], {
      cwd: s.root,
      env: s.env,
    })
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(result.exitCode).toBe(3)
    const checks = byId(JSON.parse(result.stdout))
    expect(checks.backend).toMatchObject({status: 'fail', message: 'No answer within 5 s.'})
    expect(checks.aws!.status).toBe('pass')
    expect(checks.bentoml!.status).toBe('pass')
  })

  it.each([
    [['doctor', 'a/b/c'], /^Error: Target "a\/b\/c" is not of the form <model>\/<version>\./],
    [['doctor', '--backend', 'kaniko'], /Expected --backend=kaniko to be one of: podman, docker/],
    [
      ['doctor', '--stage', 'nostage'],
      /^Error: --stage nostage: no \.env\.nostage nor a stages: nostage entry of mldeploy\.yaml in /,
    ],
    [['doctor', 'modelA/V9'], /^Error: Target modelA\/V9 not found/],
  ])('bad input %j: one clear line, exit 2', async (args, pattern) => {
    const s = setup()
    const result = await runCli(args, {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(pattern)
  })

  it('--help shows examples', async () => {
    const result = await runCli(['doctor', '--help'], {cwd: tempDir('help'), env: baseEnv()})
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain('EXAMPLES')
    expect(result.stdout).toContain('mldeploy doctor modelA/V1 --stage production')
  })
})

// STS and IAM are the scripted stand-in (moto has no SimulatePrincipalPolicy); the caller is an
// assumed role with a path, as in CI. ECR stays moto.
describe('mldeploy doctor: the sagemaker check (what deploy needs)', () => {
  let standIn: SageMakerStandIn
  beforeAll(async () => {
    standIn = await startSageMakerStandIn()
  })
  afterAll(async () => {
    await standIn.close()
  })
  beforeEach(() => standIn.reset())

  const doctor = async (yaml: string) => {
    const s = setup(
      {AWS_ENDPOINT_URL_STS: standIn.url, AWS_ENDPOINT_URL_IAM: standIn.url},
      {'deploy/modelA/V1/mldeploy.yaml': yaml},
    )
    const result = await runCli(['doctor', 'modelA/V1', '--json', '--skip-vpn-check'], {
      cwd: s.root,
      env: s.env,
    })
    return {result, checks: byId(JSON.parse(result.stdout))}
  }
  const withRole = `execution-role-arn: ${EXECUTION_ROLE_ARN}\ninstance-type: ml.c5.xlarge\n`

  it('passes when the role exists and every call deploy makes is allowed; the caller is simulated as its role', async () => {
    const {result, checks} = await doctor(withRole)
    expect(result.exitCode, result.stderr).toBe(0)
    expect(checks.sagemaker).toMatchObject({
      status: 'pass',
      message: `Execution role ${EXECUTION_ROLE_ARN} exists; endpoint modela-v1 on 1 x ml.c5.xlarge; ${CALLER_ROLE_ARN} may call all 13 actions deploy needs.`,
      data: {executionRole: EXECUTION_ROLE_ARN, principal: CALLER_ROLE_ARN, instanceType: 'ml.c5.xlarge'},
    })
    expect(standIn.operations()).toContain('iam:SimulatePrincipalPolicy')
    // Read-only: doctor never creates anything in SageMaker.
    expect(standIn.operations().filter((each) => each.startsWith('sagemaker:'))).toEqual([])
  })

  it('fails (exit 3) naming a denied permission or a missing role; the other checks still report', async () => {
    standIn.deniedActions.add('iam:PassRole')
    const denied = await doctor(withRole)
    expect(denied.result.exitCode).toBe(3)
    expect(denied.checks.sagemaker!.status).toBe('fail')
    expect(denied.checks.sagemaker!.message).toBe(
      `${CALLER_ROLE_ARN} may not call 1 action(s) deploy needs: iam:PassRole on ${EXECUTION_ROLE_ARN} (implicitDeny).`,
    )
    expect(denied.checks.aws!.status).toBe('pass')

    standIn.reset()
    standIn.roles.delete('sagemaker-execution')
    const missing = await doctor(withRole)
    expect(missing.result.exitCode).toBe(3)
    expect(missing.checks.sagemaker).toMatchObject({
      status: 'fail',
      message: `Execution role ${EXECUTION_ROLE_ARN} (from deploy/modelA/V1/mldeploy.yaml execution-role-arn) does not exist in account 123456789012.`,
    })
    expect(missing.checks.sagemaker!.fix).toContain('Create it')
  })

  it('bad deploy settings fail the check alone; a sagemaker target without a role warns', async () => {
    const bad = await doctor(`execution-role-arn: ${EXECUTION_ROLE_ARN}\ninstance-type: ml.m5.huge\n`)
    expect(bad.result.exitCode).toBe(3)
    expect(bad.checks.sagemaker!.status).toBe('fail')
    expect(bad.checks.sagemaker!.message).toContain('is not a SageMaker real-time hosting instance type')
    expect(bad.checks.ecr!.status).toBe('pass')
    expect(standIn.operations()).not.toContain('iam:SimulatePrincipalPolicy')

    const noRole = await doctor('deploy-target: sagemaker\n')
    expect(noRole.result.exitCode, noRole.result.stderr).toBe(0)
    expect(noRole.checks.sagemaker).toMatchObject({
      status: 'warn',
      message:
        'The deploy target is sagemaker (from deploy/modelA/V1/mldeploy.yaml deploy-target), and no execution-role-arn is set (mldeploy.yaml, MLDEPLOY_SAGEMAKER_ROLE_ARN): mldeploy deploy and push --deploy would refuse.',
    })
  })
})
