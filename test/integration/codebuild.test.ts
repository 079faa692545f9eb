import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {CreateBucketCommand, HeadObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {execa} from 'execa'
import {afterAll, beforeAll, beforeEach, describe, expect, inject, it} from 'vitest'

import {motoEnv, createRepository} from '../helpers/aws.js'
import {baseEnv, CLI, makeProject, runCli, signalWhen} from '../helpers/cli.js'
import {
  type BuildScript,
  type CodeBuildStandIn,
  startCodeBuildStandIn,
} from '../helpers/codebuild-stand-in.js'
import {resetMoto} from '../helpers/moto.js'
import {contractBreaches, type ReportedStep} from '../helpers/contract.js'

// `push --builder codebuild` and `builder setup codebuild` against S3, CloudWatch Logs, STS and
// ECR in moto (the real SDK over HTTP) and a scripted CodeBuild stand-in (test/helpers/
// codebuild-stand-in.ts): moto's own CodeBuild cannot play builds, so the stand-in walks each
// build through a script and writes its log to moto's Logs and its result to moto's S3. No
// buildspec runs here; test/e2e/codebuild-agent.test.ts runs one for real.
const motoUrl = inject('motoUrl')
const BUCKET = 'mldeploy-test-sources'
const ROLE = 'arn:aws:iam::123456789012:role/mldeploy-codebuild'
let codebuild: CodeBuildStandIn
const s3 = new S3Client({
  region: 'us-east-1',
  endpoint: motoUrl,
  forcePathStyle: true,
  credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
})

beforeAll(async () => {
  codebuild = await startCodeBuildStandIn(motoUrl, BUCKET)
})
afterAll(async () => {
  await codebuild.close()
  s3.destroy()
})
beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
  await s3.send(new CreateBucketCommand({Bucket: BUCKET}))
  codebuild.requests.length = 0
})

function env(extra: Record<string, string> = {}): Record<string, string> {
  return baseEnv({
    ...motoEnv(motoUrl),
    AWS_ENDPOINT_URL_CODEBUILD: codebuild.url,
    MLDEPLOY_CODEBUILD_BUCKET: BUCKET,
    MLDEPLOY_CODEBUILD_POLL_SECONDS: '1',
    ...extra,
  })
}

const project = () =>
  makeProject({
    Pipfile: '[packages]\nbentoml = "*"\n',
    'Pipfile.lock': '{}\n',
    '.env': 'MLDEPLOY_REPOSITORY=modela/v1\nMLFLOW_TRACKING_PASSWORD=hunter2-secret\n',
  })

const PUSHED = {
  status: 'pushed',
  target: 'modelA/V1',
  images: ['123456789012.dkr.ecr.us-east-1.amazonaws.com/modela/v1:latest'],
  digest: 'sha256:' + 'a'.repeat(64),
  steps: [{id: 'push', status: 'done'}],
  warnings: ['a warning from the build'],
}

const SUCCESS: BuildScript = {
  entries: [
    {phase: 'INSTALL', log: ['[Container] Running command pipenv install --deploy']},
    {phase: 'BUILD', log: ['[Container] Running command mldeploy push modelA/V1', 'remote: pushed']},
    {phase: 'COMPLETED', status: 'SUCCEEDED'},
  ],
  result: PUSHED,
}

async function push(root: string, script: BuildScript, extra: string[] = []) {
  codebuild.script = script
  return runCli(['push', 'modelA/V1', '--builder', 'codebuild', '--skip-vpn-check', '--json', ...extra], {
    cwd: root,
    env: env(),
  })
}

describe('builder setup codebuild', () => {
  it('creates the project with the right settings, then updates it', async () => {
    const args = ['builder', 'setup', 'codebuild', '--role-arn', ROLE, '--bucket', BUCKET, '--json']
    const first = await runCli(args, {cwd: makeProject(), env: env()})
    expect(first.exitCode, first.stderr).toBe(0)
    expect(JSON.parse(first.stdout)).toMatchObject({status: 'created', project: 'mldeploy', bucket: BUCKET})
    const created = codebuild.requests.find((each) => each.operation === 'CreateProject')!.body
    expect(created).toMatchObject({
      name: 'mldeploy',
      serviceRole: ROLE,
      environment: {
        type: 'LINUX_CONTAINER',
        image: 'aws/codebuild/standard:7.0',
        computeType: 'BUILD_GENERAL1_MEDIUM',
        privilegedMode: true,
      },
      cache: {type: 'LOCAL', modes: ['LOCAL_DOCKER_LAYER_CACHE', 'LOCAL_SOURCE_CACHE']},
      logsConfig: {cloudWatchLogs: {status: 'ENABLED'}},
    })
    await s3.send(new HeadObjectCommand({Bucket: BUCKET, Key: 'mldeploy/README.txt'}))

    const second = await runCli([...args, '--compute-type', 'BUILD_GENERAL1_LARGE'], {
      cwd: makeProject(),
      env: env(),
    })
    expect(second.exitCode, second.stderr).toBe(0)
    expect(JSON.parse(second.stdout).status).toBe('updated')
    expect(codebuild.operations()).toEqual([
      'BatchGetProjects',
      'CreateProject',
      'BatchGetProjects',
      'UpdateProject',
    ])
    expect(codebuild.requests[3]!.body).toMatchObject({environment: {computeType: 'BUILD_GENERAL1_LARGE'}})
  })

  it('--dry-run names every call and changes nothing', async () => {
    const result = await runCli(['builder', 'setup', 'codebuild', '--role-arn', ROLE, '--dry-run'], {
      cwd: makeProject(),
      env: env(),
    })
    expect(result.exitCode, result.stderr).toBe(0)
    for (const call of [
      'GetCallerIdentity',
      'HeadBucket',
      'CreateBucket',
      'PutObject',
      'BatchGetProjects',
      'CreateProject',
      'UpdateProject',
    ])
      expect(result.stdout).toContain(call)
    expect(codebuild.requests).toEqual([])
  })

  it.each([
    [['codebuild'], 'Missing --role-arn'],
    [['codebuild', '--role-arn', 'arn:aws:iam::12:user/x'], 'is not an IAM role ARN'],
    [
      ['codebuild', '--role-arn', ROLE, '--vpc-config', 'vpcId=vpc-0abc1234,subnets=subnet-0abc1234'],
      'needs securityGroupIds',
    ],
    [['docker-host', '--role-arn', ROLE], 'has no setup'],
  ])('bad input %j: one line, exit 2, no call', async (args, message) => {
    const result = await runCli(['builder', 'setup', ...args], {cwd: makeProject(), env: env()})
    expect(result.exitCode).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain(message)
    expect(codebuild.requests).toEqual([])
  })
})

describe('push --builder codebuild', () => {
  // The stand-in keeps its projects across tests (moto's reset does not touch it): set up once.
  beforeAll(async () => {
    const setup = await runCli(['builder', 'setup', 'codebuild', '--role-arn', ROLE, '--bucket', BUCKET], {
      cwd: makeProject(),
      env: env(),
    })
    expect(setup.exitCode, setup.stderr).toBe(0)
    codebuild.requests.length = 0
  })

  it('uploads once, starts the build with the generated buildspec, streams its log, returns the remote JSON', async () => {
    const root = project()
    const first = await push(root, SUCCESS)
    expect(first.exitCode, first.stderr).toBe(0)
    const json = JSON.parse(first.stdout)
    expect(json).toMatchObject({status: 'pushed', digest: PUSHED.digest, images: PUSHED.images})
    expect(json.remote).toMatchObject({
      builder: 'codebuild',
      project: 'mldeploy',
      uploadSkipped: false,
      buildStatus: 'SUCCEEDED',
    })
    expect(json.remote.logLink).toContain(json.remote.buildId)
    expect(json.warnings).toContain('a warning from the build')
    // The secret stays here, and is named.
    expect(json.warnings.join('\n')).toContain('MLFLOW_TRACKING_PASSWORD holds a secret')
    expect(first.stderr + first.stdout).not.toContain('hunter2-secret')
    // The log, streamed into the step output.
    expect(first.stderr).toContain('remote: pushed')
    const start = codebuild.requests.find((each) => each.operation === 'StartBuild')!.body
    expect(start.buildspecOverride).toBe(json.remote.buildspec)
    expect(start.buildspecOverride).toContain(
      'mldeploy push modelA/V1 --builder local --backend docker --json',
    )
    expect(start.buildspecOverride).toContain('pipenv install --deploy')
    expect(start).toMatchObject({projectName: 'mldeploy', sourceTypeOverride: 'S3'})
    expect(start.sourceLocationOverride).toBe(`${BUCKET}/mldeploy/sources/${json.remote.sourceSha256}.zip`)
    // Each step ran what it described (ran ⊆ described, certain calls made).
    for (const step of json.steps as ReportedStep[])
      expect(contractBreaches(step), step.id).toEqual({undescribed: [], missing: []})
    const upload = json.steps.find((step: {id: string}) => step.id === 'upload')
    expect(upload.ran).toEqual(['aws:s3:HeadObject', 'aws:s3:PutObject'])

    // The same content again: the same key, no second upload.
    const second = await push(root, SUCCESS)
    expect(second.exitCode, second.stderr).toBe(0)
    const again = JSON.parse(second.stdout)
    expect(again.remote.sourceSha256).toBe(json.remote.sourceSha256)
    expect(again.remote.uploadSkipped).toBe(true)
    expect(again.steps.find((step: {id: string}) => step.id === 'upload').ran).toEqual(['aws:s3:HeadObject'])
  })

  it.each([
    [
      'FAILED with the remote JSON: the remote exit class',
      {
        entries: [{phase: 'BUILD', log: ['containerize failed'], status: 'FAILED' as const}],
        result: {
          status: 'failed',
          error: {kind: 'containerize', exitCode: 6, message: 'docker build failed', step: 'containerize'},
        },
      },
      6,
      'docker build failed',
    ],
    [
      'install phase failed, no JSON: exit 3 with the log tail',
      {
        entries: [
          {
            phase: 'INSTALL',
            log: ['ERROR: pipenv install failed'],
            status: 'FAILED' as const,
            message: 'COMMAND_EXECUTION_ERROR',
          },
        ],
      },
      3,
      'before mldeploy ran',
    ],
    [
      'TIMED_OUT',
      {entries: [{phase: 'BUILD', log: ['still building'], status: 'TIMED_OUT' as const}]},
      8,
      'timed out',
    ],
    ['STOPPED elsewhere', {entries: [{phase: 'BUILD', status: 'STOPPED' as const}]}, 8, 'was stopped'],
  ])('%s', async (_name, script, code, message) => {
    const result = await push(project(), script)
    expect(result.exitCode, result.stderr).toBe(code)
    const json = JSON.parse(result.stdout)
    expect(json.status).toBe('failed')
    expect(json.error.exitCode).toBe(code)
    expect(json.error.message).toContain(message)
    expect(json.remote.buildId).toMatch(/^mldeploy:/)
    if (code === 3) expect(json.error.message).toContain('pipenv install failed')
  })

  it('SIGINT stops the build (StopBuild) and exits 130', async () => {
    codebuild.script = {entries: [{phase: 'BUILD', log: ['building...']}]}
    const child = execa(
      process.execPath,
      [CLI, 'push', 'modelA/V1', '--builder', 'codebuild', '--skip-vpn-check', '--json'],
      {
        cwd: project(),
        env: env(),
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
      },
    )
    signalWhen(child, /building\.\.\./)
    const result = await child
    expect(result.exitCode).toBe(130)
    expect(codebuild.operations()).toContain('StopBuild')
    expect(
      JSON.parse(String(result.stdout)).steps.find((step: {id: string}) => step.id === 'remote-build').ran,
    ).toContain('aws:codebuild:StopBuild')
  })

  it('--deploy-target sagemaker --check-serving: the adapter and the contract run travel into the build (its docker runs the image)', async () => {
    const root = project()
    writeFileSync(path.join(root, 'deploy/modelA/V1/sample.json'), '{"data": [[1, 2]]}\n')
    const result = await push(root, SUCCESS, [
      '--deploy-target',
      'sagemaker',
      '--check-serving',
      '--sagemaker-api',
      'explain',
      '--serving-memory',
      '2g',
      '--sample-input',
      'sample.json',
    ])
    expect(result.exitCode, result.stderr).toBe(0)
    const start = codebuild.requests.find((each) => each.operation === 'StartBuild')!.body
    const command = String(start.buildspecOverride)
      .split('\n')
      .find((line) => line.includes('mldeploy push modelA/V1'))!
    expect(command).toContain(' --deploy-target sagemaker ')
    expect(command).toContain(
      ' --sagemaker-api explain --check-serving --serving-memory 2g --sample-input sample.json --sample-content-type application/json ',
    )
    // Nothing runs the image here: the local engine is not asked to.
    const json = JSON.parse(result.stdout) as {steps: Array<{id: string}>}
    expect(json.steps.map((step) => step.id)).not.toContain('serving')
  })

  it('codebuild with --backend podman is bad input: one line, exit 2', async () => {
    const result = await push(project(), SUCCESS, ['--backend', 'podman'])
    expect(result.exitCode).toBe(2)
    expect(codebuild.requests).toEqual([])
  })
})
