import {copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {baseEnv, makeProject, REPO_ROOT, runCli, standInProject, tempDir} from '../helpers/cli.js'
import {resetMoto} from '../helpers/moto.js'

// Adoption: migrate from ecr.sh, the warnings that point at it, root causes of Python failures,
// suggestions, the target from the working directory, version, --git-sha-tag on a dirty tree.
const motoUrl = inject('motoUrl')
const ECR = path.join(REPO_ROOT, 'test/fixtures/ecr')
const PYTHON = path.join(REPO_ROOT, 'test/fixtures/python')
const TARGET = 'deploy/modelA/V1'

function withEcrSh(root: string, fixture: string, target = TARGET): void {
  copyFileSync(path.join(ECR, fixture), path.join(root, target, 'ecr.sh'))
}

const cli = (root: string, args: string[], env = baseEnv(), cwd = root) => runCli(args, {cwd, env})

beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
})

describe('mldeploy migrate', () => {
  it('writes the edited ecr.sh settings into mldeploy.yaml, and push then resolves them', async () => {
    const root = makeProject()
    withEcrSh(root, 'edited-ecr.sh')
    const result = await cli(root, ['migrate', 'modelA/V1'])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain('wrote  repository: detector  (from ECR_NAME, line 5)')
    expect(result.stdout).toContain('wrote  backend: docker')
    const settings = readFileSync(path.join(root, TARGET, 'mldeploy.yaml'), 'utf8')
    expect(settings).toMatch(/^region: eu-west-1$/m)
    expect(settings).toMatch(/^repository: detector$/m)
    expect(existsSync(path.join(root, TARGET, '.env'))).toBe(false)
    const list = await cli(root, ['list', '--json'])
    const listed = JSON.parse(list.stdout)
    expect(listed.targets[0]).toMatchObject({repository: 'detector', backend: 'docker'})
    // ecr.sh and mldeploy now agree: no warning.
    expect(listed.warnings).toEqual([])
  })

  it("--dry-run shows the mldeploy.yaml diff for the template's own ecr.sh and writes nothing", async () => {
    const root = makeProject()
    withEcrSh(root, 'template-ecr.sh')
    const result = await cli(root, ['migrate', '--all', '--dry-run'])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain('--- /dev/null\n+++ b/deploy/modelA/V1/mldeploy.yaml\n@@ -0,0 +1,6 @@')
    expect(result.stdout).toContain('+backend: podman')
    expect(result.stdout).toContain("is still the template's placeholder <ECR-NAME>")
    expect(existsSync(path.join(root, TARGET, 'mldeploy.yaml'))).toBe(false)
  })

  it('--json lists every translation, kept values and untranslated lines; never overwrites', async () => {
    const root = makeProject({[`${TARGET}/mldeploy.yaml`]: 'tag: [candidate]\n'})
    withEcrSh(root, 'custom-ecr.sh')
    const result = await cli(root, ['migrate', 'modelA/V1', '--json'])
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.status).toBe('migrated')
    expect(json.targets[0].translations).toEqual([
      {from: 'REGION, line 3', key: 'region', value: 'us-east-1', outcome: 'written'},
      {from: 'AWS_ACCOUNT_ID, line 4', key: 'account-id', value: '123456789012', outcome: 'written'},
      {from: 'ECR_NAME, line 5', key: 'repository', value: 'churn/model-a', outcome: 'written'},
      {from: 'ECR_TAG, line 6', key: 'tag', value: 'stable', outcome: 'kept'},
      {from: 'BACKEND, line 7', key: 'backend', value: 'podman', outcome: 'written'},
      {
        from: '--opt platform=linux/amd64, line 46',
        key: 'platform',
        value: 'linux/amd64',
        outcome: 'written',
      },
      {
        from: 'aws ecr create-repository --repository-name "$ECR_NAME" --region "$REGION" || true, line 65',
        key: 'create-repository',
        value: 'true',
        outcome: 'written',
      },
    ])
    expect(json.targets[0].kept).toEqual([{key: 'tag', existing: 'candidate', ecrSh: 'stable'}])
    expect(json.targets[0].untranslated.map((each: {line: number}) => each.line)).toEqual([67])
    expect(readFileSync(path.join(root, TARGET, 'mldeploy.yaml'), 'utf8')).toMatch(
      /^tag: \[candidate\]\n\n# From/,
    )
    // The platform reached push: the plan containerizes for it.
    const plan = await cli(root, ['push', 'modelA/V1', '--dry-run', '--offline', '--json'])
    expect(JSON.parse(plan.stdout).settings.platform).toEqual({
      value: 'linux/amd64',
      source: 'deploy/modelA/V1/mldeploy.yaml platform',
    })
  })

  it('takes the target from the working directory, and says what is missing elsewhere', async () => {
    const root = makeProject()
    withEcrSh(root, 'edited-ecr.sh')
    const inside = await cli(root, ['migrate', '--dry-run'], baseEnv(), path.join(root, TARGET))
    expect(inside.exitCode).toBe(0)
    expect(inside.stdout).toContain(
      'modelA/V1: deploy/modelA/V1/ecr.sh -> deploy/modelA/V1/mldeploy.yaml (dry run',
    )
    const outside = await cli(root, ['migrate'])
    expect(outside.exitCode).toBe(2)
    expect(outside.stderr).toContain('Missing target')
  })
})

describe('warnings that point at ecr.sh and at .env typos', () => {
  it('push names both values and mldeploy migrate, in the output and in --json', async () => {
    const s = standInProject(motoUrl, {}, {[`${TARGET}/.env`]: 'MLDEPLOY_BACKNED=docker\n'})
    withEcrSh(s.root, 'edited-ecr.sh')
    const result = await runCli(['push', 'modelA/V1', '--dry-run', '--skip-vpn-check', '--json'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(0)
    expect(result.stderr).toContain(
      'modelA/V1 holds an ecr.sh that disagrees with mldeploy: repository detector in ecr.sh, modela/v1 here (derived from modelA/V1); backend docker in ecr.sh, podman here (default). Run mldeploy migrate modelA/V1',
    )
    expect(result.stderr).toContain(
      'deploy/modelA/V1/.env: unknown setting MLDEPLOY_BACKNED (did you mean MLDEPLOY_BACKEND?), ignored.',
    )
    expect(JSON.parse(result.stdout).warnings).toEqual(
      expect.arrayContaining([expect.stringContaining('mldeploy migrate modelA/V1')]),
    )
  })

  it('list warns about ecr.sh, AWS key typos and two targets on one repository', async () => {
    const root = makeProject({
      'deploy/modelB/V1/create_bento_model.py': '',
      'deploy/modelB/V1/service.py': '',
      'deploy/modelB/V1/.env': 'MLDEPLOY_REPOSITORY=modela/v1\nAWS_REGOIN=eu-west-1\nAWS_CA_BUNDLE=/x.pem\n',
    })
    withEcrSh(root, 'edited-ecr.sh')
    const result = await cli(root, ['list'])
    expect(result.exitCode).toBe(0)
    expect(result.stderr).toContain('modelA/V1 holds an ecr.sh that disagrees')
    expect(result.stderr).toContain('modelA/V1 and modelB/V1 resolve to the same repository modela/v1')
    expect(result.stderr).toContain('unknown AWS variable AWS_REGOIN; did you mean AWS_REGION?')
    // AWS variables other tools read (boto3's AWS_CA_BUNDLE) are not flagged.
    expect(result.stderr).not.toContain('AWS_CA_BUNDLE')
  })

  it('doctor warns about a git-ignored .env and an ecr.sh that disagrees', async () => {
    const root = makeProject({[`${TARGET}/.env`]: 'MLDEPLOY_TAGS=latest\n', '.gitignore': '.env\n'})
    withEcrSh(root, 'edited-ecr.sh')
    await execa('git', ['init', '-q'], {cwd: root})
    const result = await cli(
      root,
      ['doctor', '--json', '--timeout', '10'],
      {
        ...baseEnv(),
        MLDEPLOY_PYTHON: '/nonexistent/python',
      },
      path.join(root, TARGET),
    )
    const json = JSON.parse(result.stdout)
    // The target came from the working directory.
    expect(json.target).toBe('modelA/V1')
    const project = json.checks.find((check: {id: string}) => check.id === 'project')
    expect(project.status).toBe('warn')
    expect(project.message).toContain('deploy/modelA/V1/.env is ignored by git')
    expect(project.message).toContain('repository detector in ecr.sh, modela/v1 here')
  })
})

describe('errors that name the real cause', () => {
  function failing(step: string, fixture: string) {
    // A long log first: the cause is far above the child runner's 40-line tail.
    const output = path.join(tempDir('output'), 'out.txt')
    const noise = Array.from({length: 300}, (_, i) => `INFO mlflow: downloading part ${i}`).join('\n')
    writeFileSync(output, `${noise}\n${readFileSync(path.join(PYTHON, fixture), 'utf8')}`)
    return standInProject(motoUrl, {FAKE_FAIL: step, FAKE_FAIL_OUTPUT: output})
  }

  it('an import that fails on a missing MLflow model says so, not UnboundLocalError (exit 4)', async () => {
    const s = failing('import', 'import-model-not-found.txt')
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(4)
    const error = result.stderr.split('\n').find((line) => line.startsWith('Error:'))
    expect(error).toContain(
      'Importing the model (create_bento_model.py) failed (exit code 1): MLflow: RESOURCE_DOES_NOT_EXIST: Registered Model with name=churn not found',
    )
    expect(error).toContain('create_bento_model.py, line 19')
    expect(error).toContain('MLFLOW_TRACKING_URI')
  })

  it('a build that fails on a SyntaxError names service.py and the line (exit 5)', async () => {
    const s = failing('build', 'build-syntax-error.txt')
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--json'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(5)
    expect(JSON.parse(result.stdout).error.message).toMatch(
      /^bentoml build failed \(exit code 1\): SyntaxError: invalid syntax \(.*service\.py, line 56\)$/,
    )
  })
})

describe('habits', () => {
  it('suggests the target with the right case instead of init', async () => {
    const root = makeProject()
    const result = await cli(root, ['promote', 'modelA/v1', '--from', 'a', '--to', 'b'])
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toContain('Did you mean modelA/V1?')
    expect(result.stderr).not.toContain('mldeploy init')
  })

  it('push with no target or `.` inside a target folder (or deeper) means that target', async () => {
    const s = standInProject(motoUrl)
    const deeper = path.join(s.root, TARGET, 'data')
    mkdirSync(deeper)
    for (const args of [[], ['.']]) {
      const result = await runCli(['push', ...args, '--dry-run', '--skip-vpn-check', '--json'], {
        cwd: deeper,
        env: s.env,
      })
      expect(result.exitCode, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout).target).toBe('modelA/V1')
    }
    const atRoot = await runCli(['push', '.', '--dry-run'], {cwd: s.root, env: s.env})
    expect(atRoot.exitCode).toBe(2)
    expect(atRoot.stderr).toContain('is not inside a deploy/<model>/<version>/ folder')
  })

  it('mldeploy version says what --version says', async () => {
    const root = tempDir('version')
    const plain = await cli(root, ['version'])
    expect(plain.stdout).toBe((await cli(root, ['--version'])).stdout)
    expect(plain.stdout).toMatch(/^mldeploy\/\d+\.\d+\.\d+ /)
    // Through oclif (another flag defeats the fast path): the same line.
    expect((await cli(root, ['version', '--verbose'])).stdout).toBe(plain.stdout)
    expect(JSON.parse((await cli(root, ['version', '--json'])).stdout)).toEqual(
      JSON.parse((await cli(root, ['--version', '--json'])).stdout),
    )
  })

  it('--git-sha-tag with uncommitted changes in the target is refused (exit 2)', async () => {
    const s = standInProject(motoUrl)
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
    writeFileSync(path.join(s.root, TARGET, 'service.py'), 'import bentoml  # edited\n')
    const result = await runCli(['push', 'modelA/V1', '--git-sha-tag', '--skip-vpn-check'], {
      cwd: s.root,
      env: s.env,
    })
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toMatch(
      /Error: --git-sha-tag: deploy\/modelA\/V1 has uncommitted changes, so commit [0-9a-f]{12} is not what the image would hold\./,
    )
    expect(s.bin.calls().filter((call) => call.step !== 'probe')).toEqual([])
  })
})
