import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {REPO_ROOT, runCli, standInProject, tempDir} from '../helpers/cli.js'
import {resetMoto} from '../helpers/moto.js'

// A team's rollout as a new user does it: a template project in git with GitHub's Python
// .gitignore, a hand-edited ecr.sh, mldeploy migrate, a commit, then what a CI clone sees
// (committed files only, CI's ambient AWS_REGION, no TTY). Real git, the real CLI, moto for AWS.
const motoUrl = inject('motoUrl')
const TARGET = 'deploy/modelA/V1'

/** The lines of GitHub's standard Python .gitignore that matter here (it ignores `.env`). */
const PYTHON_GITIGNORE = ['__pycache__/', '*.py[cod]', '.env', '.venv', 'env/', 'venv/', ''].join('\n')

/** ecr.sh as the user had edited it: another repository, region and tag, and a platform. */
const EDITED_ECR_SH = readFileSync(path.join(REPO_ROOT, 'test/fixtures/ecr/template-ecr.sh'), 'utf8')
  .replace('REGION="us-east-1"', 'REGION="us-east-2"')
  .replace('ECR_NAME="<ECR-NAME>"', 'ECR_NAME="detector"')
  .replace('ECR_TAG="latest"', 'ECR_TAG="staging"')
  .replace('--backend "$BACKEND" \\', '--backend "$BACKEND" \\\n    --opt platform=linux/amd64 \\')

async function git(cwd: string, ...args: string[]): Promise<string> {
  const result = await execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd,
    env: {GIT_CONFIG_NOSYSTEM: '1', HOME: cwd},
  })
  return result.stdout
}

/** A template project in git, ecr.sh edited, everything committed. */
async function templateRepo(files: Record<string, string> = {}) {
  const s = standInProject(motoUrl, {}, {'.gitignore': PYTHON_GITIGNORE, ...files})
  writeFileSync(path.join(s.root, TARGET, 'ecr.sh'), EDITED_ECR_SH)
  await git(s.root, 'init', '-q')
  await git(s.root, 'add', '-A')
  await git(s.root, 'commit', '-qm', 'template project')
  return s
}

beforeEach(async () => {
  await resetMoto(motoUrl)
})

describe('a migrated project in a CI clone', () => {
  it('resolves the repository, region, tag and platform ecr.sh had, over CI ambient AWS_REGION', async () => {
    const s = await templateRepo()
    const migrated = await runCli(['migrate', 'modelA/V1', '--json'], {cwd: s.root, env: s.env})
    expect(migrated.exitCode).toBe(0)
    expect(JSON.parse(migrated.stdout).warnings).toEqual([])
    // The settings land in a file git sees (not ignored): the user commits it.
    expect(await git(s.root, 'status', '--porcelain')).toBe(`?? ${TARGET}/mldeploy.yaml`)
    await git(s.root, 'add', '-A')
    await git(s.root, 'commit', '-qm', 'mldeploy migrate')

    const clone = path.join(tempDir('clone'), 'project')
    await git(path.dirname(clone), 'clone', '-q', s.root, clone)
    await createRepository(motoUrl, 'detector', 'us-east-2')
    // As configure-aws-credentials leaves every job: AWS_REGION=us-east-1 (motoEnv sets it).
    expect(s.env.AWS_REGION).toBe('us-east-1')
    const dry = await runCli(['push', 'modelA/V1', '--dry-run', '--skip-vpn-check', '--json'], {
      cwd: clone,
      env: {...s.env, CI: 'true'},
    })
    expect(dry.exitCode, dry.stderr).toBe(0)
    const plan = JSON.parse(dry.stdout)
    expect(plan.settings.repository).toEqual({
      value: 'detector',
      source: `${TARGET}/mldeploy.yaml repository`,
    })
    expect(plan.settings.region).toEqual({value: 'us-east-2', source: `${TARGET}/mldeploy.yaml region`})
    expect(plan.settings.tags.value).toEqual(['staging'])
    expect(plan.settings.platform.value).toBe('linux/amd64')
    expect(plan.images[0]).toMatch(/^123456789012\.dkr\.ecr\.us-east-2\.amazonaws\.com\/detector:staging$/)
    // Said in the output and in --json, with both values and their sources.
    const shadow =
      'modelA/V1: Region us-east-2 (from deploy/modelA/V1/mldeploy.yaml region) is used, not us-east-1 (from env AWS_REGION)'
    expect(dry.stderr).toContain(shadow)
    expect(plan.warnings).toEqual(expect.arrayContaining([expect.stringContaining(shadow)]))
    // The explicit override wins, and says what it overrode.
    const overridden = await runCli(
      ['push', 'modelA/V1', '--dry-run', '--offline', '--json', '--account-id', '123456789012'],
      {cwd: clone, env: {...s.env, MLDEPLOY_REGION: 'eu-west-1'}},
    )
    expect(JSON.parse(overridden.stdout).settings.region).toEqual({
      value: 'eu-west-1',
      source: 'env MLDEPLOY_REGION',
    })
    expect(overridden.stderr).toContain(
      'Region eu-west-1 (from env MLDEPLOY_REGION) overrides us-east-2 (from deploy/modelA/V1/mldeploy.yaml region)',
    )
  })

  it('names settings that only a git-ignored .env holds, once, with the fix; a local override of a committed one is fine', async () => {
    const s = await templateRepo({
      [`${TARGET}/mldeploy.yaml`]: 'repository: detector\nregion: us-east-2\n',
      [`${TARGET}/.env`]: 'MLDEPLOY_REPOSITORY=my-own\nMLDEPLOY_BACKEND=docker\nMLFLOW_TRACKING_URI=\n',
    })
    await createRepository(motoUrl, 'my-own', 'us-east-2')
    const dry = await runCli(['push', 'modelA/V1', '--dry-run', '--skip-vpn-check'], {
      cwd: s.root,
      env: s.env,
    })
    expect(dry.exitCode, dry.stderr).toBe(0)
    const warning =
      "deploy/modelA/V1/.env is ignored by git, and modelA/V1's MLDEPLOY_BACKEND come from it: a CI clone will resolve other values. Move them to deploy/modelA/V1/mldeploy.yaml and commit it (keep .env for secrets and local overrides)."
    expect(dry.stderr.split(warning)).toHaveLength(2)
    expect(dry.stderr).not.toMatch(/MLDEPLOY_REPOSITORY.*come from it/)
    // doctor says the same.
    const doctor = await runCli(['doctor', 'modelA/V1', '--json', '--skip-vpn-check'], {
      cwd: s.root,
      env: s.env,
    })
    const project = JSON.parse(doctor.stdout).checks.find((check: {id: string}) => check.id === 'project')
    expect(project.message).toContain(warning)
    // So does list, which CI runs first to make its matrix.
    const list = await runCli(['list', '--json'], {cwd: s.root, env: s.env})
    expect(JSON.parse(list.stdout).warnings).toContain(warning)
    // --offline runs no child: git is not asked, and nothing is said.
    const offline = await runCli(
      ['push', 'modelA/V1', '--dry-run', '--offline', '--account-id', '123456789012'],
      {cwd: s.root, env: s.env},
    )
    expect(offline.exitCode).toBe(0)
    expect(offline.stderr).not.toContain('ignored by git')
  })

  it('migrate says so when git ignores the settings file it writes', async () => {
    const s = await templateRepo({'.gitignore': `${PYTHON_GITIGNORE}mldeploy.yaml\n`})
    const result = await runCli(['migrate', 'modelA/V1', '--json'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.warnings).toEqual([
      `git ignores ${TARGET}/mldeploy.yaml: modelA/V1's migrated settings will not reach CI or other clones. Stop ignoring it (git check-ignore -v ${TARGET}/mldeploy.yaml names the rule) and commit it.`,
    ])
    expect(json.targets[0].ignoredByGit).toBe(true)
    expect(result.stderr).toContain(`Warning: git ignores ${TARGET}/mldeploy.yaml`)
    expect(existsSync(path.join(s.root, TARGET, 'mldeploy.yaml'))).toBe(true)
  })

  it("an unmigrated target's missing repository names ecr.sh's repository and mldeploy migrate", async () => {
    const s = await templateRepo()
    const dry = await runCli(['push', 'modelA/V1', '--dry-run', '--skip-vpn-check', '--json'], {
      cwd: s.root,
      env: s.env,
    })
    expect(dry.exitCode).toBe(3)
    const error = JSON.parse(dry.stdout).error
    expect(error.message).toBe(
      'ECR repository modela/v1 does not exist in account 123456789012, region us-east-1.',
    )
    expect(error.hint).toBe(
      "modelA/V1's ecr.sh pushes to detector, not modela/v1 (derived from modelA/V1): run mldeploy migrate modelA/V1 to carry its settings over, rather than --create-repository.",
    )
    // The real run fails the same way before any build, and creates nothing.
    const push = await runCli(['push', 'modelA/V1', '--skip-vpn-check'], {cwd: s.root, env: s.env})
    expect(push.exitCode).toBe(3)
    expect(push.stderr).toContain('run mldeploy migrate modelA/V1')
    expect(push.stderr).not.toContain('Create it with --create-repository')
    expect(readFileSync(s.bin.log, 'utf8')).not.toMatch(/bentoml build|containerize/)
  })
})
