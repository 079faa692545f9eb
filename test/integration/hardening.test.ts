import {existsSync, readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {execa} from 'execa'
import {beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {alive, CLI, runCli, standInProject, tempDir} from '../helpers/cli.js'
import {startFaultProxy} from '../helpers/fault-proxy.js'
import {resetMoto} from '../helpers/moto.js'

// Fault injection against the real CLI process, the real AWS SDK and moto; the container tools
// are the recording stand-ins (test/fixtures/bin/fake-tool.js), which can hang, fail a set
// number of times or report an expired token on demand.
const motoUrl = inject('motoUrl')

function setup(extraEnv: Record<string, string> = {}) {
  return standInProject(motoUrl, extraEnv)
}

beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
})

describe('secrets', () => {
  it('the password is in no process argv during the login, and each run has its own auth file', async () => {
    const a = setup()
    const b = setup()
    // Two repositories: runs pushing the same tag of one repository at once would (rightly) fail
    // verification, as each moves `latest` under the other.
    await createRepository(motoUrl, 'modela/other')
    const [first, second] = await Promise.all([
      runCli(['push', 'modelA/V1', '--skip-vpn-check'], {cwd: a.root, env: a.env}),
      runCli(['push', 'modelA/V1', '--skip-vpn-check', '--repository', 'modela/other'], {
        cwd: b.root,
        env: b.env,
      }),
    ])
    expect(first.exitCode).toBe(0)
    expect(second.exitCode).toBe(0)
    const loginA = a.bin.calls().find((call) => call.step === 'login') as unknown as {
      passwordInAnyArgv: boolean
      env: Record<string, string>
    }
    const loginB = b.bin.calls().find((call) => call.step === 'login') as unknown as {
      passwordInAnyArgv: boolean
      env: Record<string, string>
    }
    expect(loginA.passwordInAnyArgv).toBe(false)
    expect(loginB.passwordInAnyArgv).toBe(false)
    expect(loginA.env.REGISTRY_AUTH_FILE).not.toBe(loginB.env.REGISTRY_AUTH_FILE)
    // The private auth folder is gone after the run.
    expect(existsSync(path.dirname(loginA.env.REGISTRY_AUTH_FILE!))).toBe(false)
  })

  it("--keep-login uses the backend's usual config", async () => {
    const s = setup()
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--keep-login'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(0)
    expect(s.bin.calls().find((call) => call.step === 'login')!.env.REGISTRY_AUTH_FILE).toBeUndefined()
  })
})

describe('interrupts and timeouts', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    '%s mid-build ends the child and its children, cleans up and exits %i',
    async (signal, code) => {
      // A TMPDIR of its own: the run's private folder must be gone from it afterwards.
      const ownTmp = tempDir('tmp')
      const s = setup({FAKE_HANG: 'build', TMPDIR: ownTmp})
      const child = execa(process.execPath, [CLI, 'push', 'modelA/V1', '--skip-vpn-check'], {
        cwd: s.root,
        env: s.env,
        extendEnv: false,
        reject: false,
      })
      const grandchildPidFile = `${s.bin.log}.grandchild.pid`
      for (let i = 0; i < 100 && !existsSync(grandchildPidFile); i++) await sleep(100)
      const grandchild = Number(readFileSync(grandchildPidFile, 'utf8'))
      const hungChild = Number(readFileSync(`${s.bin.log}.child.pid`, 'utf8'))
      expect(alive(grandchild)).toBe(true)
      const sent = Date.now()
      child.kill(signal)
      const result = await child
      expect(Date.now() - sent).toBeLessThan(6000)
      expect(result.exitCode).toBe(code)
      expect(String(result.stderr)).toContain(`Error: Interrupted by ${signal} during build.`)
      expect(String(result.stderr)).toContain('build: interrupted')
      await sleep(200)
      expect(alive(hungChild)).toBe(false)
      expect(alive(grandchild)).toBe(false)
      expect(readdirSync(ownTmp)).toEqual([])
    },
  )

  it('a hung step is stopped at its time limit and reported with its step', async () => {
    const s = setup({FAKE_HANG: 'containerize'})
    const started = Date.now()
    const result = await runCli(
      ['push', 'modelA/V1', '--skip-vpn-check', '--timeout', 'containerize=2s', '--json'],
      {
        cwd: s.root,
        env: s.env,
      },
    )
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(result.exitCode).toBe(6)
    const json = JSON.parse(result.stdout)
    expect(json.error.message).toMatch(/containerize \(podman\) did not finish within 2s and was stopped/)
    expect(json.error.hint).toContain('--timeout containerize=')
    const grandchild = Number(readFileSync(`${s.bin.log}.grandchild.pid`, 'utf8'))
    expect(alive(grandchild)).toBe(false)
  })
})

describe('retries', () => {
  it('retries a push after transient network failures, then succeeds', async () => {
    const s = setup({FAKE_TRANSIENT: '2'})
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--json'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(0)
    const pushes = s.bin.calls().filter((call) => call.step === 'push')
    expect(pushes).toHaveLength(3) // 2 failures, then the one upload
    expect(result.stderr).toContain('Trying again in 1 s (attempt 2 of 3)')
    expect(result.stderr).toContain('Trying again in 2 s (attempt 3 of 3)')
  })

  it('gives up after three transient failures with a clear error', async () => {
    const s = setup({FAKE_TRANSIENT: '5'})
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(8)
    expect(s.bin.calls().filter((call) => call.step === 'push')).toHaveLength(3)
    expect(result.stderr).toContain('The connection to registry was cut (connection reset by peer)')
  })

  it.each([
    [
      'denied: User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:InitiateLayerUpload on resource: x',
      // A missing push permission is the push step's failure; only a refused login or token is 7.
      8,
      /arn:aws:iam::123456789012:user\/ci is not allowed to ecr:InitiateLayerUpload/,
    ],
    [
      "tag invalid: The image tag 'latest' already exists in the 'modela/v1' repository and cannot be overwritten because the repository is immutable.",
      8,
      /Tag latest already exists in the immutable repository modela\/v1/,
    ],
    ['Error: no basic auth credentials', 7, /no login for this registry host/],
    [
      "name unknown: The repository with name 'modela/v1' does not exist in the registry with id '123456789012'",
      8,
      /ECR repository modela\/v1 does not exist in account 123456789012/,
    ],
  ])('never retries %s', async (text, code, message) => {
    const s = setup({FAKE_PUSH_ERROR: text})
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(code)
    expect(s.bin.calls().filter((call) => call.step === 'push')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
  })

  it('logs in again once when the token expired between login and push', async () => {
    const s = setup({FAKE_EXPIRED: '1'})
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--skip-disk-check', '--json'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(0)
    const steps = s.bin.calls().map((call) => call.step)
    // The first login runs beside labels and containerize (issue 23): anywhere before the push.
    const firstLogin = steps.indexOf('login')
    expect(firstLogin).toBeGreaterThan(steps.indexOf('images'))
    expect(firstLogin).toBeLessThan(steps.indexOf('push'))
    expect(steps.filter((_, index) => index !== firstLogin)).toEqual([
      'probe',
      'import',
      'build',
      // The reuse step (issue 12): the bento's folder, a local image with the same content.
      'get',
      'images',
      // Provenance labels (bentoml get -o json).
      'get',
      'containerize',
      'push',
      // The token expired: one fresh login, one more push.
      'login',
      'push',
    ])
    // The upload, latest and the content tag.
    expect(JSON.parse(result.stdout).pushed).toHaveLength(3)
  })
})

describe('AWS API retries (through the SDK)', () => {
  const throttled = JSON.stringify({__type: 'ThrottlingException', message: 'Rate exceeded'})

  it('retries throttling and 5xx answers, then succeeds', async () => {
    const proxy = await startFaultProxy(motoUrl, [
      {operation: 'GetAuthorizationToken', times: 2, status: 400, body: throttled},
      {
        operation: 'DescribeRepositories',
        times: 1,
        status: 503,
        body: '{"__type":"ServiceUnavailableException"}',
      },
    ])
    try {
      const s = setup({AWS_ENDPOINT_URL: proxy.url})
      const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--json'], {
        cwd: s.root,
        env: s.env,
      })
      expect(result.exitCode).toBe(0)
      expect(proxy.counts.get('GetAuthorizationToken')).toBe(3)
      expect(proxy.counts.get('DescribeRepositories')).toBe(2)
    } finally {
      await proxy.close()
    }
  })

  it('stops after AWS_MAX_ATTEMPTS and says what failed', async () => {
    const proxy = await startFaultProxy(motoUrl, [
      {operation: 'GetAuthorizationToken', times: 10, status: 400, body: throttled},
    ])
    try {
      const s = setup({AWS_ENDPOINT_URL: proxy.url, AWS_MAX_ATTEMPTS: '2'})
      const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check'], {cwd: s.root, env: s.env})
      expect(result.exitCode).toBe(3)
      expect(proxy.counts.get('GetAuthorizationToken')).toBe(2)
      expect(result.stderr).toMatch(
        /Error: Getting an ECR login token \(GetAuthorizationToken\) failed: Rate exceeded/,
      )
      expect(s.bin.calls().map((call) => call.step)).not.toContain('import')
    } finally {
      await proxy.close()
    }
  })

  it('never retries a missing repository', async () => {
    const proxy = await startFaultProxy(motoUrl, [])
    try {
      const s = setup({AWS_ENDPOINT_URL: proxy.url})
      const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--repository', 'absent'], {
        cwd: s.root,
        env: s.env,
      })
      expect(result.exitCode).toBe(3)
      expect(proxy.counts.get('DescribeRepositories')).toBe(1)
    } finally {
      await proxy.close()
    }
  })
})
