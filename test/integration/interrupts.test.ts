import {readdirSync, readFileSync, existsSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'

import {execa} from 'execa'
import {afterAll, beforeAll, beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository, imageTags, motoEnv, seedDeployableImage, seedImage} from '../helpers/aws.js'
import {alive, baseEnv, CLI, makeProject, signalWhen, standInProject, tempDir} from '../helpers/cli.js'
import {
  EXECUTION_ROLE_ARN,
  type SageMakerStandIn,
  startSageMakerStandIn,
} from '../helpers/sagemaker-stand-in.js'
import {resetMoto} from '../helpers/moto.js'

// Every ending of every command with --json prints exactly one JSON object, interrupts included,
// and no command hangs on an endpoint that accepts connections and never answers.
const motoUrl = inject('motoUrl')

/** An "AWS endpoint" that accepts every connection and never says a word. */
let silent: Server
let silentUrl = ''
const sockets = new Set<Socket>()

beforeAll(async () => {
  silent = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  silentUrl = `http://127.0.0.1:${(silent.address() as {port: number}).port}`
})

afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await new Promise<void>((resolve) => silent.close(() => resolve()))
})

beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
})

function start(args: string[], env: Record<string, string>, cwd: string) {
  return execa(process.execPath, [CLI, ...args], {cwd, env, extendEnv: false, reject: false, stdin: 'ignore'})
}

/** Wait until the silent endpoint holds a connection: the command is now waiting on it. */
async function waitForConnection(): Promise<void> {
  for (let i = 0; i < 100 && sockets.size === 0; i++) await sleep(100)
  expect(sockets.size).toBeGreaterThan(0)
}

describe('interrupts print one JSON object with what was done', () => {
  it.each([
    ['push --dry-run', ['push', 'modelA/V1', '--dry-run', '--json'], 'SIGINT', 130],
    ['doctor', ['doctor', 'modelA/V1', '--json', '--skip-vpn-check'], 'SIGTERM', 143],
    [
      'promote',
      ['promote', 'modelA/V1', '--from', 'candidate', '--to', 'production', '--json'],
      'SIGHUP',
      129,
    ],
  ] as const)(
    '%s (%j): %s while AWS hangs gives exit %i and one JSON object',
    async (_name, args, signal, code) => {
      const s = standInProject(motoUrl, {AWS_ENDPOINT_URL: silentUrl})
      const child = start([...args], s.env, s.root)
      await waitForConnection()
      child.kill(signal)
      const result = await child
      expect(result.exitCode).toBe(code)
      const json = JSON.parse(String(result.stdout))
      expect(json.status).toBe('failed')
      expect(json.error.message).toContain(`Interrupted by ${signal}`)
      expect(json.error.exitCode).toBe(code)
      for (const socket of sockets) socket.destroy()
    },
  )

  it('an interrupted promote says which tags it had already moved, however often Ctrl-C comes', async () => {
    await seedImage(motoUrl, 'modela/v1', 'candidate')
    // Interrupt as soon as the progress on stderr says the first tag moved.
    const s = standInProject(motoUrl)
    const child = start(
      ['promote', 'modelA/V1', '--from', 'candidate', '--to', 'production', '--to', 'staging', '--json'],
      s.env,
      s.root,
    )
    // Ctrl-C again on every later line, as an impatient person would: the later ones are ignored
    // while mldeploy cleans up and writes its result.
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      if (/:production -> sha256:/.test(stderr)) child.kill('SIGINT')
    })
    const result = await child
    // The whole result is out, whatever came after it.
    const json = JSON.parse(String(result.stdout))
    if (json.status === 'failed') {
      expect(json.error.kind).toBe('interruptedSigint')
      // A Ctrl-C in the last milliseconds of Node's own exit (after the result, once Node has
      // dropped its signal handlers) ends the process by SIGINT: a shell reports 130 all the same.
      expect(result.exitCode ?? (result.signal === 'SIGINT' ? 130 : result.signal)).toBe(130)
      expect(json.tags.find((tag: {tag: string}) => tag.tag === 'production').applied).toBe(true)
    } else {
      // The run was faster than the signal: it had finished (and printed its result) when the
      // signal came, so every tag was moved and says so.
      expect(json.status).toBe('promoted')
      expect(json.tags.every((tag: {applied: boolean}) => tag.applied)).toBe(true)
    }
  })
})

describe('SIGHUP (a closed terminal, a dropped SSH session)', () => {
  it('mid-build: ends the child group, removes the private folder, exits 129 with JSON', async () => {
    const ownTmp = tempDir('tmp')
    const s = standInProject(motoUrl, {FAKE_HANG: 'build', TMPDIR: ownTmp})
    const child = start(['push', 'modelA/V1', '--skip-vpn-check', '--json'], s.env, s.root)
    const grandchildPidFile = `${s.bin.log}.grandchild.pid`
    for (let i = 0; i < 100 && !existsSync(grandchildPidFile); i++) await sleep(100)
    const grandchild = Number(readFileSync(grandchildPidFile, 'utf8'))
    child.kill('SIGHUP')
    const result = await child
    expect(result.exitCode).toBe(129)
    const json = JSON.parse(String(result.stdout))
    expect(json.error).toMatchObject({kind: 'interruptedSighup', exitCode: 129, step: 'build'})
    expect(json.steps.find((step: {id: string}) => step.id === 'build').status).toBe('interrupted')
    await sleep(300)
    expect(alive(grandchild)).toBe(false)
    expect(readdirSync(ownTmp)).toEqual([])
  })
})

describe('the local contract run (issue 24 §2): an interrupt while waiting for /ping', () => {
  // The fake backend (test/fixtures/bin/fake-tool.js) starts the "container" at once and its
  // `exec ... ping` hangs with a grandchild, as a model server that never gets ready would.
  it.each([
    ['SIGINT', 130, 'interruptedSigint'],
    ['SIGTERM', 143, 'interruptedSigterm'],
  ] as const)('%s: the container is removed, exit %i', async (signal, code, kind) => {
    const ownTmp = tempDir('tmp')
    const s = standInProject(
      motoUrl,
      {FAKE_HANG: 'ping', TMPDIR: ownTmp, FAKE_BENTO_APIS: 'predict'},
      {'deploy/modelA/V1/example_input.csv': 'a,b\n1,2\n'},
    )
    const child = start(
      ['push', 'modelA/V1', '--skip-vpn-check', '--deploy-target', 'sagemaker', '--check-serving', '--json'],
      s.env,
      s.root,
    )
    const grandchildPidFile = `${s.bin.log}.grandchild.pid`
    for (let i = 0; i < 300 && !existsSync(grandchildPidFile); i++) await sleep(100)
    const grandchild = Number(readFileSync(grandchildPidFile, 'utf8'))
    child.kill(signal)
    const result = await child
    expect(result.exitCode).toBe(code)
    const json = JSON.parse(String(result.stdout))
    expect(json.error).toMatchObject({kind, exitCode: code, step: 'serving'})
    // After the hung probe: the container removed, by the name it was started with.
    const calls = s.bin.calls()
    const run = calls.find((call) => call.step === 'run')!
    const name = run.argv[run.argv.indexOf('--name') + 1]!
    expect(calls.at(-1)).toMatchObject({tool: 'podman', argv: ['rm', '--force', name]})
    // No tag moved to an image that never answered.
    expect(json.steps.find((step: {id: string}) => step.id === 'tag').status).not.toBe('done')
    await sleep(300)
    expect(alive(grandchild)).toBe(false)
    expect(readdirSync(ownTmp)).toEqual([])
  })
})

describe('a silent endpoint never hangs a command', () => {
  it('doctor ends within its --timeout and aborts what is still open', async () => {
    const s = standInProject(motoUrl, {AWS_ENDPOINT_URL: silentUrl})
    const started = Date.now()
    const result = await start(
      ['doctor', 'modelA/V1', '--json', '--skip-vpn-check', '--timeout', '3'],
      s.env,
      s.root,
    )
    // Generous bound: the point is that it ends at all (it used to stay alive for good).
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(result.exitCode).toBe(3)
    const json = JSON.parse(String(result.stdout))
    const aws = json.checks.find((check: {id: string}) => check.id === 'aws')
    expect(aws.status).toBe('fail')
    expect(String(result.stderr)).not.toMatch(/node-http-handler|\[WARN\]/)
  })

  it('TMPDIR that does not exist: exit 3 naming it and the fix, nothing run', async () => {
    const s = standInProject(motoUrl, {TMPDIR: '/nonexistent/mldeploy'})
    const result = await start(['push', 'modelA/V1', '--skip-vpn-check'], s.env, s.root)
    expect(result.exitCode).toBe(3)
    expect(String(result.stderr)).toContain(
      'TMPDIR=/nonexistent/mldeploy does not exist. Set TMPDIR to a writable folder.',
    )
    expect(s.bin.calls()).toEqual([])
  })
})

describe('deploy: Ctrl-C during the wait (issue 24)', () => {
  // The SageMaker/IAM/STS stand-in (test/helpers/sagemaker-stand-in.ts) keeps the endpoint
  // Creating for as long as the test needs; ECR is moto behind the test front.
  let sagemaker: SageMakerStandIn
  beforeAll(async () => {
    sagemaker = await startSageMakerStandIn()
  })
  afterAll(async () => {
    await sagemaker.close()
  })

  it('stops waiting (exit 130), says the update goes on in AWS and how to follow it', async () => {
    sagemaker.reset()
    sagemaker.script = Array.from({length: 200}, () => ({status: 'Creating'}))
    await seedDeployableImage(motoUrl, 'latest')
    const root = makeProject({
      'deploy/modelA/V1/mldeploy.yaml': `execution-role-arn: ${EXECUTION_ROLE_ARN}\n`,
    })
    const env = baseEnv({
      ...motoEnv(motoUrl),
      AWS_ENDPOINT_URL_STS: sagemaker.url,
      AWS_ENDPOINT_URL_IAM: sagemaker.url,
      AWS_ENDPOINT_URL_SAGEMAKER: sagemaker.url,
      MLDEPLOY_SAGEMAKER_POLL_SECONDS: '1',
    })
    const child = start(['deploy', 'modelA/V1', '--json'], env, root)
    signalWhen(child, /Creating after/)
    const result = await child
    expect(result.exitCode).toBe(130)
    const json = JSON.parse(String(result.stdout))
    expect(json.error).toMatchObject({kind: 'interruptedSigint', step: 'wait'})
    expect(json.warnings.join('\n')).toContain(
      'Stopped waiting: the endpoint modela-v1 goes on changing in AWS. Follow it with: aws sagemaker describe-endpoint --endpoint-name modela-v1 --region us-east-1',
    )
    expect(String(result.stderr)).toContain('goes on changing in AWS')
    // The endpoint was created before the wait: nothing was undone.
    expect(sagemaker.operations()).toContain('sagemaker:CreateEndpoint')
  })

  it('push --deploy: Ctrl-C in the chained wait exits 130, the push stands, the message says how to follow the endpoint', async () => {
    sagemaker.reset()
    sagemaker.script = Array.from({length: 200}, () => ({status: 'Creating'}))
    // The fake tools push for real into moto; the config is an image as the adapter layer leaves it.
    const s = standInProject(
      motoUrl,
      {
        AWS_ENDPOINT_URL_STS: sagemaker.url,
        AWS_ENDPOINT_URL_IAM: sagemaker.url,
        AWS_ENDPOINT_URL_SAGEMAKER: sagemaker.url,
        MLDEPLOY_SAGEMAKER_POLL_SECONDS: '1',
        FAKE_IMAGE_CONFIG: 'sagemaker-image-config.json',
      },
      {'deploy/modelA/V1/mldeploy.yaml': `execution-role-arn: ${EXECUTION_ROLE_ARN}\n`},
    )
    const child = start(
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
      ],
      s.env,
      s.root,
    )
    signalWhen(child, /Creating after/)
    const result = await child
    expect(result.exitCode).toBe(130)
    const json = JSON.parse(String(result.stdout))
    expect(json.error).toMatchObject({kind: 'interruptedSigint', step: 'deploy-wait'})
    expect(json.digest).toMatch(/^sha256:[a-f0-9]{64}$/)
    expect(json.warnings.join('\n')).toContain(
      `Stopped waiting: the endpoint modela-v1 goes on changing in AWS. Follow it with: aws sagemaker describe-endpoint --endpoint-name modela-v1 --region us-east-1 (or run mldeploy deploy modelA/V1 --image-digest ${json.digest}`,
    )
    expect(String(result.stderr)).toContain('goes on changing in AWS')
    // The push had moved and verified its tags before the deploy: the interrupt undoes nothing.
    expect(json.deploy).toMatchObject({status: 'failed', endpointChange: 'created'})
    expect(await imageTags(motoUrl, 'modela/v1')).toContain('latest')
    expect(sagemaker.operations()).toContain('sagemaker:CreateEndpoint')
  })
})
