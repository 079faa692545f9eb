import {symlinkSync} from 'node:fs'
import path from 'node:path'

import {beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository, expiredCredentialsHome, seedImage} from '../helpers/aws.js'
import {runCli, standInProject, type StandInProject} from '../helpers/cli.js'
import {freePort, MOTO_ACCOUNT, MOTO_PASSWORD, resetMoto} from '../helpers/moto.js'
import {startMlflowStandIn} from '../helpers/mlflow-stand-in.js'

// The real CLI as a process, the real AWS SDK talking HTTP to moto on loopback, and recording
// stand-ins for python/bentoml, podman and docker (the real ones run in the end-to-end tests).
const motoUrl = inject('motoUrl')
const REGISTRY = `${MOTO_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`

type Setup = StandInProject

function setup(extraEnv: Record<string, string> = {}, files: Record<string, string> = {}): Setup {
  return standInProject(motoUrl, extraEnv, files)
}

function push(s: Setup, ...args: string[]) {
  // The disk check (issue 12) runs its own children concurrently: reuse-orchestration tests it.
  return runCli(['push', 'modelA/V1', '--skip-vpn-check', '--skip-disk-check', ...args], {
    cwd: s.root,
    env: s.env,
  })
}

function expectNoSecret(s: Setup, ...texts: string[]): void {
  const token = Buffer.from(`AWS:${MOTO_PASSWORD}`).toString('base64')
  for (const call of s.bin.calls()) {
    for (const arg of call.argv) expect(arg).not.toContain(MOTO_PASSWORD)
  }
  for (const text of texts) {
    expect(text).not.toContain(MOTO_PASSWORD)
    expect(text).not.toContain(token)
  }
}

beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
})

describe('mldeploy push against moto with recording tools', () => {
  it('runs every step in order, in the target folder, with the password only on stdin (podman)', async () => {
    const s = setup()
    const result = await push(s)
    expect(result.stderr).not.toMatch(/NodeVersionSupportWarning|Error:/)
    expect(result.exitCode).toBe(0)
    const target = path.join(s.root, 'deploy/modelA/V1')
    const calls = s.bin.calls()
    const sequence = calls.map((call) => `${call.tool} ${call.step}`)
    expect(sequence.filter((call) => call !== 'podman login')).toEqual([
      'python probe',
      'python import',
      'python build',
      // Issue 12: the bento's folder for the content digest, then a local image with that content.
      'python get',
      'podman images',
      // Provenance labels: bentoml get (the bento's models and routes) before containerize.
      'python get',
      'python containerize',
      'podman push',
    ])
    // Issue 23: the login starts once the reuse step has decided, beside labels and containerize.
    const login = sequence.indexOf('podman login')
    expect(login).toBeGreaterThan(sequence.indexOf('podman images'))
    expect(login).toBeLessThan(sequence.indexOf('podman push'))
    const containerize = calls.find((call) => call.step === 'containerize')!
    const loginCall = calls.find((call) => call.step === 'login')!
    const pushCall = calls.find((call) => call.step === 'push')!
    for (const call of calls) expect(call.cwd).toBe(target)
    // Only create_bento_model.py (MLflow artifacts may live in S3) gets the AWS credentials.
    expect(calls.filter((call) => call.awsCredentials).map((call) => call.step)).toEqual(['import'])
    const images = [`${REGISTRY}/modela/v1:latest`, `${REGISTRY}/modela/v1:f3k2qyq5lsoaaaab`]
    expect(calls[2]!.argv).toEqual(['-m', 'bentoml', 'build', '-o', 'tag'])
    expect(calls[2]!.env.COLUMNS).toBe('10000')
    expect(containerize.argv.slice(0, 10)).toEqual([
      '-m',
      'bentoml',
      'containerize',
      'iris_service:f3k2qyq5lsoaaaab',
      '--backend',
      'podman',
      '-t',
      images[0],
      '-t',
      images[1],
    ])
    // Then the provenance labels, each as --opt label=KEY=VALUE, the content label (issue 12) too.
    const options = containerize.argv.slice(10)
    expect(options.filter((_, index) => index % 2 === 0).every((flag) => flag === '--opt')).toBe(true)
    expect(options.filter((_, index) => index % 2 === 1)).toContain(
      'label=org.opencontainers.image.title=modelA/V1',
    )
    expect(containerize.argv.at(-1)).toMatch(/^label=io\.mldeploy\.content-digest=sha256:[a-f0-9]{64}$/)
    expect(loginCall.argv).toEqual(['login', '--username', 'AWS', '--password-stdin', REGISTRY])
    expect(loginCall.stdin).toBe(MOTO_PASSWORD)
    // The login lives in a private auth file, the same one the pushes use.
    const authFile = loginCall.env.REGISTRY_AUTH_FILE
    expect(authFile).toMatch(/mldeploy-.*\/auth\.json$/)
    expect(pushCall.env.REGISTRY_AUTH_FILE).toBe(authFile)
    // One upload, under the bento version; latest is added through the ECR API (no upload).
    expect(pushCall.argv.at(-1)).toBe(images[1])
    expect(result.stdout).toMatch(/digest sha256:[a-f0-9]{64}/)
    expect(result.stdout).toContain('one upload, 2 tags verified')
    expect(result.stdout).toMatch(/content sha256:[a-f0-9]{64} \(content-[a-f0-9]{12}\)/)
    for (const image of images) expect(result.stdout).toContain(image)
    expectNoSecret(s, result.stdout, result.stderr)
  })

  it('--json prints exactly one JSON object with the result, progress on stderr (docker)', async () => {
    const s = setup()
    const result = await push(s, '--backend', 'docker', '--json', '--tag', 'latest', '--tag', 'git-abc123')
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json).toMatchObject({
      status: 'pushed',
      target: 'modelA/V1',
      bentoTag: 'iris_service:f3k2qyq5lsoaaaab',
      account: MOTO_ACCOUNT,
      region: 'us-east-1',
      registry: REGISTRY,
      repository: 'modela/v1',
      images: [
        `${REGISTRY}/modela/v1:latest`,
        `${REGISTRY}/modela/v1:git-abc123`,
        `${REGISTRY}/modela/v1:f3k2qyq5lsoaaaab`,
      ],
    })
    expect(json.steps.map((step: {id: string; status: string}) => `${step.id}:${step.status}`)).toEqual([
      'preflight:done',
      'import:done',
      'build:done',
      'reuse:done',
      'labels:done',
      'containerize:done',
      'login:done',
      'push:done',
      'check:done',
      'tag:done',
      'verify:done',
    ])
    expect(json.digest).toMatch(/^sha256:[a-f0-9]{64}$/)
    expect(json.imageByDigest).toBe(`${REGISTRY}/modela/v1@${json.digest}`)
    expect(json.verified.map((each: {tag: string; digest: string}) => `${each.tag}=${each.digest}`)).toEqual(
      ['latest', 'git-abc123', 'f3k2qyq5lsoaaaab', json.contentTag].map((tag) => `${tag}=${json.digest}`),
    )
    expect(json.pushedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/)
    for (const step of json.steps) expect(typeof step.durationMs).toBe('number')
    const calls = s.bin.calls()
    const docker = calls.filter((call) => call.tool === 'docker')
    // `docker buildx version`: which builder containerize will use (issue 11).
    // `docker images --filter label=...`: a local image with the same content (issue 12).
    // Issue 23: the login runs beside the labels step (buildx) and containerize.
    const dockerSteps = docker.map((call) => call.step)
    expect(dockerSteps.filter((each) => each !== 'login')).toEqual(['images', 'buildx', 'push'])
    expect(dockerSteps.indexOf('login')).toBeGreaterThan(dockerSteps.indexOf('images'))
    expect(dockerSteps.indexOf('login')).toBeLessThan(dockerSteps.indexOf('push'))
    expect(docker.find((call) => call.step === 'login')!.env.DOCKER_CONFIG).toMatch(/mldeploy-/)
    expect(result.stderr).toContain('bentoml')
    expectNoSecret(s, result.stdout, result.stderr)
  })

  it.each([
    [
      'import',
      4,
      /Importing the model \(create_bento_model.py\) failed \(exit code 1\): mlflow.exceptions.MlflowException/,
    ],
    ['build', 5, /bentoml build failed \(exit code 1\): Error: \[bentos\] `build` failed/],
    ['containerize', 6, /bentoml containerize \(podman\) failed \(exit code 1\)/],
    [
      'login',
      7,
      /podman login failed: The registry registry refused the credentials \(invalid username\/password\)/,
    ],
    [
      'push',
      8,
      /Pushing .*modela\/v1:f3k2qyq5lsoaaaab failed: ECR repository modela\/v1 does not exist in account 123456789012/,
    ],
  ])('a failing %s exits %i with one clear line and runs no later step', async (step, code, message) => {
    const s = setup({FAKE_FAIL: step})
    const result = await push(s)
    expect(result.exitCode).toBe(code)
    const errorLines = result.stderr.split('\n').filter((line) => line.startsWith('Error:'))
    expect(errorLines).toHaveLength(1)
    expect(errorLines[0]).toMatch(message)
    const steps = s.bin.calls().map((call) => call.step)
    // Issue 23: the login runs beside labels (bentoml get) and containerize: either may start after
    // the other, so a failing login may be followed by them and a failing containerize by the
    // login; nothing after them in the plan runs.
    const beside: Record<string, ReadonlySet<string>> = {
      login: new Set(['get', 'containerize']),
      containerize: new Set(['login']),
    }
    expect(steps.filter((each) => !(beside[step]?.has(each) ?? false)).at(-1)).toBe(step)
    expect(steps).not.toContain(step === 'push' ? 'tag' : 'push')
    expect(steps.filter((each) => each === step)).toHaveLength(1)
    expect(result.stderr).toMatch(new RegExp(`${step}: failed`))
    expectNoSecret(s, result.stdout, result.stderr)

    const json = await push(setup({FAKE_FAIL: step}), '--json')
    expect(json.exitCode).toBe(code)
    const parsed = JSON.parse(json.stdout)
    expect(parsed.status).toBe('failed')
    expect(parsed.error.exitCode).toBe(code)
    expect(parsed.error.message).toMatch(message)
    expect(parsed.steps.find((each: {id: string}) => each.id === step).status).toBe('failed')
  })

  it('a wrong password at login is refused by the backend and never shown', async () => {
    const s = setup({FAKE_PASSWORD: 'something-else'})
    const result = await push(s, '--verbose')
    expect(result.exitCode).toBe(7)
    expect(s.bin.calls().some((call) => call.step === 'push')).toBe(false)
    expectNoSecret(s, result.stdout, result.stderr)
  })

  it('a missing repository fails the preflight (exit 3) naming repository, account and region, before the import', async () => {
    const s = setup()
    const result = await push(s, '--repository', 'does-not-exist')
    expect(result.exitCode).toBe(3)
    expect(result.stderr).toContain(
      'Error: ECR repository does-not-exist does not exist in account 123456789012, region us-east-1.',
    )
    expect(s.bin.calls().map((call) => call.step)).not.toContain('import')
  })

  it('the VPN check fails against a closed port (exit 3) and names the host', async () => {
    const s = setup()
    const port = await freePort()
    const result = await runCli(
      ['push', 'modelA/V1', '--vpn-check', `127.0.0.1:${port}`, '--vpn-timeout', '1'],
      {
        cwd: s.root,
        env: s.env,
      },
    )
    expect(result.exitCode).toBe(3)
    expect(result.stderr).toContain(`Error: The VPN looks off: 127.0.0.1:${port} did not answer`)
    expect(s.bin.calls().map((call) => call.step)).not.toContain('import')
  })

  it('every failed preflight check is in the error, not only the first', async () => {
    const s = setup()
    const port = await freePort()
    const result = await runCli(
      [
        'push',
        'modelA/V1',
        '--vpn-check',
        `127.0.0.1:${port}`,
        '--vpn-timeout',
        '1',
        '--repository',
        'absent',
      ],
      {cwd: s.root, env: s.env},
    )
    expect(result.exitCode).toBe(3)
    const error = result.stderr.split('\n').find((line) => line.startsWith('Error: '))
    expect(error).toContain('Error: 2 preflight checks failed: The VPN looks off: 127.0.0.1:')
    expect(error).toContain('ECR repository absent does not exist')
  })

  it('the VPN check defaults to the host of MLFLOW_TRACKING_URI', async () => {
    const port = await freePort()
    const s = setup({MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`})
    const result = await runCli(['push', 'modelA/V1', '--vpn-timeout', '1'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(3)
    expect(result.stderr).toContain(`MLflow at http://127.0.0.1:${port} did not answer (ECONNREFUSED`)
  })

  it('an http(s) MLFLOW_TRACKING_URI: MLflow must answer as MLflow; a proxy page fails; its password is never shown', async () => {
    const mlflow = await startMlflowStandIn('mlflow')
    const proxy = await startMlflowStandIn('proxy-page')
    try {
      const withPassword = (url: string) => url.replace('http://', 'http://alice:s3cret-pw@')
      const s = setup({MLFLOW_TRACKING_URI: withPassword(mlflow.url)})
      const args = ['push', 'modelA/V1', '--dry-run', '--skip-disk-check']
      const ok = await runCli([...args, '--json'], {cwd: s.root, env: s.env})
      expect(ok.exitCode, ok.stderr).toBe(0)
      const json = JSON.parse(ok.stdout)
      expect(json.checks.results[0]).toEqual({
        check: 'VPN',
        status: 'ok',
        message: `MLflow at ${mlflow.url} (from env MLFLOW_TRACKING_URI) answered`,
      })
      expect(json.checks.ran).toContain(
        `http:GET ${mlflow.url}/api/2.0/mlflow/experiments/search?max_results=1`,
      )
      expect(mlflow.requests[0]?.authorization).toBeUndefined()

      const blocked = {...s.env, MLFLOW_TRACKING_URI: withPassword(proxy.url)}
      const text = await runCli(args, {cwd: s.root, env: blocked})
      expect(text.exitCode).toBe(3)
      expect(text.stdout).toContain(
        `FAIL VPN: The VPN looks off: something that is not MLflow answered for ${proxy.url} (HTTP 200 text/html: "<html><head><title>Web access blocked</title>`,
      )
      const failed = JSON.parse((await runCli([...args, '--json'], {cwd: s.root, env: blocked})).stdout)
      expect(failed.error).toMatchObject({kind: 'preflight', exitCode: 3, reason: 'check:not-mlflow'})
      for (const output of [ok.stdout, ok.stderr, text.stdout, text.stderr, JSON.stringify(failed)])
        expect(output).not.toContain('s3cret-pw')
    } finally {
      await mlflow.close()
      await proxy.close()
    }
  })

  it('bentoml missing from the chosen Python fails the preflight', async () => {
    const s = setup({FAKE_FAIL: 'probe'})
    const result = await push(s)
    expect(result.exitCode).toBe(3)
    expect(result.stderr).toMatch(/Error: bentoml is not installed in .*python/)
  })

  it('an old bentoml fails the preflight', async () => {
    const s = setup({FAKE_BENTOML_VERSION: '1.4.10'})
    const result = await push(s)
    expect(result.exitCode).toBe(3)
    expect(result.stderr).toContain('bentoml 1.4.10')
  })

  it('reads the tag from the "Successfully built" line when -o tag printed none', async () => {
    const s = setup({FAKE_BUILD_OUTPUT: 'success'})
    const result = await push(s, '--json')
    expect(result.exitCode).toBe(0)
    expect(JSON.parse(result.stdout).bentoTag).toBe('iris_service:f3k2qyq5lsoaaaab')
  })

  it('a build that exits 0 without a tag is a build error showing its output', async () => {
    const s = setup({FAKE_BUILD_OUTPUT: 'none'})
    const result = await push(s, '--verbose')
    expect(result.exitCode).toBe(5)
    expect(result.stderr).toContain('Error: bentoml build succeeded but printed no bento tag.')
    expect(result.stderr).toContain('nothing useful here')
  })

  it('--bento-version is passed to bentoml build and names the image', async () => {
    const s = setup()
    const result = await push(s, '--bento-version', 'v1-2026', '--json')
    expect(result.exitCode).toBe(0)
    expect(s.bin.calls().find((call) => call.step === 'build')!.argv).toEqual([
      '-m',
      'bentoml',
      'build',
      '-o',
      'tag',
      '--version',
      'v1-2026',
    ])
    expect(JSON.parse(result.stdout).images).toContain(`${REGISTRY}/modela/v1:v1-2026`)
  })

  it('.env files configure the run and reach the children; the target overrides the root', async () => {
    const s = setup(
      {},
      {
        '.env': 'MLDEPLOY_REPOSITORY=from-root\nFROM_DOTENV=root\nMLDEPLOY_TAGS=stable\n',
        'deploy/modelA/V1/.env': 'MLDEPLOY_REPOSITORY=modela/v1\nFROM_DOTENV=target\n',
      },
    )
    const result = await push(s, '--json')
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.repository).toBe('modela/v1')
    expect(json.settings.repository.source).toBe('deploy/modelA/V1/.env MLDEPLOY_REPOSITORY')
    expect(json.images[0]).toBe(`${REGISTRY}/modela/v1:stable`)
    expect(s.bin.calls().find((call) => call.step === 'import')!.env.FROM_DOTENV).toBe('target')
  })

  it('--registry overrides the host from the token for login, push and the registry API', async () => {
    // Nothing listens on 5999: login and push (stand-ins) go there, then reading the image back
    // through that registry's own API fails clearly (an unreachable registry is no warning: issue
    // 12 §2) and no tag moves. The success path runs against a real registry in test/e2e.
    const s = setup()
    const result = await push(s, '--registry', 'https://127.0.0.1:5999/', '--json')
    const calls = s.bin.calls()
    expect(calls.find((call) => call.step === 'login')!.argv.at(-1)).toBe('127.0.0.1:5999')
    expect(calls.find((call) => call.step === 'push')!.argv.at(-1)).toBe(
      '127.0.0.1:5999/modela/v1:f3k2qyq5lsoaaaab',
    )
    const json = JSON.parse(result.stdout)
    expect(json.images[0]).toBe('127.0.0.1:5999/modela/v1:latest')
    expect(result.exitCode).toBe(8)
    expect(json.error.message).toMatch(
      /^The pushed image could not be checked: reading its manifest failed: .*registry at https:\/\/127\.0\.0\.1:5999 could not be reached/,
    )
    expect(json.error.step).toBe('check')
    expect(json.steps.find((step: {id: string}) => step.id === 'tag').status).toBe('skipped')
  })
})

describe('--quiet', () => {
  it('prints only the result, warnings and errors: no progress', async () => {
    const loud = await push(setup({FAKE_FAIL: 'import'}))
    expect(loud.stderr).toContain('▶ Preflight checks')
    for (const flag of ['--quiet', '-q']) {
      const quiet = await push(setup({FAKE_FAIL: 'import'}), flag)
      expect(quiet.exitCode).toBe(4)
      expect(quiet.stderr).not.toContain('▶')
      expect(quiet.stderr).not.toContain('ok   AWS identity')
      expect(quiet.stderr.split('\n').filter((line) => line.startsWith('Error:'))).toHaveLength(1)
      expect(quiet.stderr).toContain('Steps: preflight: done, import: failed')
    }
  })
})

describe('tags said plainly', () => {
  it('a push that moves an existing tag says from which digest to which, in text and JSON', async () => {
    const before = await seedImage(motoUrl, 'modela/v1', 'latest', true)
    const json = JSON.parse((await push(setup(), '--json')).stdout)
    expect(json.status).toBe('pushed')
    expect(before).not.toBe(json.digest)
    expect(json.tagChanges.find((each: {tag: string}) => each.tag === 'latest')).toEqual({
      tag: 'latest',
      change: 'moved',
      previousDigest: before,
      digest: json.digest,
    })
    expect(json.tagChanges.find((each: {tag: string}) => each.tag.startsWith('content-')).change).toBe(
      'created',
    )
    // Moved again under someone else's image: the text summary names both digests.
    const other = await seedImage(motoUrl, 'modela/v1', 'latest', true)
    expect(other).not.toBe(json.digest)
    const text = await push(setup())
    expect(text.exitCode, text.stderr).toBe(0)
    expect(text.stdout).toContain(`tag latest moved: ${other} -> ${json.digest}`)
  })

  it('the dry run says when --tag replaces latest instead of adding to it', async () => {
    const s = setup()
    const replaced = await runCli(['push', 'modelA/V1', '--dry-run', '--offline', '--tag', 'v2', '--json'], {
      cwd: s.root,
      env: s.env,
    })
    expect(JSON.parse(replaced.stdout).warnings).toContainEqual(
      expect.stringMatching(
        /replace the default latest: this push leaves latest where it is\. Add --tag latest/,
      ),
    )
    const kept = await runCli(
      ['push', 'modelA/V1', '--dry-run', '--offline', '--tag', 'v2', '--tag', 'latest'],
      {
        cwd: s.root,
        env: s.env,
      },
    )
    expect(kept.stderr).not.toContain('replace the default')
  })
})

describe('mldeploy push --dry-run', () => {
  it('--offline prints the full plan with no AWS call, runs no child, warns about the placeholder', async () => {
    const s = setup()
    const result = await runCli(
      ['push', 'modelA/V1', '--dry-run', '--offline', '--vpn-check', '127.0.0.1:9'],
      {
        cwd: s.root,
        env: {...s.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9'},
      },
    )
    expect(result.exitCode, result.stderr).toBe(0)
    expect(s.bin.calls()).toEqual([])
    expect(result.stdout).toContain('offline: nothing was run')
    expect(result.stdout).toContain('<aws-account-id>.dkr.ecr.us-east-1.amazonaws.com/modela/v1:latest')
    expect(result.stdout).not.toContain('Checks (read-only')
    expect(result.stderr).toContain('Pass --account-id')
    expect(result.stdout).toContain('--password-stdin')
    const json = JSON.parse(
      (await runCli(['push', 'modelA/V1', '--dry-run', '--offline', '--json'], {cwd: s.root, env: s.env}))
        .stdout,
    )
    // Nothing ran: no checks recorded, no account read (moto holds it, but nobody asked).
    expect(json.checks).toBeNull()
    expect(json.account).toBeNull()
    expect(s.bin.calls()).toEqual([])
  })

  it('--offline belongs to a dry run: alone it is bad input', async () => {
    const s = setup()
    const result = await push(s, '--offline')
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toContain('--offline only applies to a dry run')
    expect(s.bin.calls()).toEqual([])
  })

  it('without credentials: the AWS checks are skipped and said so, the others run, the plan is printed', async () => {
    const s = setup()
    const env = {...s.env}
    delete env.AWS_ACCESS_KEY_ID
    delete env.AWS_SECRET_ACCESS_KEY
    const result = await runCli(['push', 'modelA/V1', '--dry-run', '--skip-vpn-check'], {cwd: s.root, env})
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/skip AWS identity and repository: no AWS credentials found/)
    expect(result.stdout).toMatch(/ok {3}Executables: .*bentoml/)
    expect(result.stdout).toContain('<aws-account-id>.dkr.ecr.us-east-1.amazonaws.com/modela/v1:latest')
    // The one child a dry run may start: the bentoml version probe its plan marks.
    expect(s.bin.calls().map((call) => call.step)).toEqual(['probe'])
  })

  it('an expired SSO session: the preflight says so and how to log in (text, JSON, dry run)', async () => {
    const s = setup()
    const env: Record<string, string> = {...s.env, AWS_PROFILE: 'sso-legacy'}
    delete env.AWS_ACCESS_KEY_ID
    delete env.AWS_SECRET_ACCESS_KEY
    expiredCredentialsHome(env.HOME!)
    const expired =
      'Reading the AWS identity (STS GetCallerIdentity) failed: the AWS SSO session of profile sso-legacy has expired (region us-east-1)'
    const hint = 'Run aws sso login --profile sso-legacy, then run again.'
    const text = await push({...s, env})
    expect(text.exitCode).toBe(3)
    expect(text.stderr).toContain(`FAIL AWS identity and repository: ${expired}.`)
    expect(text.stderr).not.toMatch(/no AWS credentials found|Set AWS_PROFILE/)
    expect(text.stderr.trim().split('\n').at(-1)).toMatch(
      new RegExp(
        `^Error: 2 preflight checks failed: ${expired.replace(/[()]/g, '\\$&')}; .*\\. ${hint} \\(details: --verbose\\)$`,
      ),
    )
    const json = JSON.parse((await push({...s, env}, '--json')).stdout)
    expect(json.error).toMatchObject({
      kind: 'preflight',
      exitCode: 3,
      reason: 'aws:credentials-expired',
      step: 'preflight',
      hint,
    })
    // A dry run makes the same read: an expired session is no reason to skip it.
    const dry = await runCli(['push', 'modelA/V1', '--dry-run', '--skip-vpn-check', '--json'], {
      cwd: s.root,
      env,
    })
    expect(dry.exitCode).toBe(3)
    expect(JSON.parse(dry.stdout).error).toMatchObject({reason: 'aws:credentials-expired', hint})
    // Nothing past the preflight ran.
    expect(s.bin.calls().map((call) => call.step)).not.toContain('import')
  })

  it("without a chosen Python the preflight's line names python3 and why", async () => {
    const s = setup()
    const env: Record<string, string> = {...s.env}
    delete env.MLDEPLOY_PYTHON
    symlinkSync(path.join(s.bin.dir, 'python'), path.join(s.bin.dir, 'python3'))
    const result = await runCli(['push', 'modelA/V1', '--dry-run', '--skip-vpn-check'], {cwd: s.root, env})
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stdout).toContain(
      'ok   Executables: python3 (no virtualenv active (VIRTUAL_ENV), no Pipfile at the project root; set MLDEPLOY_PYTHON (or --python) to choose), bentoml',
    )
  })

  it('shows the real references with --account-id and --bento-version, same plan in JSON', async () => {
    const s = setup()
    const args = [
      'push',
      'modelA/V1',
      '--dry-run',
      '--offline',
      '--account-id',
      '210987654321',
      '--bento-version',
      'v7',
      '--region',
      'eu-west-1',
    ]
    const text = await runCli(args, {cwd: s.root, env: s.env})
    expect(text.exitCode).toBe(0)
    const image = '210987654321.dkr.ecr.eu-west-1.amazonaws.com/modela/v1:v7'
    expect(text.stdout).toContain(image)
    const json = await runCli([...args, '--json'], {cwd: s.root, env: s.env})
    const parsed = JSON.parse(json.stdout)
    expect(parsed.status).toBe('planned')
    expect(parsed.images).toEqual(['210987654321.dkr.ecr.eu-west-1.amazonaws.com/modela/v1:latest', image])
    expect(parsed.plan.map((step: {id: string}) => step.id)).toEqual([
      'preflight',
      'import',
      'build',
      'reuse',
      'labels',
      'containerize',
      'login',
      'push',
      'check',
      'tag',
      'verify',
    ])
    expect(s.bin.calls()).toEqual([])
  })

  it('with credentials: reads the account, checks repository, tools and VPN, lists every result', async () => {
    const s = setup()
    const result = await runCli(
      [
        'push',
        'modelA/V1',
        '--dry-run',
        '--json',
        '--vpn-check',
        `127.0.0.1:${await freePort()}`,
        '--vpn-timeout',
        '1',
      ],
      {
        cwd: s.root,
        env: s.env,
      },
    )
    // The VPN probe fails (nothing listens): exit 3, with the other checks' results next to it.
    expect(result.exitCode, result.stderr).toBe(3)
    const json = JSON.parse(result.stdout)
    expect(json.status).toBe('failed')
    expect(json.error.step).toBe('preflight')
    expect(json.account).toBe(MOTO_ACCOUNT)
    expect(json.plan.length).toBeGreaterThan(5)
    expect(
      json.checks.results.map((check: {check: string; status: string}) => `${check.check} ${check.status}`),
    ).toEqual(['VPN failed', 'AWS identity and repository ok', 'Executables ok'])
    expect(json.checks.results[1].message).toContain('repository modela/v1 exists (MUTABLE)')
    // Only read-only calls and the one probe: no login token, no disk probes, no CreateRepository.
    expect(json.checks.ran).toHaveLength(4)
    expect(json.checks.ran).toEqual(
      expect.arrayContaining([
        'aws:sts:GetCallerIdentity',
        'aws:ecr:DescribeRepositories',
        expect.stringMatching(/^tcp:127\.0\.0\.1:\d+$/),
        expect.stringMatching(/python -c /),
      ]),
    )
    expect(s.bin.calls().map((call) => call.step)).toEqual(['probe'])
  })

  it('a missing repository fails the dry run with exit 3, every check listed, the plan still printed', async () => {
    const s = setup()
    await resetMoto(motoUrl)
    const result = await runCli(['push', 'modelA/V1', '--dry-run', '--skip-vpn-check'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(3)
    expect(result.stdout).toContain(`Plan for modelA/V1`)
    expect(result.stdout).toContain(`${REGISTRY}/modela/v1:latest`)
    expect(result.stdout).toMatch(
      /FAIL AWS identity and repository: ECR repository modela\/v1 does not exist/,
    )
    expect(result.stdout).toMatch(/ok {3}Executables/)
    expect(result.stdout).toMatch(/skip VPN: no --vpn-check/)
    expect(result.stderr).toMatch(/Error: ECR repository modela\/v1 does not exist .*--create-repository/)
    // With --create-repository the dry run says the push creates it, and creates nothing.
    const create = await runCli(
      ['push', 'modelA/V1', '--dry-run', '--skip-vpn-check', '--create-repository', '--json'],
      {
        cwd: s.root,
        env: s.env,
      },
    )
    expect(create.exitCode, create.stdout).toBe(0)
    expect(JSON.parse(create.stdout).checks.results[1].message).toContain('the push creates it')
    expect(JSON.parse(create.stdout).checks.ran).not.toContain('aws:ecr:CreateRepository')
  })
})
