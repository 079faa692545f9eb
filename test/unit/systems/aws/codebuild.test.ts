import {afterEach, describe, expect, inject, it} from 'vitest'

import {AwsError} from '../../../../src/errors.js'
import {AwsClients, awsSettingsFor} from '../../../../src/systems/aws/index.js'
import {CodeBuild, type ProjectSpec, projectInput} from '../../../../src/systems/aws/codebuild.js'
import {type CodeBuildStandIn, startCodeBuildStandIn} from '../../../helpers/codebuild-stand-in.js'
import {startStandIn, type StandIn} from '../../../helpers/stand-in.js'

// The CodeBuild API wrapper against the scripted stand-in (moto cannot play builds), whose logs
// go to the shared moto.
const motoUrl = inject('motoUrl')
let standIn: CodeBuildStandIn | undefined
let clients: AwsClients | undefined
afterEach(async () => {
  clients?.close()
  await standIn?.close()
  clients = undefined
  standIn = undefined
})

async function started(): Promise<{codebuild: CodeBuild; standIn: CodeBuildStandIn}> {
  standIn = await startCodeBuildStandIn(motoUrl, 'source-bucket')
  clients = new AwsClients(
    awsSettingsFor(
      {
        AWS_ENDPOINT_URL: motoUrl,
        AWS_ENDPOINT_URL_CODEBUILD: standIn.url,
        AWS_MAX_ATTEMPTS: '1',
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
      },
      {region: 'us-east-1'},
    ),
  )
  return {codebuild: new CodeBuild(clients), standIn}
}

const SPEC: ProjectSpec = {
  name: 'mldeploy-build',
  roleArn: 'arn:aws:iam::123456789012:role/build',
  image: 'aws/codebuild/standard:7.0',
  computeType: 'BUILD_GENERAL1_SMALL',
  sourceLocation: 'source-bucket/mldeploy/',
}

describe('the CodeBuild project', () => {
  it('a privileged Linux project without source or artifacts, its sources named in the description', () => {
    expect(projectInput(SPEC)).toStrictEqual({
      name: 'mldeploy-build',
      description: 'mldeploy push --builder codebuild (sources from s3://source-bucket/mldeploy/)',
      source: {
        type: 'NO_SOURCE',
        buildspec:
          'version: 0.2\nphases:\n  build:\n    commands:\n      - echo "Started by mldeploy push --builder codebuild, which gives the buildspec."\n',
      },
      artifacts: {type: 'NO_ARTIFACTS'},
      environment: {
        type: 'LINUX_CONTAINER',
        image: 'aws/codebuild/standard:7.0',
        computeType: 'BUILD_GENERAL1_SMALL',
        privilegedMode: true,
        imagePullCredentialsType: 'CODEBUILD',
      },
      cache: {type: 'LOCAL', modes: ['LOCAL_DOCKER_LAYER_CACHE', 'LOCAL_SOURCE_CACHE']},
      logsConfig: {cloudWatchLogs: {status: 'ENABLED'}},
      serviceRole: 'arn:aws:iam::123456789012:role/build',
    })
    const vpc = {vpcId: 'vpc-1', subnets: ['subnet-1'], securityGroupIds: ['sg-1']}
    expect(projectInput({...SPEC, vpc}).vpcConfig).toEqual(vpc)
  })

  it('is looked up, created and updated', async () => {
    const {codebuild, standIn} = await started()
    expect(await codebuild.projectExists('mldeploy-build')).toBe(false)
    await codebuild.createProject(SPEC)
    expect(await codebuild.projectExists('mldeploy-build')).toBe(true)
    await codebuild.updateProject({...SPEC, image: 'aws/codebuild/standard:8.0'})
    expect(standIn.operations()).toEqual([
      'BatchGetProjects',
      'CreateProject',
      'BatchGetProjects',
      'UpdateProject',
    ])
    expect(standIn.requests[1]!.body).toMatchObject({name: 'mldeploy-build', serviceRole: SPEC.roleArn})
    expect(standIn.requests[3]!.body).toMatchObject({environment: {image: 'aws/codebuild/standard:8.0'}})
  })
})

describe('builds', () => {
  it('starts a build with its source zip, buildspec and variables, and follows it to the end', async () => {
    const {codebuild, standIn} = await started()
    standIn.script = {
      entries: [
        {phase: 'INSTALL'},
        {phase: 'BUILD', status: 'FAILED', message: 'Error while executing command: mldeploy push.'},
      ],
    }
    const id = await codebuild.startBuild({
      project: 'mldeploy-build',
      sourceLocation: 'source-bucket/mldeploy/source/abc.zip',
      buildspec: 'version: 0.2',
      environment: {MLDEPLOY_RUN: 'r1'},
    })
    expect(standIn.requests.at(-1)!.body).toEqual({
      projectName: 'mldeploy-build',
      sourceTypeOverride: 'S3',
      sourceLocationOverride: 'source-bucket/mldeploy/source/abc.zip',
      buildspecOverride: 'version: 0.2',
      environmentVariablesOverride: [{name: 'MLDEPLOY_RUN', value: 'r1', type: 'PLAINTEXT'}],
    })
    const first = await codebuild.build(id)
    expect(first).toEqual({
      id,
      status: 'IN_PROGRESS',
      phase: 'INSTALL',
      failedPhases: [],
      logGroup: '/aws/codebuild/mldeploy-build',
      logStream: expect.any(String),
      logLink: `https://console.example/${id}`,
    })
    expect(await codebuild.build(id)).toMatchObject({
      status: 'FAILED',
      phase: 'BUILD',
      failedPhases: [
        {phase: 'BUILD', status: 'FAILED', message: 'Error while executing command: mldeploy push.'},
      ],
    })
  })

  it('a build without variables sends none; a stopped build reads as STOPPED', async () => {
    const {codebuild, standIn} = await started()
    const id = await codebuild.startBuild({project: 'p', sourceLocation: 'b/k.zip', buildspec: 'x'})
    expect(standIn.requests.at(-1)!.body.environmentVariablesOverride).toEqual([])
    await codebuild.stopBuild(id)
    expect((await codebuild.build(id)).status).toBe('STOPPED')
  })

  it('an unknown build is not-found; a failed call names what it did', async () => {
    const {codebuild} = await started()
    const missing = await codebuild.build('p:none').catch((error: unknown) => error)
    expect(missing).toBeInstanceOf(AwsError)
    expect(missing).toMatchObject({
      reason: 'not-found',
      operation: 'codebuild:BatchGetBuilds',
      message: 'CodeBuild knows no build p:none.',
    })
    clients!.close()
    const closed = await codebuild.projectExists('x').catch((error: unknown) => error)
    expect(closed).toMatchObject({operation: 'codebuild:BatchGetProjects'})
    expect((closed as Error).message).toMatch(/^Looking up CodeBuild project x failed/)
  })
})

describe('odd CodeBuild answers (a plain JSON stand-in)', () => {
  let odd: StandIn | undefined
  afterEach(async () => {
    await odd?.close()
    odd = undefined
  })

  /** Answers every CodeBuild operation with `answers[operation]` (status, body). */
  async function answering(answers: Record<string, [number, unknown]>): Promise<CodeBuild> {
    odd = await startStandIn((request, response) => {
      const operation = String(request.headers['x-amz-target']).replace(/^.*\./, '')
      const [status, body] = answers[operation] ?? [400, {__type: 'AccessDeniedException', message: 'denied'}]
      response.writeHead(status, {'content-type': 'application/x-amz-json-1.1'})
      response.end(JSON.stringify(body))
    })
    clients = new AwsClients(
      awsSettingsFor(
        {
          AWS_ENDPOINT_URL: odd.url,
          AWS_MAX_ATTEMPTS: '1',
          AWS_ACCESS_KEY_ID: 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
        },
        {region: 'us-east-1'},
      ),
    )
    return new CodeBuild(clients)
  }

  it('a project list without projects, or with another project, does not have it', async () => {
    expect(await (await answering({BatchGetProjects: [200, {}]})).projectExists('p')).toBe(false)
    await odd!.close()
    const other = await answering({BatchGetProjects: [200, {projects: [{name: 'q'}]}]})
    expect(await other.projectExists('p')).toBe(false)
  })

  it('a started build without an id is malformed; a build CodeBuild does not list is not-found', async () => {
    const codebuild = await answering({StartBuild: [200, {}], BatchGetBuilds: [200, {}]})
    const started = await codebuild
      .startBuild({project: 'p', sourceLocation: 'b/k.zip', buildspec: 'x'})
      .catch((error: unknown) => error)
    expect(started).toMatchObject({
      reason: 'malformed',
      operation: 'codebuild:StartBuild',
      message: 'CodeBuild started a build but returned no build id.',
    })
    expect(await codebuild.build('p:1').catch((error: unknown) => error)).toMatchObject({reason: 'not-found'})
  })

  it('a build with nothing filled in yet, and phases CodeBuild left partly empty', async () => {
    const codebuild = await answering({
      BatchGetBuilds: [
        200,
        {
          builds: [
            {
              phases: [
                {phaseType: 'SUBMITTED'},
                {phaseType: 'INSTALL', phaseStatus: 'SUCCEEDED'},
                {phaseStatus: 'FAILED', contexts: [{message: ' first '}, {}, {message: 'second'}]},
              ],
            },
          ],
        },
      ],
    })
    expect(await codebuild.build('p:1')).toEqual({
      id: 'p:1',
      status: 'IN_PROGRESS',
      phase: undefined,
      failedPhases: [{phase: '?', status: 'FAILED', message: 'first   second'}],
      logGroup: undefined,
      logStream: undefined,
      logLink: undefined,
    })
  })

  it('each refused call names what it did', async () => {
    const codebuild = await answering({})
    const spec = {name: 'p', roleArn: 'r', image: 'i', computeType: 'c', sourceLocation: 'b/'}
    const refusals = await Promise.all([
      codebuild.createProject(spec).catch((error: unknown) => error),
      codebuild.updateProject(spec).catch((error: unknown) => error),
      codebuild
        .startBuild({project: 'p', sourceLocation: 'b/k', buildspec: 'x'})
        .catch((error: unknown) => error),
      codebuild.build('p:1').catch((error: unknown) => error),
      codebuild.stopBuild('p:1').catch((error: unknown) => error),
    ])
    expect(
      refusals.map((error) => [(error as AwsError).operation, (error as Error).message.split(' failed')[0]]),
    ).toEqual([
      ['codebuild:CreateProject', 'Creating CodeBuild project p'],
      ['codebuild:UpdateProject', 'Updating CodeBuild project p'],
      ['codebuild:StartBuild', 'Starting a build of CodeBuild project p'],
      ['codebuild:BatchGetBuilds', 'Reading build p:1'],
      ['codebuild:StopBuild', 'Stopping build p:1'],
    ])
  })
})
