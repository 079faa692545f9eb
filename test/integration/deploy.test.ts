import {readFileSync} from 'node:fs'
import path from 'node:path'

import {
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelsCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker'
import {afterAll, beforeAll, beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository, motoEnv, seedDeployableImage} from '../helpers/aws.js'
import {baseEnv, makeProject, REPO_ROOT, runCli, tempDir} from '../helpers/cli.js'
import {contractBreaches, type ReportedStep} from '../helpers/contract.js'
import {resetMoto} from '../helpers/moto.js'
import {
  CALLER_ROLE_ARN,
  EXECUTION_ROLE_ARN,
  type SageMakerStandIn,
  startSageMakerStandIn,
} from '../helpers/sagemaker-stand-in.js'

// `mldeploy deploy` as a process with the real AWS SDK over HTTP. ECR is moto (manifests; the image
// config through the test front of test/helpers/ecr-layers.ts). STS GetCallerIdentity and IAM are
// the scripted stand-in of test/helpers/sagemaker-stand-in.ts (moto has no SimulatePrincipalPolicy
// and names its caller `arn:aws:sts::…:user/moto`, a shape AWS never gives). SageMaker is moto in
// the first block (what moto really does: it stores models, configurations and endpoints and
// reports an endpoint InService at once; it has no UpdateEndpoint) and the stand-in everywhere
// else (it plays the statuses moto cannot: Creating, Updating, RollingBack, Failed, throttling).
const motoUrl = inject('motoUrl')
let standIn: SageMakerStandIn
const credentials = {accessKeyId: 'testing', secretAccessKey: 'testing'}

beforeAll(async () => {
  standIn = await startSageMakerStandIn()
})
afterAll(async () => {
  await standIn.close()
})
beforeEach(async () => {
  await resetMoto(motoUrl)
  standIn.reset()
  await createRepository(motoUrl, 'modela/v1')
})

const seedImage = (tag: string, format: 'docker' | 'oci' = 'docker') =>
  seedDeployableImage(motoUrl, tag, format)

function env(sageMaker: 'moto' | 'stand-in', extra: Record<string, string> = {}): Record<string, string> {
  return baseEnv({
    ...motoEnv(motoUrl),
    AWS_ENDPOINT_URL_STS: standIn.url,
    AWS_ENDPOINT_URL_IAM: standIn.url,
    ...(sageMaker === 'stand-in' ? {AWS_ENDPOINT_URL_SAGEMAKER: standIn.url} : {}),
    MLDEPLOY_SAGEMAKER_POLL_SECONDS: '1',
    ...extra,
  })
}

const project = (yaml = `execution-role-arn: ${EXECUTION_ROLE_ARN}\ninstance-type: ml.c5.xlarge\n`) =>
  makeProject({'deploy/modelA/V1/mldeploy.yaml': yaml})

async function deploy(
  args: string[],
  sageMaker: 'moto' | 'stand-in' = 'stand-in',
  root = project(),
  extra = {},
) {
  const result = await runCli(['deploy', 'modelA/V1', '--json', ...args], {
    cwd: root,
    env: env(sageMaker, extra),
  })
  const json = result.stdout === '' ? undefined : JSON.parse(result.stdout)
  return {...result, json}
}

const creates = (): string[] => standIn.operations().filter((each) => /:(Create|Update)/.test(each))

describe('deploy against moto (SageMaker API sequence)', () => {
  const sagemaker = () => new SageMakerClient({region: 'us-east-1', endpoint: motoUrl, credentials})

  it('creates model, configuration and endpoint in order; a second run of the same image changes nothing', async () => {
    const digest = await seedImage('latest')
    const root = project()
    // In GitHub Actions: the step outputs and the job summary of the first run.
    const github = tempDir('github')
    const outputs = path.join(github, 'output')
    const summary = path.join(github, 'summary')
    const first = await deploy([], 'moto', root, {GITHUB_OUTPUT: outputs, GITHUB_STEP_SUMMARY: summary})
    expect(first.exitCode, first.stderr).toBe(0)
    const hex = digest.slice('sha256:'.length, 'sha256:'.length + 12)
    const written = readFileSync(outputs, 'utf8')
    for (const line of [
      'endpoint-name=modela-v1',
      'endpoint-arn=arn:aws:sagemaker:us-east-1:123456789012:endpoint/modela-v1',
      'endpoint-status=InService',
      `image-by-digest=123456789012.dkr.ecr.us-east-1.amazonaws.com/modela/v1@${digest}`,
      'changed=true',
      'status=deployed',
    ])
      expect(written).toContain(`${line}\n`)
    expect(written).toMatch(new RegExp(`endpoint-config=modela-v1-${hex}-[0-9a-f]{6}\n`))
    expect(readFileSync(summary, 'utf8')).toContain(
      `modela-v1 (InService) <- 123456789012.dkr.ecr.us-east-1.amazonaws.com/modela/v1@${digest}`,
    )
    expect(first.json).toMatchObject({
      status: 'deployed',
      changed: true,
      endpoint: {
        name: 'modela-v1',
        status: 'InService',
        arn: 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/modela-v1',
      },
      model: {name: `modela-v1-${hex}`, change: 'created'},
      endpointConfig: {
        change: 'created',
        instanceType: 'ml.c5.xlarge',
        instanceCount: 1,
        variantName: 'AllTraffic',
      },
      endpointChange: 'created',
      before: {configName: null, status: null},
      after: {status: 'InService'},
      image: {digest, reference: `123456789012.dkr.ecr.us-east-1.amazonaws.com/modela/v1@${digest}`},
    })
    expect(first.json.endpointConfig.name).toMatch(new RegExp(`^modela-v1-${hex}-[0-9a-f]{6}$`))
    // What the SDK sent, as moto recorded it.
    const client = sagemaker()
    const models = (await client.send(new ListModelsCommand({}))).Models ?? []
    const configs = (await client.send(new ListEndpointConfigsCommand({}))).EndpointConfigs ?? []
    const endpoints = (await client.send(new ListEndpointsCommand({}))).Endpoints ?? []
    expect(models.map((each) => each.ModelName)).toEqual([`modela-v1-${hex}`])
    expect(configs.map((each) => each.EndpointConfigName)).toEqual([first.json.endpointConfig.name])
    expect(endpoints.map((each) => [each.EndpointName, each.EndpointStatus])).toEqual([
      ['modela-v1', 'InService'],
    ])
    // Every step ran exactly what it described (the ledger records the SDK's calls).
    const ran = (first.json.steps as ReportedStep[]).flatMap((step) => {
      expect(contractBreaches(step), step.id).toEqual({undescribed: [], missing: []})
      return step.ran ?? []
    })
    expect(ran.filter((call) => call.startsWith('aws:sagemaker:'))).toEqual([
      'aws:sagemaker:DescribeEndpoint',
      'aws:sagemaker:DescribeModel',
      'aws:sagemaker:DescribeEndpointConfig',
      'aws:sagemaker:CreateModel',
      'aws:sagemaker:CreateEndpointConfig',
      'aws:sagemaker:CreateEndpoint',
      'aws:sagemaker:DescribeEndpoint',
    ])

    const again = await deploy([], 'moto', root)
    expect(again.exitCode, again.stderr).toBe(0)
    expect(again.json).toMatchObject({
      status: 'unchanged',
      changed: false,
      model: {change: 'reused'},
      endpointConfig: {change: 'reused'},
      endpointChange: 'unchanged',
    })
    const skipped = (again.json.steps as Array<{id: string; status: string; reason?: string}>).filter(
      (step) => step.status === 'skipped',
    )
    expect(skipped.map((step) => step.id)).toEqual(['model', 'endpoint-config', 'endpoint', 'wait'])
    expect(skipped.find((step) => step.id === 'endpoint')!.reason).toMatch(
      /unchanged: modela-v1 already serves/,
    )
    expect((await client.send(new ListModelsCommand({}))).Models).toHaveLength(1)
    client.destroy()
  })
})

describe('deploy: statuses moto cannot play (scripted stand-in)', () => {
  it('waits through Creating to InService, saying each status with the elapsed time', async () => {
    await seedImage('latest')
    standIn.script = [{status: 'Creating'}, {status: 'Creating'}, {status: 'InService'}]
    const result = await deploy([])
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/Creating after \d+s/)
    expect(result.stderr).toMatch(/InService after \d+s/)
    expect(result.json.status).toBe('deployed')
    // The model runs the image by digest, with the execution role; the variant as configured.
    const model = standIn.calls.find((each) => each.operation === 'sagemaker:CreateModel')!.body
    expect(model).toMatchObject({
      ExecutionRoleArn: EXECUTION_ROLE_ARN,
      PrimaryContainer: {Image: result.json.image.reference},
    })
    const config = standIn.calls.find((each) => each.operation === 'sagemaker:CreateEndpointConfig')!.body
    expect(config.ProductionVariants).toEqual([
      {
        VariantName: 'AllTraffic',
        ModelName: result.json.model.name,
        InstanceType: 'ml.c5.xlarge',
        InitialInstanceCount: 1,
      },
    ])
    // The assumed-role caller was simulated as its role, path included; PassRole on the execution role.
    const simulations = standIn.calls.filter((each) => each.operation === 'iam:SimulatePrincipalPolicy')
    expect(new Set(simulations.map((each) => each.body.PolicySourceArn))).toEqual(new Set([CALLER_ROLE_ARN]))
    const passRole = simulations.find((each) => Object.values(each.body).includes('iam:PassRole'))!
    expect(passRole.body['ResourceArns.member.1']).toBe(EXECUTION_ROLE_ARN)
  })

  it('updates with canary guardrails (DeploymentConfig), Updating to InService', async () => {
    await seedImage('latest')
    standIn.seedEndpoint('modela-v1', 'modela-v1-older-config')
    standIn.script = [{status: 'Updating'}, {status: 'InService'}]
    const result = await deploy([
      '--traffic-shifting',
      'canary',
      '--traffic-step',
      '10%',
      '--traffic-wait',
      '600',
      '--rollback-alarm',
      'modela-5xx',
      '--max-execution-timeout',
      '3600',
    ])
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.json).toMatchObject({
      status: 'deployed',
      endpointChange: 'updated',
      before: {configName: 'modela-v1-older-config', status: 'InService'},
      after: {status: 'InService'},
    })
    expect(result.json.after.configName).toBe(result.json.endpointConfig.name)
    const update = standIn.calls.find((each) => each.operation === 'sagemaker:UpdateEndpoint')!.body
    expect(update).toEqual({
      EndpointName: 'modela-v1',
      EndpointConfigName: result.json.endpointConfig.name,
      DeploymentConfig: {
        BlueGreenUpdatePolicy: {
          TrafficRoutingConfiguration: {
            Type: 'CANARY',
            WaitIntervalInSeconds: 600,
            CanarySize: {Type: 'CAPACITY_PERCENT', Value: 10},
          },
          TerminationWaitInSeconds: 0,
          MaximumExecutionTimeoutInSeconds: 3600,
        },
        AutoRollbackConfiguration: {Alarms: [{AlarmName: 'modela-5xx'}]},
      },
    })
  })

  it('updates without DeploymentConfig when no guardrail is asked for', async () => {
    await seedImage('latest')
    standIn.seedEndpoint('modela-v1', 'modela-v1-older-config')
    standIn.script = [{status: 'InService'}]
    const result = await deploy([])
    expect(result.exitCode, result.stderr).toBe(0)
    const update = standIn.calls.find((each) => each.operation === 'sagemaker:UpdateEndpoint')!.body
    expect(update).toEqual({EndpointName: 'modela-v1', EndpointConfigName: result.json.endpointConfig.name})
  })

  it('reports a rollback with its FailureReason, says the previous configuration still serves, exit 11', async () => {
    await seedImage('latest')
    standIn.seedEndpoint('modela-v1', 'modela-v1-older-config')
    const reason = 'Alarm modela-5xx fired during the canary.'
    standIn.script = [
      {status: 'Updating'},
      {status: 'RollingBack', failureReason: reason},
      {status: 'InService', failureReason: reason, serves: 'previous'},
    ]
    const result = await deploy(['--traffic-shifting', 'canary', '--rollback-alarm', 'modela-5xx'])
    expect(result.exitCode, result.stderr).toBe(11)
    expect(result.json.error).toMatchObject({
      kind: 'deploy',
      exitCode: 11,
      step: 'wait',
      reason: 'check:rolled-back',
    })
    expect(result.json.error.message).toContain(reason)
    expect(result.json.error.hint).toBe(
      'The previous configuration modela-v1-older-config still serves (InService).',
    )
    expect(result.stderr).toMatch(/RollingBack after \d+s/)
    expect(result.json).toMatchObject({
      status: 'failed',
      rolledBack: true,
      after: {configName: 'modela-v1-older-config'},
    })
  })

  it('reports Failed with its FailureReason, exit 11', async () => {
    await seedImage('latest')
    const reason =
      'The primary container for production variant AllTraffic did not pass the ping health check.'
    standIn.script = [{status: 'Creating'}, {status: 'Failed', failureReason: reason}]
    const result = await deploy([])
    expect(result.exitCode).toBe(11)
    expect(result.json.error.message).toBe(`Endpoint modela-v1 is Failed: ${reason}`)
    expect(result.json.endpoint).toMatchObject({status: 'Failed', failureReason: reason})
  })

  it('gives up after --wait-timeout, saying the update goes on and how to follow it, exit 11', async () => {
    await seedImage('latest')
    standIn.script = Array.from({length: 50}, () => ({status: 'Creating'}))
    const result = await deploy(['--wait-timeout', '2s'])
    expect(result.exitCode).toBe(11)
    expect(result.json.error.message).toBe('Endpoint modela-v1 is still Creating after 2s (--wait-timeout).')
    expect(result.json.error.hint).toContain(
      'aws sagemaker describe-endpoint --endpoint-name modela-v1 --region us-east-1',
    )
  })

  it('rides out throttling with the SDK retries; endless throttling is a clear error naming the call', async () => {
    await seedImage('latest')
    standIn.script = [{status: 'InService'}]
    standIn.throttle = 2
    const retried = await deploy([])
    expect(retried.exitCode, retried.stderr).toBe(0)
    expect(standIn.throttle).toBe(0)

    standIn.reset()
    await seedImage('other')
    standIn.script = [{status: 'Creating'}]
    const root = project()
    standIn.throttle = Number.POSITIVE_INFINITY
    const throttled = await deploy(['--image-tag', 'other'], 'stand-in', root)
    // DescribeEndpoint in the read-only step is throttled first: the preflight class.
    expect(throttled.exitCode).toBe(3)
    expect(throttled.json.error.message).toMatch(/Reading SageMaker endpoint modela-v1 failed: Rate exceeded/)
    expect(throttled.json.error.hint).toMatch(/throttling/)
    expect(creates()).toEqual([])
  })

  it('--no-wait returns after the call', async () => {
    await seedImage('latest')
    const result = await deploy(['--no-wait'])
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.json.status).toBe('started')
    const operations = standIn.operations().filter((each) => each.startsWith('sagemaker:'))
    expect(operations.at(-1)).toBe('sagemaker:CreateEndpoint')
    const wait = (result.json.steps as Array<{id: string; reason?: string}>).find(
      (step) => step.id === 'wait',
    )!
    expect(wait.reason).toContain('aws sagemaker describe-endpoint --endpoint-name modela-v1')
  })

  it('the dry run shows every call with its inputs and makes only the read-only ones', async () => {
    await seedImage('latest')
    standIn.seedEndpoint('modela-v1', 'modela-v1-older-config')
    const result = await deploy(['--dry-run', '--traffic-shifting', 'linear'])
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.json.status).toBe('planned')
    const texts = (result.json.plan as Array<{actions: Array<{text: string}>}>).flatMap((step) =>
      step.actions.map((action) => action.text),
    )
    expect(texts.join('\n')).toContain(`execution role ${EXECUTION_ROLE_ARN}`)
    expect(texts.join('\n')).toContain('1 x ml.c5.xlarge')
    expect(texts.join('\n')).toContain('UpdateEndpoint modela-v1 to modela-v1-')
    expect(texts.join('\n')).toContain('blue/green LINEAR 20%')
    expect(result.json).toMatchObject({
      endpointChange: 'updated',
      before: {configName: 'modela-v1-older-config'},
    })
    expect(creates()).toEqual([])
  })
})

describe('deploy: least privilege', () => {
  it('fails the preflight naming every denied action, and creates nothing (exit 3)', async () => {
    await seedImage('latest')
    standIn.deniedActions.add('iam:PassRole')
    standIn.deniedActions.add('sagemaker:UpdateEndpoint')
    const result = await deploy([])
    expect(result.exitCode).toBe(3)
    expect(result.json.error.step).toBe('preflight')
    expect(result.json.error.message).toContain(`iam:PassRole on ${EXECUTION_ROLE_ARN} (implicitDeny)`)
    expect(result.json.error.message).toContain(
      'sagemaker:UpdateEndpoint on arn:aws:sagemaker:us-east-1:123456789012:endpoint/modela-v1',
    )
    expect(creates()).toEqual([])
  })

  it('names iam:SimulatePrincipalPolicy when the check itself is denied', async () => {
    await seedImage('latest')
    standIn.refused.add('iam:SimulatePrincipalPolicy')
    const result = await deploy([])
    expect(result.exitCode).toBe(3)
    expect(result.json.error.message).toBe(
      `The caller may not call iam:SimulatePrincipalPolicy on ${CALLER_ROLE_ARN}: AWS refused it.`,
    )
    expect(creates()).toEqual([])
  })

  it('a missing execution role fails the preflight (exit 3), naming it', async () => {
    await seedImage('latest')
    const role = 'arn:aws:iam::123456789012:role/nobody'
    const result = await deploy([], 'stand-in', project(`execution-role-arn: ${role}\n`))
    expect(result.exitCode).toBe(3)
    expect(result.json.error.message).toContain(`Execution role ${role}`)
    expect(result.json.error.message).toContain('does not exist in account 123456789012')
    expect(creates()).toEqual([])
  })
})

describe('deploy: bad input is one line, exit 2, nothing created', () => {
  const oneLine = (stderr: string): string[] => stderr.split('\n').filter((line) => /Error|error/.test(line))

  it('no execution role names the setting and the file to put it in', async () => {
    await seedImage('latest')
    const result = await runCli(['deploy', 'modelA/V1'], {cwd: project(''), env: env('stand-in')})
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toContain(
      'deploy needs the execution role SageMaker runs the model with, and none is set.',
    )
    expect(result.stderr).toMatch(/execution-role-arn: .* in deploy\/modelA\/V1\/mldeploy\.yaml/)
    expect(oneLine(result.stderr)).toHaveLength(1)
    expect(standIn.calls).toEqual([])
  })

  it('an instance type that does not exist, with the closest names', async () => {
    const result = await runCli(['deploy', 'modelA/V1', '--instance-type', 'ml.m5.larg'], {
      cwd: project(),
      env: env('stand-in'),
    })
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toContain('is not a SageMaker real-time hosting instance type')
    expect(result.stderr).toContain('Did you mean ml.m5.large')
    expect(standIn.calls).toEqual([])
  })

  it('a Graviton instance type (the images are amd64)', async () => {
    const result = await runCli(['deploy', 'modelA/V1', '--instance-type', 'ml.c7g.large'], {
      cwd: project(),
      env: env('stand-in'),
    })
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toContain('ml.c7g.large is a Graviton (arm64) instance type')
  })

  it('an OCI image: exit 2 naming the rule and the fix, before anything is created', async () => {
    await seedImage('latest', 'oci')
    const result = await deploy([])
    expect(result.exitCode).toBe(2)
    expect(result.json.error.message).toMatch(
      /cannot run on SageMaker: docker-v2-manifest: The manifest is application\/vnd\.oci\.image\.manifest\.v1\+json/,
    )
    expect(result.json.error.hint).toMatch(/Nothing was created\.$/)
    expect(creates()).toEqual([])
  })

  it('a tag that does not exist fails the preflight (exit 3)', async () => {
    const result = await deploy(['--image-tag', 'nope'])
    expect(result.exitCode).toBe(3)
    expect(result.json.error.message).toBe(
      'Tag nope does not exist in 123456789012.dkr.ecr.us-east-1.amazonaws.com/modela/v1.',
    )
    expect(creates()).toEqual([])
  })
})

describe("deploy: the README's Permissions list is what the code calls", () => {
  it('every call of a create and an update (and PassRole) is listed, and the preflight simulates exactly the list', async () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')
    const table = /<!-- deploy-permissions:start -->([\s\S]*?)<!-- deploy-permissions:end -->/.exec(
      readme,
    )![1]!
    const listed = new Set([...table.matchAll(/^\| `([a-z0-9]+:[A-Za-z]+)`/gm)].map((match) => match[1]!))
    expect(listed.size).toBeGreaterThan(10)

    await seedImage('latest')
    const root = project()
    standIn.script = [{status: 'InService'}]
    const created = await deploy([], 'stand-in', root)
    expect(created.exitCode, created.stderr).toBe(0)
    await seedImage('next')
    const updated = await deploy(['--image-tag', 'next'], 'stand-in', root)
    expect(updated.exitCode, updated.stderr).toBe(0)
    expect(updated.json.endpointChange).toBe('updated')

    const called = new Set(
      [created, updated]
        .flatMap((run) => (run.json.steps as ReportedStep[]).flatMap((step) => step.ran ?? []))
        .filter((call) => call.startsWith('aws:') && call !== 'aws:sts:GetCallerIdentity')
        .map((call) => call.slice('aws:'.length)),
    )
    // PassRole is no call of its own: SageMaker checks it when CreateModel passes the role.
    expect([...called, 'iam:PassRole'].sort()).toEqual([...listed].sort())
    const simulated = new Set(
      standIn.calls
        .filter((each) => each.operation === 'iam:SimulatePrincipalPolicy')
        .flatMap((each) =>
          Object.entries(each.body)
            .filter(([key]) => key.startsWith('ActionNames.member.'))
            .map(([, value]) => String(value)),
        ),
    )
    expect([...simulated].sort()).toEqual([...listed].sort())
  })
})
