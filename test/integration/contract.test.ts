import {createServer, type Server} from 'node:net'

import {afterAll, beforeAll, beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {runCli, standInProject} from '../helpers/cli.js'
import {contractBreaches, type ReportedStep} from '../helpers/contract.js'
import {MOTO_PASSWORD, resetMoto} from '../helpers/moto.js'

// The contract of the engine: every step of a real push (the real AWS SDK against moto, real
// child processes through the recording stand-ins, a real TCP probe) runs exactly what it
// described right before it ran — what ran is recorded where it happens (the spawn, the SDK
// middleware, the registry HTTP client, the probe), not copied from the description.
const motoUrl = inject('motoUrl')
let vpn: Server
let vpnPort = 0

beforeAll(async () => {
  vpn = createServer((socket) => socket.end())
  await new Promise<void>((resolve) => vpn.listen(0, '127.0.0.1', resolve))
  vpnPort = (vpn.address() as {port: number}).port
})

afterAll(async () => {
  await new Promise<void>((resolve) => vpn.close(() => resolve()))
})

beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
})

async function push(
  extraEnv: Record<string, string>,
  args: string[] = [],
  files: Record<string, string> = {},
): Promise<{steps: ReportedStep[]; raw: string}> {
  const s = standInProject(motoUrl, extraEnv, files)
  const result = await runCli(
    ['push', 'modelA/V1', '--json', '--vpn-check', `127.0.0.1:${vpnPort}`, '--tag', 'release', ...args],
    {cwd: s.root, env: s.env},
  )
  expect(result.exitCode, result.stderr).toBe(0)
  return {steps: JSON.parse(result.stdout).steps as ReportedStep[], raw: result.stdout}
}

describe('every step runs what it described', () => {
  it('a whole push: children, AWS calls and the VPN probe match each description', async () => {
    const {steps, raw} = await push({})
    expect(steps.map((step) => step.status).every((status) => status === 'done')).toBe(true)
    for (const step of steps) {
      expect(step.ran, step.id).toBeDefined()
      expect(contractBreaches(step), `${step.id}: ${JSON.stringify(step)}`).toEqual({
        undescribed: [],
        missing: [],
      })
    }
    const ran = (id: string): string[] => steps.find((step) => step.id === id)!.ran!
    // The boundaries did record: one of each kind.
    expect(ran('preflight')).toEqual(
      expect.arrayContaining([
        'aws:sts:GetCallerIdentity',
        'aws:ecr:DescribeRepositories',
        'aws:ecr:GetAuthorizationToken',
        `tcp:127.0.0.1:${vpnPort}`,
      ]),
    )
    // Issue 23: the check reads the pushed manifest once; the tag step reads what both extra tags
    // (release and the content tag) point at now in ONE BatchGetImage (to say which one moves)
    // and puts the check's manifest under each; verify reads all three tags in ONE DescribeImages.
    expect(ran('check')[0]).toBe('aws:ecr:BatchGetImage')
    expect(ran('tag')).toEqual(['aws:ecr:BatchGetImage', 'aws:ecr:PutImage', 'aws:ecr:PutImage'])
    expect(steps.find((step) => step.id === 'tag')!.described!.actions.map((action) => action.text)).toEqual([
      expect.stringMatching(/^What release, content-\S+ point at now .*: ECR BatchGetImage \(one call\)$/),
      'A tag the answer names no image for: ECR BatchGetImage of that tag alone',
      expect.stringMatching(/:release -> the image's digest: ECR PutImage of the manifest the check read$/),
      expect.stringMatching(
        /:content-\S+ -> the image's digest: ECR PutImage of the manifest the check read$/,
      ),
    ])
    expect(ran('verify')).toEqual(['aws:ecr:DescribeImages'])
    expect(ran('push')).toHaveLength(1)
    expect(ran('push')[0]).toMatch(/ push --format v2s2 --digestfile /)
    // Secrets redacted in both records.
    expect(raw).not.toContain(MOTO_PASSWORD)
  })

  it('a SageMaker push with the adapter and the contract run: the layer build and the serving step ran what they described', async () => {
    // The fake backend plays a healthy container (test/fixtures/bin/fake-tool.js): the real
    // container is run by test/e2e/sagemaker.test.ts; here what counts is what mldeploy ran.
    const {steps} = await push(
      {FAKE_BENTO_APIS: 'predict'},
      ['--deploy-target', 'sagemaker', '--check-serving'],
      {
        'deploy/modelA/V1/example_input.csv': 'a,b\n1,2\n',
      },
    )
    for (const step of steps)
      expect(contractBreaches(step), `${step.id}: ${JSON.stringify(step)}`).toEqual({
        undescribed: [],
        missing: [],
      })
    const ran = (id: string): string[] => steps.find((step) => step.id === id)!.ran!
    expect(ran('containerize')).toEqual([
      expect.stringMatching(/ containerize /),
      expect.stringMatching(/^podman build --pull=never --format docker /),
    ])
    // run (with the run's own auth file), ping, invoke, rm: the container state and its log only
    // when it failed.
    expect(ran('serving')[0]).toMatch(/^REGISTRY_AUTH_FILE=\S+\/auth\.json podman run /)
    const verbs = ran('serving').map((command) => command.replace(/^(\w+=\S+ )+/, ''))
    expect(verbs.map((command) => command.split(' ').slice(0, 2).join(' '))).toEqual([
      'podman run',
      'podman exec',
      'podman exec',
      'podman rm',
    ])
  })

  it('conditional actions appear only when their condition happened: one fresh login after an expired token', async () => {
    const {steps} = await push({FAKE_EXPIRED: '1'})
    const pushStep = steps.find((step) => step.id === 'push')!
    expect(contractBreaches(pushStep)).toEqual({undescribed: [], missing: []})
    expect(pushStep.ran).toEqual([
      expect.stringMatching(/ push /),
      'aws:ecr:GetAuthorizationToken',
      expect.stringMatching(/ login --username AWS --password-stdin /),
      expect.stringMatching(/ push /),
    ])
    // Without the condition, none of it runs.
    await resetMoto(motoUrl)
    await createRepository(motoUrl, 'modela/v1')
    const {steps: plain} = await push({})
    expect(plain.find((step) => step.id === 'push')!.ran).toHaveLength(1)
  })

  it('a dry run runs only what its plan marks as checked by a dry run, and all of it', async () => {
    const s = standInProject(motoUrl)
    const result = await runCli(
      ['push', 'modelA/V1', '--dry-run', '--json', '--vpn-check', `127.0.0.1:${vpnPort}`],
      {cwd: s.root, env: s.env},
    )
    expect(result.exitCode, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout) as {
      plan: Array<Required<ReportedStep>['described'] & {id: string}>
      checks: {ran: string[]}
    }
    // The marked actions and commands of every step: only the preflight has any.
    const marked = json.plan.map((step) => ({
      id: step.id,
      actions: step.actions.filter((action) => (action as {dryRun?: true}).dryRun),
      commands: step.commands.filter((command) => (command as {dryRun?: true}).dryRun),
    }))
    expect(
      marked.filter((step) => step.actions.length + step.commands.length > 0).map((step) => step.id),
    ).toEqual(['preflight'])
    const preflight = marked.find((step) => step.id === 'preflight')!
    expect(
      contractBreaches({id: 'dry-run', status: 'done', described: preflight, ran: json.checks.ran}),
    ).toEqual({undescribed: [], missing: []})
    expect(json.checks.ran).toEqual(
      expect.arrayContaining([`tcp:127.0.0.1:${vpnPort}`, 'aws:sts:GetCallerIdentity']),
    )
    expect(s.bin.calls().map((call) => call.step)).toEqual(['probe'])
  })

  it('catches a breach: an undescribed call and a described certain call that did not run', () => {
    const step: ReportedStep = {
      id: 'x',
      status: 'done',
      described: {
        actions: [{text: 'a', calls: ['aws:ecr:DescribeImages']}],
        commands: [{command: "git status '<ref>'"}],
      },
      ran: ['git status main', 'aws:ecr:PutImage'],
    }
    expect(contractBreaches(step)).toEqual({
      undescribed: ['aws:ecr:PutImage'],
      missing: ['aws:ecr:DescribeImages'],
    })
  })
})
