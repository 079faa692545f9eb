import {afterAll, beforeAll, beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository, imageTags, motoEnv, seedDeployableImage} from '../helpers/aws.js'
import {baseEnv, makeProject, runCli, standInProject} from '../helpers/cli.js'
import {contractBreaches, type ReportedStep} from '../helpers/contract.js'
import {resetMoto} from '../helpers/moto.js'
import {
  EXECUTION_ROLE_ARN,
  type SageMakerStandIn,
  startSageMakerStandIn,
} from '../helpers/sagemaker-stand-in.js'

// Issue 24 §3: push --deploy and promote --deploy, the real CLI as a process with the real AWS SDK
// over HTTP. ECR is moto (manifests; the image config through test/helpers/ecr-layers.ts's front,
// as deploy.test.ts does). STS and IAM are the scripted stand-in (moto has no
// SimulatePrincipalPolicy); SageMaker is moto for a first deploy (it stores what the SDK sent and
// reports InService at once) and the stand-in for what moto cannot play (updates, a rollback).
const motoUrl = inject('motoUrl')
let standIn: SageMakerStandIn

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

const YAML = `execution-role-arn: ${EXECUTION_ROLE_ARN}\ninstance-type: ml.c5.xlarge\n`

function awsEnv(sageMaker: 'moto' | 'stand-in'): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_STS: standIn.url,
    AWS_ENDPOINT_URL_IAM: standIn.url,
    ...(sageMaker === 'stand-in' ? {AWS_ENDPOINT_URL_SAGEMAKER: standIn.url} : {}),
    MLDEPLOY_SAGEMAKER_POLL_SECONDS: '1',
  }
}

async function promote(args: string[], sageMaker: 'moto' | 'stand-in' = 'stand-in', yaml = YAML) {
  const root = makeProject({'deploy/modelA/V1/mldeploy.yaml': yaml})
  const result = await runCli(
    ['promote', 'modelA/V1', '--from', 'candidate', '--to', 'production', '--deploy', '--json', ...args],
    {cwd: root, env: baseEnv({...motoEnv(motoUrl), ...awsEnv(sageMaker)})},
  )
  return {...result, json: result.stdout === '' ? undefined : JSON.parse(result.stdout)}
}

/** Where production points now, as moto holds it. */
async function production(): Promise<string | undefined> {
  const {ECRClient, DescribeImagesCommand} = await import('@aws-sdk/client-ecr')
  const client = new ECRClient({
    region: 'us-east-1',
    endpoint: motoUrl,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  })
  try {
    const found = await client.send(
      new DescribeImagesCommand({repositoryName: 'modela/v1', imageIds: [{imageTag: 'production'}]}),
    )
    return found.imageDetails?.[0]?.imageDigest
  } catch {
    return undefined
  } finally {
    client.destroy()
  }
}

const creates = (): string[] => standIn.operations().filter((each) => /:(Create|Update)/.test(each))
const ids = (steps: ReportedStep[]): string[] => steps.map((step) => step.id)

describe('promote --deploy', () => {
  it('against moto: tags, then creates model, configuration and endpoint on the promoted digest; every step ran what it described', async () => {
    const digest = await seedDeployableImage(motoUrl, 'candidate', 'docker')
    const result = await promote([], 'moto')
    expect(result.exitCode, result.stderr).toBe(0)
    const hex = digest.slice('sha256:'.length, 'sha256:'.length + 12)
    expect(result.json).toMatchObject({
      status: 'promoted',
      digest,
      deploy: {
        status: 'deployed',
        changed: true,
        endpoint: {name: 'modela-v1', status: 'InService'},
        model: {name: `modela-v1-${hex}`, change: 'created'},
        endpointConfig: {change: 'created', instanceType: 'ml.c5.xlarge'},
        endpointChange: 'created',
        image: {digest},
      },
    })
    // The deploy's read-only steps before any tag moves, its changes after the verify.
    expect(ids(result.json.steps)).toEqual([
      'preflight',
      'resolve',
      'deploy-preflight',
      'deploy-check',
      'deploy-current',
      'scan',
      'tag',
      'verify',
      'deploy-model',
      'deploy-endpoint-config',
      'deploy-endpoint',
      'deploy-wait',
    ])
    for (const step of result.json.steps as ReportedStep[])
      expect(contractBreaches(step), step.id).toEqual({undescribed: [], missing: []})
    expect(await production()).toBe(digest)
  })

  it('a rollback after the tags moved: exit 11, the tags stay moved, the previous configuration serves', async () => {
    const digest = await seedDeployableImage(motoUrl, 'candidate', 'docker')
    standIn.seedEndpoint('modela-v1', 'modela-v1-older-config')
    const reason = 'Alarm modela-5xx fired during the canary.'
    standIn.script = [
      {status: 'Updating'},
      {status: 'RollingBack', failureReason: reason},
      {status: 'InService', failureReason: reason, serves: 'previous'},
    ]
    const result = await promote(['--traffic-shifting', 'canary', '--rollback-alarm', 'modela-5xx'])
    expect(result.exitCode, result.stderr).toBe(11)
    expect(result.json.error).toMatchObject({exitCode: 11, step: 'deploy-wait', reason: 'check:rolled-back'})
    expect(result.json.error.hint).toContain('modela-v1-older-config still serves')
    expect(result.json.deploy).toMatchObject({status: 'failed', rolledBack: true, endpointChange: 'updated'})
    expect(await production()).toBe(digest)
  })

  it('a denied permission fails in the preflight (exit 3) before any tag moves', async () => {
    await seedDeployableImage(motoUrl, 'candidate', 'docker')
    standIn.deniedActions.add('iam:PassRole')
    const result = await promote([])
    expect(result.exitCode, result.stderr).toBe(3)
    expect(result.json.error.step).toBe('deploy-preflight')
    expect(result.json.error.message).toContain(`iam:PassRole on ${EXECUTION_ROLE_ARN}`)
    expect(await production()).toBeUndefined()
    expect(creates()).toEqual([])
  })

  it('bad input is exit 2 with nothing run: --to-registry, no role', async () => {
    await seedDeployableImage(motoUrl, 'candidate', 'docker')
    const copy = await promote(['--to-registry', '210987654321.dkr.ecr.eu-west-1.amazonaws.com'])
    expect(copy.exitCode).toBe(2)
    expect(copy.json.error.message).toContain("--deploy deploys in the target's own account and region")
    const noRole = await promote([], 'stand-in', 'instance-type: ml.c5.xlarge\n')
    expect(noRole.exitCode).toBe(2)
    expect(noRole.json.error.message).toContain('execution role')
    expect(standIn.operations()).toEqual([])
    expect(await production()).toBeUndefined()
  })

  it('the dry run walks every read-only step and describes the changes with their inputs', async () => {
    await seedDeployableImage(motoUrl, 'candidate', 'docker')
    standIn.seedEndpoint('modela-v1', 'modela-v1-older-config')
    const result = await promote(['--dry-run'])
    expect(result.exitCode, result.stderr).toBe(0)
    const texts = (result.json.plan as Array<{actions: Array<{text: string}>}>)
      .flatMap((step) => step.actions.map((action) => action.text))
      .join('\n')
    expect(texts).toContain(`execution role ${EXECUTION_ROLE_ARN}`)
    expect(texts).toContain('1 x ml.c5.xlarge')
    expect(texts).toContain('UpdateEndpoint modela-v1 to modela-v1-')
    expect(result.json.deploy).toMatchObject({
      status: 'planned',
      before: {configName: 'modela-v1-older-config'},
    })
    expect(creates()).toEqual([])
    expect(await production()).toBeUndefined()
  })
})

describe('push --deploy', () => {
  const setup = () => standInProject(motoUrl, awsEnv('stand-in'), {'deploy/modelA/V1/mldeploy.yaml': YAML})
  const push = (s: ReturnType<typeof setup>, ...args: string[]) =>
    runCli(['push', 'modelA/V1', '--skip-vpn-check', '--skip-disk-check', '--deploy', '--json', ...args], {
      cwd: s.root,
      env: s.env,
    })

  it('a denied permission fails in the preflight (exit 3) before anything is built', async () => {
    standIn.deniedActions.add('sagemaker:CreateEndpointConfig')
    const s = setup()
    const result = await push(s, '--deploy-target', 'sagemaker')
    expect(result.exitCode, result.stderr).toBe(3)
    const json = JSON.parse(result.stdout)
    expect(json.error.step).toBe('deploy-preflight')
    // The configuration's name is not known before the push: simulated as the target's pattern.
    expect(json.error.message).toContain(
      'sagemaker:CreateEndpointConfig on arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/modela-v1-*',
    )
    const steps = s.bin.calls().map((call) => call.step)
    for (const step of ['import', 'build', 'containerize', 'push']) expect(steps).not.toContain(step)
    // The deploy's own preflight failed: its block says so; the push's steps were skipped.
    expect(json.deploy).toMatchObject({status: 'failed', endpointChange: 'unknown'})
    expect(json.pushed).toEqual([])
    expect(creates()).toEqual([])
  })

  it('bad input is exit 2 with nothing run: no --deploy-target sagemaker, --registry, --builder codebuild', async () => {
    const s = setup()
    const plain = await push(s)
    expect(plain.exitCode).toBe(2)
    expect(JSON.parse(plain.stdout).error.message).toContain('--deploy runs the image on SageMaker')
    const other = await push(s, '--deploy-target', 'sagemaker', '--registry', 'localhost:5000')
    expect(other.exitCode).toBe(2)
    expect(JSON.parse(other.stdout).error.message).toContain('pulls only from ECR')
    const remote = await push(s, '--deploy-target', 'sagemaker', '--builder', 'codebuild')
    expect(remote.exitCode).toBe(2)
    expect(JSON.parse(remote.stdout).error).toMatchObject({
      message: '--deploy is not chained after --builder codebuild (from flag --builder) yet.',
      hint: 'Push first, then run mldeploy deploy on the pushed image.',
    })
    expect(s.bin.calls()).toEqual([])
    expect(standIn.operations()).toEqual([])
  })

  it('a dry run without any AWS credentials skips the AWS checks and the deploy checks, saying so, and still plans', async () => {
    const s = setup()
    delete s.env.AWS_ACCESS_KEY_ID
    delete s.env.AWS_SECRET_ACCESS_KEY
    const result = await push(s, '--deploy-target', 'sagemaker', '--dry-run')
    expect(result.exitCode, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout)
    const results = json.checks.results as Array<{check: string; status: string; message: string}>
    expect(results.map((check) => `${check.check} ${check.status}`)).toEqual([
      'VPN skipped',
      'AWS identity and repository skipped',
      'Executables ok',
      'Deploy: role, permissions and endpoint skipped',
    ])
    expect(results[1]!.message).toMatch(
      /^no AWS credentials found \(environment, AWS_PROFILE, ~\/\.aws, SSO, instance role\), so the identity, repository and tag checks were skipped; the real run makes them first\./,
    )
    expect(results[3]!.message).toBe(
      'no AWS credentials found, so the role, permissions and endpoint were not checked',
    )
    expect(json.plan.map((step: {id: string}) => step.id)).toContain('deploy-endpoint')
    expect(standIn.operations()).toEqual([])
  })

  it('the dry run lists the deploy calls with their inputs, the digest as a placeholder', async () => {
    const s = setup()
    const result = await push(s, '--deploy-target', 'sagemaker', '--dry-run', '--offline')
    expect(result.exitCode, result.stderr).toBe(0)
    const plan = JSON.parse(result.stdout).plan as Array<{id: string; actions: Array<{text: string}>}>
    expect(plan.map((step) => step.id).slice(0, 2)).toEqual(['preflight', 'deploy-preflight'])
    expect(plan.map((step) => step.id).slice(-4)).toEqual([
      'deploy-model',
      'deploy-endpoint-config',
      'deploy-endpoint',
      'deploy-wait',
    ])
    const texts = plan.flatMap((step) => step.actions.map((action) => action.text)).join('\n')
    expect(texts).toContain(`SageMaker CreateModel modela-v1-<digest>`)
    expect(texts).toContain(`execution role ${EXECUTION_ROLE_ARN}`)
    expect(texts).toContain('1 x ml.c5.xlarge')
  })

  it("the dry run checks the deploy's role, permissions and endpoint read-only, beside push's checks", async () => {
    standIn.seedEndpoint('modela-v1', 'modela-v1-older-config')
    const s = setup()
    const result = await push(s, '--deploy-target', 'sagemaker', '--dry-run')
    expect(result.exitCode, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout)
    const check = json.checks.results.find(
      (each: {check: string}) => each.check === 'Deploy: role, permissions and endpoint',
    )
    expect(check).toMatchObject({status: 'ok'})
    expect(check.message).toContain(`execution role ${EXECUTION_ROLE_ARN}`)
    expect(check.message).toContain('permissions: all 12 allowed')
    expect(check.message).toContain('endpoint modela-v1: InService, serving modela-v1-older-config')
    expect(json.deploy).toMatchObject({status: 'planned', before: {configName: 'modela-v1-older-config'}})
    expect(standIn.operations()).toEqual(
      expect.arrayContaining(['iam:GetRole', 'iam:SimulatePrincipalPolicy', 'sagemaker:DescribeEndpoint']),
    )
    expect(creates()).toEqual([])
    // Read-only: bentoml's version probe is the only child a dry run starts.
    expect(s.bin.calls().map((call) => call.step)).toEqual(['probe'])
  })

  it('the dry run fails (exit 3) on a permission the deploy would lack, naming it', async () => {
    standIn.deniedActions.add('sagemaker:UpdateEndpoint')
    const s = setup()
    const result = await push(s, '--deploy-target', 'sagemaker', '--dry-run')
    expect(result.exitCode, result.stderr).toBe(3)
    const json = JSON.parse(result.stdout)
    expect(json.error.message).toContain(
      'sagemaker:UpdateEndpoint on arn:aws:sagemaker:us-east-1:123456789012:endpoint/modela-v1',
    )
    expect(json.checks.results).toContainEqual(
      expect.objectContaining({check: 'Deploy: role, permissions and endpoint', status: 'failed'}),
    )
    expect(creates()).toEqual([])
  })
})

describe('push --deploy, through to the endpoint', () => {
  // The fake tools (test/fixtures/bin) build and push for real into moto's ECR; SageMaker, IAM and
  // STS are the stand-in, which plays the update's statuses moto cannot. The fake bentoml cannot
  // play the adapter's build (--no-sagemaker-adapter), so the fake tool pushes a config as the
  // adapter layer leaves it (FAKE_IMAGE_CONFIG), which passes push's SageMaker rules; the e2e
  // tests build the real adapter.
  const setup = () =>
    standInProject(
      motoUrl,
      {...awsEnv('stand-in'), FAKE_IMAGE_CONFIG: 'sagemaker-image-config.json'},
      {'deploy/modelA/V1/mldeploy.yaml': YAML},
    )
  const push = async (s: ReturnType<typeof setup>, ...args: string[]) => {
    const result = await runCli(
      [
        'push',
        'modelA/V1',
        '--skip-vpn-check',
        '--skip-disk-check',
        '--deploy-target',
        'sagemaker',
        '--no-sagemaker-adapter',
        '--deploy',
        '--json',
        ...args,
      ],
      {cwd: s.root, env: s.env},
    )
    return {...result, json: result.stdout === '' ? undefined : JSON.parse(result.stdout)}
  }

  it('updates the existing endpoint to the pushed digest, after the tags moved; every step ran what it described', async () => {
    standIn.seedEndpoint('modela-v1', 'modela-v1-older-config')
    standIn.script = [{status: 'Updating'}, {status: 'InService'}]
    const s = setup()
    const result = await push(s)
    expect(result.exitCode, result.stderr).toBe(0)
    const {digest} = result.json
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/)
    const hex = digest.slice('sha256:'.length, 'sha256:'.length + 12)
    expect(result.json.deploy).toMatchObject({
      status: 'deployed',
      changed: true,
      endpoint: {name: 'modela-v1', status: 'InService'},
      image: {digest},
      model: {name: `modela-v1-${hex}`, change: 'created'},
      endpointChange: 'updated',
      before: {configName: 'modela-v1-older-config', status: 'InService'},
      after: {status: 'InService'},
    })
    expect(result.json.deploy.after.configName).toMatch(new RegExp(`^modela-v1-${hex}-[a-f0-9]{6}$`))
    const order = ids(result.json.steps)
    expect(order.indexOf('deploy-preflight')).toBe(1)
    expect(order.indexOf('deploy-check')).toBeGreaterThan(order.indexOf('push'))
    expect(order.indexOf('deploy-current')).toBeLessThan(order.indexOf('tag'))
    expect(order.slice(-4)).toEqual([
      'deploy-model',
      'deploy-endpoint-config',
      'deploy-endpoint',
      'deploy-wait',
    ])
    for (const step of result.json.steps as ReportedStep[])
      expect(contractBreaches(step), step.id).toEqual({undescribed: [], missing: []})
    // The deploy's check reuses the manifest push's check read: one BatchGetImage, the config read again.
    const ran = (id: string) =>
      (result.json.steps as ReportedStep[]).find((step) => step.id === id)!.ran ?? []
    expect(ran('check').filter((call) => call.startsWith('aws:ecr:BatchGetImage'))).toHaveLength(1)
    expect(ran('deploy-check').filter((call) => call.startsWith('aws:ecr:BatchGetImage'))).toEqual([])
    expect(ran('deploy-check').some((call) => call.startsWith('aws:ecr:GetDownloadUrlForLayer'))).toBe(true)
    // The model runs the pushed image by digest; the endpoint moved to the new configuration.
    const model = standIn.calls.find((call) => call.operation === 'sagemaker:CreateModel')!
    expect(JSON.stringify(model.body)).toContain(
      `123456789012.dkr.ecr.us-east-1.amazonaws.com/modela/v1@${digest}`,
    )
    expect(standIn.operations().filter((each) => /:(Create|Update)Endpoint$/.test(each))).toEqual([
      'sagemaker:UpdateEndpoint',
    ])
    expect(await tagDigest('latest')).toBe(digest)
  })

  it('a rollback after the tags moved: exit 11, the registry keeps the pushed image and its tags, the previous configuration serves', async () => {
    standIn.seedEndpoint('modela-v1', 'modela-v1-older-config')
    const reason = 'Alarm modela-5xx fired during the canary.'
    standIn.script = [
      {status: 'Updating'},
      {status: 'RollingBack', failureReason: reason},
      {status: 'InService', failureReason: reason, serves: 'previous'},
    ]
    const s = setup()
    const result = await push(s, '--traffic-shifting', 'canary', '--rollback-alarm', 'modela-5xx')
    expect(result.exitCode, result.stderr).toBe(11)
    expect(result.json.error).toMatchObject({exitCode: 11, step: 'deploy-wait', reason: 'check:rolled-back'})
    expect(result.json.error.message).toContain(reason.replace(/\.$/, ''))
    expect(result.json.error.hint).toContain('modela-v1-older-config still serves')
    expect(result.json.deploy).toMatchObject({status: 'failed', rolledBack: true, endpointChange: 'updated'})
    // What a failed deploy leaves in the registry: the push stands (its tags moved and verified).
    const {digest} = result.json.deploy.image
    expect(digest).toMatch(/^sha256:/)
    expect(await tagDigest('latest')).toBe(digest)
    const tags = await imageTags(motoUrl, 'modela/v1')
    expect(tags).toEqual(expect.arrayContaining(['f3k2qyq5lsoaaaab', 'latest']))
    expect(tags.find((tag) => tag.startsWith('content-'))).toBeDefined()
  })

  it('two targets: each deploys to its own endpoint, a failure stays with its target, the exit is its class', async () => {
    await createRepository(motoUrl, 'modelb/v1')
    // modelA's endpoint is busy with another update (SageMaker takes none now); modelB's is new.
    standIn.seedEndpoint('modela-v1', 'modela-v1-older-config', 'Updating')
    const s = standInProject(
      motoUrl,
      {...awsEnv('stand-in'), FAKE_IMAGE_CONFIG: 'sagemaker-image-config.json'},
      {
        'deploy/modelA/V1/mldeploy.yaml': YAML,
        'deploy/modelB/V1/mldeploy.yaml': YAML,
        'deploy/modelB/V1/create_bento_model.py': 'import bentoml\n',
        'deploy/modelB/V1/service.py': 'import bentoml\n',
      },
    )
    const result = await runCli(
      [
        'push',
        'modelA/V1',
        'modelB/V1',
        '--skip-vpn-check',
        '--skip-disk-check',
        '--deploy-target',
        'sagemaker',
        '--no-sagemaker-adapter',
        '--deploy',
        '--json',
      ],
      {cwd: s.root, env: s.env},
    )
    expect(result.exitCode, result.stderr).toBe(11)
    const {targets, error} = JSON.parse(result.stdout)
    expect(error.message).toContain('1 of 2 targets failed; first: modelA/V1: Endpoint modela-v1 is Updating')
    const [a, b] = targets
    expect(a).toMatchObject({
      target: 'modelA/V1',
      status: 'failed',
      error: {exitCode: 11, step: 'deploy-endpoint', reason: 'check:endpoint-busy'},
      deploy: {status: 'failed', endpoint: {name: 'modela-v1'}},
    })
    expect(b).toMatchObject({
      target: 'modelB/V1',
      status: 'pushed',
      deploy: {
        status: 'deployed',
        endpointChange: 'created',
        endpoint: {name: 'modelb-v1', status: 'InService'},
      },
    })
    // Each endpoint got its own target's image: modelA's was never touched.
    const endpoints = standIn.calls.filter((call) => /:(Create|Update)Endpoint$/.test(call.operation))
    expect(endpoints.map((call) => [call.operation, call.body.EndpointName])).toEqual([
      ['sagemaker:CreateEndpoint', 'modelb-v1'],
    ])
    const models = standIn.calls.filter((call) => call.operation === 'sagemaker:CreateModel')
    expect(
      JSON.stringify(models.find((call) => call.body.ModelName === b.deploy.model.name)?.body),
    ).toContain(`modelb/v1@${b.digest}`)
  })
})

/** The digest a tag of modela/v1 names in moto (undefined: no such tag). */
async function tagDigest(tag: string): Promise<string | undefined> {
  const {ECRClient, DescribeImagesCommand} = await import('@aws-sdk/client-ecr')
  const client = new ECRClient({
    region: 'us-east-1',
    endpoint: motoUrl,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  })
  try {
    const found = await client.send(
      new DescribeImagesCommand({repositoryName: 'modela/v1', imageIds: [{imageTag: tag}]}),
    )
    return found.imageDetails?.[0]?.imageDigest
  } catch {
    return undefined
  } finally {
    client.destroy()
  }
}
