import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {runCli, standInProject, type StandInProject, tempDir} from '../helpers/cli.js'
import {type FaultProxy, grantOnly, PUSH_POLICY, startFaultProxy} from '../helpers/fault-proxy.js'
import {resetMoto} from '../helpers/moto.js'

// Issue 12 with the real CLI, the real AWS SDK against moto (behind a stand-in that grants only
// some ECR permissions where a test says so) and the recording stand-ins for python/podman/docker.
// The stand-in `bentoml get -o path` writes a bento and a model with fresh versions and creation
// times every time, as a real build and import do: only the content decides the digest.
const motoUrl = inject('motoUrl')

interface Step {
  id: string
  status: string
  reason?: string
  ran?: string[]
  described?: {
    commands: Array<{command: string}>
    actions: Array<{text: string; calls: string[]; when?: string}>
  }
}

interface PushJson {
  status: string
  digest: string
  contentDigest: string | null
  contentTag: string | null
  reused: {source: string; digest: string | null; builtFromBento: string | null} | null
  verified: Array<{tag: string; digest: string}>
  tagChanges: Array<{tag: string; change: string}>
  verification: {verified: boolean; by: string | null; missingPermission?: string} | null
  steps: Step[]
  warnings: string[]
  error?: {exitCode: number; message: string; hint?: string}
}

async function push(s: StandInProject, ...args: string[]) {
  const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--json', ...args], {
    cwd: s.root,
    env: s.env,
  })
  return {...result, json: JSON.parse(result.stdout) as PushJson}
}

const steps = (s: StandInProject): string[] => s.bin.calls().map((call) => `${call.tool} ${call.step}`)
const stepOf = (json: PushJson, id: string): Step => json.steps.find((step) => step.id === id)!

const proxies: FaultProxy[] = []

beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
})

afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close()
})

describe('reusing an image with the same content', () => {
  it('a second push of the same content containerizes nothing and uploads nothing; a changed service.py builds again', async () => {
    const s = standInProject(motoUrl)
    const first = await push(s, '--skip-disk-check')
    expect(first.exitCode).toBe(0)
    expect(first.json.contentDigest).toMatch(/^sha256:[a-f0-9]{64}$/)
    expect(first.json.contentTag).toBe(`content-${first.json.contentDigest!.slice(7, 19)}`)
    expect(first.json.reused).toBeNull()
    expect(first.json.verified.map((each) => each.tag)).toContain(first.json.contentTag)

    // A new bento version (and a new model version inside): same files, same settings.
    const before = s.bin.calls().length
    const second = await push(s, '--skip-disk-check', '--bento-version', 'v2')
    expect(second.exitCode).toBe(0)
    expect(second.json.contentDigest).toBe(first.json.contentDigest)
    expect(second.json.reused).toEqual({
      source: 'repository',
      digest: first.json.digest,
      builtFromBento: null,
    })
    expect(second.json.digest).toBe(first.json.digest)
    const calls = steps(s).slice(before)
    expect(calls).not.toContain('python containerize')
    expect(calls).not.toContain('podman push')
    expect(calls).not.toContain('podman login')
    // Every tag, the new bento version's too, names the first image.
    const verified = Object.fromEntries(second.json.verified.map((each) => [each.tag, each.digest]))
    expect(verified).toMatchObject({latest: first.json.digest, v2: first.json.digest})
    // Skipped steps ran nothing, said so in their description and end skipped with the reason.
    for (const id of ['containerize', 'login', 'push']) {
      expect(stepOf(second.json, id).status).toBe('skipped')
      expect(stepOf(second.json, id).ran).toEqual([])
      expect(stepOf(second.json, id).described!.commands).toEqual([])
    }
    expect(stepOf(second.json, 'containerize').reason).toBe(
      `reused 123456789012.dkr.ecr.us-east-1.amazonaws.com/modela/v1@${first.json.digest} (same content)`,
    )
    expect(stepOf(second.json, 'reuse').ran).toContain('aws:ecr:DescribeImages')

    writeFileSync(path.join(s.root, 'deploy/modelA/V1/service.py'), 'import bentoml\n# one more line\n')
    const third = await push(s, '--skip-disk-check', '--bento-version', 'v3')
    expect(third.exitCode).toBe(0)
    expect(third.json.contentDigest).not.toBe(first.json.contentDigest)
    expect(third.json.reused).toBeNull()
    expect(steps(s).filter((call) => call === 'python containerize')).toHaveLength(2)
  })

  it('another --platform, other weights or --rebuild containerize again', async () => {
    const s = standInProject(motoUrl)
    const first = await push(s, '--skip-disk-check')
    const platform = await push(s, '--skip-disk-check', '--bento-version', 'v2', '--platform', 'linux/arm64')
    expect(platform.json.contentDigest).not.toBe(first.json.contentDigest)
    expect(platform.json.reused).toBeNull()
    const rebuild = await push(s, '--skip-disk-check', '--bento-version', 'v3', '--rebuild')
    expect(rebuild.exitCode).toBe(0)
    expect(rebuild.json.contentDigest).toBe(first.json.contentDigest)
    expect(rebuild.json.reused).toBeNull()
    // Mutable repository: the content tag moves to the rebuilt image.
    expect(rebuild.json.contentTag).toBe(first.json.contentTag)
    const weights = await runCli(
      ['push', 'modelA/V1', '--skip-vpn-check', '--skip-disk-check', '--json', '--bento-version', 'v4'],
      {cwd: s.root, env: {...s.env, FAKE_WEIGHTS: 'other weights'}},
    )
    expect(JSON.parse(weights.stdout).contentDigest).not.toBe(first.json.contentDigest)
    expect(steps(s).filter((call) => call === 'python containerize')).toHaveLength(4)
  })

  it('a push that failed after containerize says so; the re-run pushes the local image without containerizing', async () => {
    const failing = standInProject(motoUrl, {FAKE_FAIL: 'push'})
    const first = await push(failing, '--skip-disk-check')
    expect(first.exitCode).toBe(8)
    // The error says so once (no warning repeating it), with the command to run again (issue 16 §4).
    expect(first.json.error!.hint).toMatch(
      /The image stays in the local podman engine \(content sha256:[a-f0-9]{64}\): run `mldeploy push modelA\/V1 --skip-vpn-check --json --skip-disk-check` again and it is pushed without containerizing\.$/,
    )
    expect(first.json.warnings.join('\n')).not.toContain('The image stays')
    const s = {...failing, env: {...failing.env, FAKE_FAIL: ''}}
    const before = s.bin.calls().length
    const second = await push(s, '--skip-disk-check', '--bento-version', 'v2')
    expect(second.exitCode).toBe(0)
    expect(second.json.reused).toMatchObject({source: 'local'})
    const calls = s.bin.calls().slice(before)
    expect(calls.map((call) => `${call.tool} ${call.step}`)).not.toContain('python containerize')
    const tag = calls.find((call) => call.step === 'tag')!
    expect(tag.argv).toEqual([
      'tag',
      'cccccccccccc'.slice(0, 11) + '1',
      expect.stringMatching(/modela\/v1:v2$/),
    ])
    expect(calls.filter((call) => call.step === 'push')).toHaveLength(1)
    expect(second.json.verified.map((each) => each.tag).sort()).toEqual(
      [second.json.contentTag!, 'latest', 'v2'].sort(),
    )
  })

  it('--rebuild in an IMMUTABLE repository leaves the content tag off when it names another image', async () => {
    const {CreateRepositoryCommand, ECRClient} = await import('@aws-sdk/client-ecr')
    const client = new ECRClient({
      region: 'us-east-1',
      endpoint: motoUrl,
      credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
    })
    await client.send(
      new CreateRepositoryCommand({repositoryName: 'frozen', imageTagMutability: 'IMMUTABLE'}),
    )
    client.destroy()
    const s = standInProject(motoUrl)
    const first = await push(s, '--skip-disk-check', '--repository', 'frozen', '--tag', 'one')
    expect(first.exitCode).toBe(0)
    const again = await push(
      s,
      '--skip-disk-check',
      '--repository',
      'frozen',
      '--tag',
      'two',
      '--bento-version',
      'v2',
    )
    // Without --rebuild the same content is reused (new tags only: the immutable ones stay).
    expect(again.json.reused).toMatchObject({source: 'repository', digest: first.json.digest})
    const rebuilt = await push(
      s,
      '--skip-disk-check',
      '--repository',
      'frozen',
      '--tag',
      'three',
      '--bento-version',
      'v3',
      '--rebuild',
    )
    expect(rebuilt.exitCode).toBe(0)
    expect(rebuilt.json.digest).not.toBe(first.json.digest)
    expect(rebuilt.json.contentTag).toBeNull()
    expect(rebuilt.json.warnings.join('\n')).toContain(
      `--rebuild: ${first.json.contentTag} already names ${first.json.digest} in the IMMUTABLE repository frozen`,
    )
  })

  it('the dry run says which checks will happen', async () => {
    const s = standInProject(motoUrl)
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--dry-run', '--offline'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain('Look for an image with the same content')
    expect(result.stdout).toContain(
      'Is content-<content-digest> already in the repository: ECR DescribeImages',
    )
    expect(result.stdout).toContain(
      "podman images --filter 'label=io.mldeploy.content-digest=<content-digest>'",
    )
    expect(result.stdout).toContain('only when the repository does not have it')
    expect(result.stdout).toMatch(/Disk check: free space for the BentoML store and the podman storage/)
    expect(s.bin.calls()).toEqual([])
  })

  it('the preflight measures the disk of the BentoML store and the backend storage', async () => {
    const s = standInProject(motoUrl, {BENTOML_HOME: path.join(tempDir('store'), 'bentoml')})
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(0)
    expect(result.stderr).toMatch(/ok +Disk: [\d.]+ GiB free for the BentoML store at .*bentoml/)
    expect(steps(s).slice(0, 3).sort()).toEqual(['podman images', 'podman info', 'python probe'])
  })
})

describe('roles with the push permissions only', () => {
  it("AWS's push policy: warnings name the denied reads, tags and verification go through BatchGetImage", async () => {
    const proxy = await startFaultProxy(motoUrl, grantOnly(PUSH_POLICY))
    proxies.push(proxy)
    const s = standInProject(proxy.url)
    const result = await push(s, '--skip-disk-check')
    expect(result.json.error).toBeUndefined()
    expect(result.exitCode).toBe(0)
    const warnings = result.json.warnings.join('\n')
    expect(warnings).toContain(
      'ecr:DescribeRepositories is denied: whether modela/v1 exists is learned from the upload, and the immutable-tag check is skipped.',
    )
    expect(warnings).toContain('ecr:DescribeImages is denied: the repository was not searched')
    expect(result.json.verification).toEqual({verified: true, by: 'ecr:BatchGetImage'})
    expect(result.json.verified.map((each) => each.tag).sort()).toEqual(
      [result.json.contentTag!, 'f3k2qyq5lsoaaaab', 'latest'].sort(),
    )
    for (const each of result.json.verified) expect(each.digest).toBe(result.json.digest)
    // Verify described what it ran once DescribeImages was known to be denied. Issue 23: one
    // BatchGetImage for the three tags (they name one image), as the tag step's one read of what
    // its two tags pointed at (which BatchGetImage tells, where DescribeImages was denied).
    expect(stepOf(result.json, 'verify').ran).toEqual(['aws:ecr:BatchGetImage'])
    expect(
      stepOf(result.json, 'verify').described!.actions.map((action) => [action.calls, action.when]),
    ).toEqual([
      [['aws:ecr:BatchGetImage'], undefined],
      [
        ['aws:ecr:BatchGetImage'],
        'the answer names an image by another of its tags and holds several images',
      ],
    ])
    expect(stepOf(result.json, 'tag').ran).toEqual([
      'aws:ecr:BatchGetImage',
      'aws:ecr:PutImage',
      'aws:ecr:PutImage',
    ])
    expect(result.json.tagChanges.map((each) => each.change)).toEqual(['created', 'created'])
  })

  it('without BatchGetImage: the other tags go through podman push (the manifest only), verified: false names the permission', async () => {
    const proxy = await startFaultProxy(
      motoUrl,
      grantOnly(PUSH_POLICY.filter((operation) => operation !== 'BatchGetImage')),
    )
    proxies.push(proxy)
    const s = standInProject(proxy.url)
    const result = await push(s, '--skip-disk-check')
    expect(result.exitCode).toBe(0)
    const registry = '123456789012.dkr.ecr.us-east-1.amazonaws.com/modela/v1'
    const pushes = s.bin.calls().filter((call) => call.step === 'push')
    expect(pushes.map((call) => call.argv.slice(-2).join(' '))).toEqual([
      expect.stringMatching(/digest-0 .*:f3k2qyq5lsoaaaab$/),
      `${registry}:f3k2qyq5lsoaaaab ${registry}:latest`,
      `${registry}:f3k2qyq5lsoaaaab ${registry}:${result.json.contentTag}`,
    ])
    expect(result.json.verification).toEqual({
      verified: false,
      by: null,
      missingPermission: 'ecr:BatchGetImage (or ecr:DescribeImages)',
    })
    expect(result.json.verified).toEqual([])
    expect(result.json.warnings.join('\n')).toContain('The tags were not verified')
    const text = await runCli(
      ['push', 'modelA/V1', '--skip-vpn-check', '--skip-disk-check', '--bento-version', 'v2'],
      {
        cwd: s.root,
        env: s.env,
      },
    )
    expect(text.exitCode).toBe(0)
    expect(text.stdout).toContain(
      'tags not verified (ecr:BatchGetImage (or ecr:DescribeImages) would verify them)',
    )
  })
})
