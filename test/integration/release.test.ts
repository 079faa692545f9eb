import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {beforeEach, describe, expect, inject, it} from 'vitest'

import {createImmutableRepository, createRepository, describeRepository, seedImage} from '../helpers/aws.js'
import {runCli, standInProject, tempDir} from '../helpers/cli.js'
import {MOTO_PASSWORD, resetMoto} from '../helpers/moto.js'

// The release workflow features against moto (ECR's API) with the recording stand-ins; the
// stand-in push stores its manifest in moto, so tagging and verification go through real calls.
const motoUrl = inject('motoUrl')

function setup(extraEnv: Record<string, string> = {}) {
  return standInProject(motoUrl, extraEnv)
}

/** The rules of a repository's lifecycle policy in moto; null when it has none. */
async function lifecycleRules(repositoryName: string): Promise<unknown[] | null> {
  const {ECRClient, GetLifecyclePolicyCommand} = await import('@aws-sdk/client-ecr')
  const client = new ECRClient({
    region: 'us-east-1',
    endpoint: motoUrl,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  })
  try {
    const out = await client.send(new GetLifecyclePolicyCommand({repositoryName}))
    return (JSON.parse(out.lifecyclePolicyText ?? '{}') as {rules: unknown[]}).rules
  } catch (error) {
    if ((error as Error).name === 'LifecyclePolicyNotFoundException') return null
    throw error
  } finally {
    client.destroy()
  }
}

beforeEach(async () => {
  await resetMoto(motoUrl)
})

describe('repositories', () => {
  it('--create-repository creates a missing one before the long steps, with its settings', async () => {
    const s = setup()
    const result = await runCli(
      [
        'push',
        'modelA/V1',
        '--skip-vpn-check',
        '--json',
        '--create-repository',
        '--image-tag-mutability',
        'IMMUTABLE',
      ],
      {cwd: s.root, env: s.env},
    )
    expect(result.exitCode).toBe(0)
    expect(JSON.parse(result.stdout).repositoryCreated).toBe(true)
    const repository = await describeRepository(motoUrl, 'modela/v1')
    expect(repository?.imageTagMutability).toBe('IMMUTABLE')
    expect(repository?.imageScanningConfiguration?.scanOnPush).toBe(true)
    // With the default lifecycle policy: the push's tag and the deployment tags kept first.
    const rules = (await lifecycleRules('modela/v1')) as Array<{selection: {tagPatternList?: string[]}}>
    expect(rules.map((rule) => rule.selection.tagPatternList?.[0] ?? 'untagged')).toEqual([
      'latest',
      'production',
      'staging',
      'stable',
      'content-*',
      'untagged',
    ])
    const preflight = JSON.parse(result.stdout).steps.find((step: {id: string}) => step.id === 'preflight')
    expect(preflight.ran).toContain('aws:ecr:PutLifecyclePolicy')
  })

  it('--no-lifecycle-policy (or MLDEPLOY_LIFECYCLE_POLICY=false) creates the repository without one', async () => {
    const s = setup({MLDEPLOY_LIFECYCLE_POLICY: 'false'})
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--json', '--create-repository'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode, result.stderr).toBe(0)
    expect(await lifecycleRules('modela/v1')).toBeNull()
    const preflight = JSON.parse(result.stdout).steps.find((step: {id: string}) => step.id === 'preflight')
    expect(preflight.ran).not.toContain('aws:ecr:PutLifecyclePolicy')
  })

  it("the dry run's plan names the PutLifecyclePolicy call and what the policy keeps, and makes none", async () => {
    const s = setup({MLDEPLOY_TAGS: 'candidate'})
    const result = await runCli(
      ['push', 'modelA/V1', '--skip-vpn-check', '--dry-run', '--create-repository'],
      {cwd: s.root, env: s.env},
    )
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stdout).toContain(
      'Attach the default lifecycle policy to it (keeps the images tagged candidate, latest, production, staging, stable and the 30 newest content-* images, expires older ones and untagged ones after 14 days): ECR PutLifecyclePolicy',
    )
    expect(await describeRepository(motoUrl, 'modela/v1').catch(() => undefined)).toBeUndefined()
  })

  it('--image-tag-mutability without --create-repository is a usage error', async () => {
    const s = setup()
    const result = await runCli(['push', 'modelA/V1', '--image-tag-mutability', 'IMMUTABLE'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toContain('--image-tag-mutability only applies with --create-repository')
  })

  it('an immutable repository that already has a tag fails the preflight naming the tag', async () => {
    await createImmutableRepository(motoUrl, 'modela/v1')
    const digest = await seedImage(motoUrl, 'modela/v1', 'latest')
    const s = setup()
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(3)
    expect(result.stderr).toContain(
      `Error: Tag latest already exists in the immutable repository modela/v1 (image ${digest}).`,
    )
    expect(s.bin.calls().map((call) => call.step)).not.toContain('import')
  })

  it('an immutable repository with new tags pushes once and tags without upload', async () => {
    await createImmutableRepository(motoUrl, 'modela/v1')
    const s = setup()
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--json', '--tag', 'v1.0.0'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(0)
    expect(s.bin.calls().filter((call) => call.step === 'push')).toHaveLength(1)
    // Issue 12: the content tag is added (and verified) like the other extra tags.
    const json = JSON.parse(result.stdout)
    expect(json.verified.map((each: {tag: string}) => each.tag)).toEqual([
      'v1.0.0',
      'f3k2qyq5lsoaaaab',
      json.contentTag,
    ])
  })
})

describe('tags', () => {
  it('N tags cost one upload: five tags, one push, all verified at one digest', async () => {
    await createRepository(motoUrl, 'modela/v1')
    const s = setup()
    const tags = ['latest', 'stable', 'v1', 'v1.2', 'candidate']
    const result = await runCli(
      ['push', 'modelA/V1', '--skip-vpn-check', '--json', ...tags.flatMap((tag) => ['--tag', tag])],
      {cwd: s.root, env: s.env},
    )
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(s.bin.calls().filter((call) => call.step === 'push')).toHaveLength(1)
    // Five tags, the bento version and the content tag (issue 12).
    expect(json.verified).toHaveLength(7)
    expect(new Set(json.verified.map((each: {digest: string}) => each.digest))).toEqual(
      new Set([json.digest]),
    )
    expect(json.pushed).toHaveLength(7)
  })

  it('--git-sha-tag adds the project commit', async () => {
    await createRepository(motoUrl, 'modela/v1')
    const s = setup()
    const git = (...args: string[]) =>
      execa('git', args, {
        cwd: s.root,
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@t',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@t',
        },
      })
    await git('init', '-q')
    await git('add', '.')
    await git('commit', '-qm', 'x')
    const sha = (await git('rev-parse', '--short=12', 'HEAD')).stdout.trim()
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--json', '--git-sha-tag'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.verified.map((each: {tag: string}) => each.tag)).toEqual([
      'latest',
      sha,
      'f3k2qyq5lsoaaaab',
      json.contentTag,
    ])
  })

  it('--git-sha-tag outside a git checkout is a usage error', async () => {
    const s = setup()
    const result = await runCli(['push', 'modelA/V1', '--git-sha-tag', '--dry-run'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toMatch(/--git-sha-tag: .* is not a git checkout with a commit/)
  })

  it('moves an existing mutable tag to the new image', async () => {
    await createRepository(motoUrl, 'modela/v1')
    // The stand-in push uploads its manifest, then something else moves latest before verify.
    const s = setup()
    const other = await seedImage(motoUrl, 'modela/v1', 'latest')
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--json', '--tag', 'latest'], {
      cwd: s.root,
      env: s.env,
    })
    // The tag step moves latest to the pushed image: verify then passes; the seeded image is untouched.
    expect(result.exitCode).toBe(0)
    expect(JSON.parse(result.stdout).verified[0].digest).not.toBe(other)
  })
})

describe('many targets', () => {
  function twoTargets(env: Record<string, string> = {}) {
    const s = setup(env)
    const other = path.join(s.root, 'deploy/modelB/V2')
    mkdirSync(other, {recursive: true})
    writeFileSync(path.join(other, 'create_bento_model.py'), '')
    writeFileSync(path.join(other, 'service.py'), '')
    return s
  }

  it('pushes several targets at once, each with its own result', async () => {
    await createRepository(motoUrl, 'modela/v1')
    await createRepository(motoUrl, 'modelb/v2')
    const s = twoTargets()
    const result = await runCli(
      ['push', 'modelA/V1', 'modelB/V2', '--skip-vpn-check', '--json', '--concurrency', '2'],
      {
        cwd: s.root,
        env: s.env,
      },
    )
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(
      json.targets.map((each: {target: string; status: string}) => `${each.target}:${each.status}`),
    ).toEqual(['modelA/V1:pushed', 'modelB/V2:pushed'])
    expect(json.targets[1].images[0]).toMatch(/modelb\/v2:latest$/)
    // Output lines say which target they belong to.
    expect(result.stderr).toContain('[modelB/V2] Build the bento')
  })

  it('one failing target does not hide the others; the exit code says something failed', async () => {
    await createRepository(motoUrl, 'modela/v1')
    const s = twoTargets({GITHUB_ACTIONS: 'true'})
    const result = await runCli(['push', '--all', '--skip-vpn-check', '--json'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(3)
    const json = JSON.parse(result.stdout)
    expect(json.status).toBe('failed')
    expect(json.error.message).toMatch(
      /^1 of 2 targets failed; first: modelB\/V2: ECR repository modelb\/v2 does not exist/,
    )
    expect(
      json.targets.map((each: {target: string; status: string}) => `${each.target}:${each.status}`),
    ).toEqual(['modelA/V1:pushed', 'modelB/V2:failed'])
    expect(json.targets[0].verified).toHaveLength(3)
    // In GitHub Actions, one annotation per failed target, named after it.
    expect(result.stderr.match(/^::error .*$/gm)).toEqual([
      expect.stringMatching(
        /^::error title=mldeploy preflight::modelB\/V2: ECR repository modelb\/v2 does not exist/,
      ),
    ])
  })

  it('refuses targets together with --all, and --all in a project without targets', async () => {
    const s = setup()
    const both = await runCli(['push', 'modelA/V1', '--all'], {cwd: s.root, env: s.env})
    expect(both.exitCode).toBe(2)
    expect(both.stderr).toContain('Give targets or --all, not both.')
  })
})

describe('GitHub Actions', () => {
  it('push writes step outputs and a summary; a failure is an ::error annotation', async () => {
    await createRepository(motoUrl, 'modela/v1')
    const dir = tempDir('gha')
    const outputs = path.join(dir, 'output')
    const summary = path.join(dir, 'summary')
    const s = setup({GITHUB_OUTPUT: outputs, GITHUB_STEP_SUMMARY: summary, GITHUB_ACTIONS: 'true'})
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--json'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    const written = readFileSync(outputs, 'utf8')
    expect(written).toContain(`digest=${json.digest}\n`)
    expect(written).toContain(`image=${json.images[0]}\n`)
    expect(written).toContain(`bento-tag=${json.bentoTag}\n`)
    expect(readFileSync(summary, 'utf8')).toContain('modelA/V1')
    expect(written + readFileSync(summary, 'utf8')).not.toContain(MOTO_PASSWORD)

    const failed = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--repository', 'absent'], {
      cwd: s.root,
      env: s.env,
    })
    expect(failed.exitCode).toBe(3)
    expect(failed.stderr).toMatch(/^::error title=mldeploy[^:]*::ECR repository absent does not exist/m)
  })
})
