import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

import {baseEnv, runCli, tempDir} from '../helpers/cli.js'

// The real CLI as a process: init writes a target, then push --dry-run --offline plans it.
function project(): string {
  const root = tempDir('init')
  mkdirSync(path.join(root, 'deploy'))
  return root
}

const env = baseEnv()
const init = (root: string, ...args: string[]) => runCli(['init', ...args], {cwd: root, env})

function listTree(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, {recursive: true, encoding: 'utf8'}).sort()
}

describe('mldeploy init', () => {
  it('scaffolds a target that push --dry-run --offline plans, with its mldeploy.yaml settings in force', async () => {
    const root = project()
    const result = await init(
      root,
      'modelA/V1',
      '--model-uri',
      'runs:/0a1b2c3d/model',
      '--columns',
      'sepal_length,sepal_width',
      '--repository',
      'team/model-a',
      '--backend',
      'docker',
    )
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain('Created deploy/modelA/V1/ (BentoML model modela-v1):')
    expect(result.stdout).toContain('mldeploy doctor modelA/V1')
    expect(result.stdout).toContain('mldeploy push modelA/V1 --dry-run')
    // A new target does not pass "as it is": the repository may not exist yet.
    expect(result.stdout).toContain('--create-repository')
    const dir = path.join(root, 'deploy/modelA/V1')
    expect(listTree(dir)).toEqual([
      'common.py',
      'create_bento_model.py',
      'example_input.csv',
      'mldeploy.yaml',
      'service.py',
    ])
    expect(readFileSync(path.join(dir, 'example_input.csv'), 'utf8')).toBe('sepal_length,sepal_width\n0,0\n')

    const push = await runCli(
      ['push', 'modelA/V1', '--dry-run', '--offline', '--json', '--account-id', '123456789012'],
      {
        cwd: root,
        env,
      },
    )
    expect(push.exitCode).toBe(0)
    const plan = JSON.parse(push.stdout)
    expect(plan.status).toBe('planned')
    expect(plan.settings.repository).toEqual({
      value: 'team/model-a',
      source: 'deploy/modelA/V1/mldeploy.yaml repository',
    })
    expect(plan.settings.backend).toEqual({value: 'docker', source: 'deploy/modelA/V1/mldeploy.yaml backend'})
  })

  it('writes Python that parses', async () => {
    const root = project()
    expect((await init(root, 'm/V1', '--columns', 'a b,c')).exitCode).toBe(0)
    const dir = path.join(root, 'deploy/m/V1')
    for (const file of ['create_bento_model.py', 'common.py', 'service.py']) {
      const check = await execa(
        'python3',
        ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read())', path.join(dir, file)],
        {
          reject: false,
        },
      )
      expect(check.exitCode, `${file}: ${check.stderr}`).toBe(0)
    }
  })

  it('--dry-run lists the files and writes nothing; --json is one object', async () => {
    const root = project()
    const result = await init(root, 'modelA/V1', '--dry-run', '--json')
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json).toMatchObject({
      status: 'planned',
      dryRun: true,
      target: 'modelA/V1',
      bentoModel: 'modela-v1',
    })
    expect(json.files.map((file: {path: string}) => file.path)).toEqual([
      'deploy/modelA/V1/create_bento_model.py',
      'deploy/modelA/V1/common.py',
      'deploy/modelA/V1/example_input.csv',
      'deploy/modelA/V1/service.py',
      'deploy/modelA/V1/mldeploy.yaml',
    ])
    expect(json.warnings).toHaveLength(2)
    expect(listTree(path.join(root, 'deploy'))).toEqual([])
  })

  it('never overwrites: exit 2 naming the file, the existing target untouched', async () => {
    const root = project()
    const first = await init(root, 'modelA/V1')
    expect(first.exitCode).toBe(0)
    expect(first.stderr).toContain(
      'Warning: No --model-uri: create_bento_model.py imports models:/modelA/latest',
    )
    const service = path.join(root, 'deploy/modelA/V1/service.py')
    writeFileSync(service, '# my edits\n')
    const before = listTree(path.join(root, 'deploy'))
    const again = await init(root, 'modelA/V1', '--columns', 'x')
    expect(again.exitCode).toBe(2)
    expect(again.stderr).toMatch(
      /^Error: deploy\/modelA\/V1\/create_bento_model\.py already exists \(and 4 more: .*service\.py.*\); mldeploy init never overwrites\./,
    )
    expect(again.stdout).toBe('')
    expect(readFileSync(service, 'utf8')).toBe('# my edits\n')
    expect(listTree(path.join(root, 'deploy'))).toEqual(before)
  })

  it('--from V1 starts V2: names follow the version, push --dry-run --offline picks the new repository', async () => {
    const root = project()
    expect((await init(root, 'iris/V1', '--columns', 'a,b')).exitCode).toBe(0)
    const result = await init(root, 'iris/V2', '--from', 'iris/V1', '--json')
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json).toMatchObject({
      status: 'created',
      from: 'iris/V1',
      bentoModel: 'iris-v2',
      serviceClass: 'IrisV2',
    })
    expect(json.changes).toEqual(['bento model iris-v1 → iris-v2', 'service class IrisV1 → IrisV2'])
    const service = readFileSync(path.join(root, 'deploy/iris/V2/service.py'), 'utf8')
    expect(service).toContain('class IrisV2:')
    expect(service).not.toContain('iris-v1')
    const push = await runCli(
      ['push', 'iris/V2', '--dry-run', '--offline', '--json', '--account-id', '123456789012'],
      {
        cwd: root,
        env,
      },
    )
    expect(push.exitCode).toBe(0)
    expect(JSON.parse(push.stdout).repository).toBe('iris/v2')
  })

  it.each([
    [['modelA'], /^Error: Target "modelA" is not of the form <model>\/<version>\./],
    [['/abs/V1'], /is an absolute path/],
    [['modelA/V1', '--model-uri', 'runs:/only-id'], /is not an MLflow model URI\. A run URI is runs:/],
    [['modelA/V1', '--columns', 'a,,b'], /has an empty column name/],
    [['modelA/V1', '--repository', 'UPPER'], /not a valid ECR repository name/],
    [['modelA/V2', '--from', 'modelA/V1'], /^Error: Target modelA\/V1 not found/],
    [['modelA/V1', '--backend', 'kaniko'], /Expected --backend=kaniko to be one of: podman, docker/],
  ])('bad input %j: one line, exit 2, nothing written', async (args, pattern) => {
    const root = project()
    const result = await init(root, ...args)
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toMatch(pattern)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(listTree(path.join(root, 'deploy'))).toEqual([])
  })

  it('--help shows examples', async () => {
    const result = await runCli(['init', '--help'], {cwd: tempDir('help'), env})
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain('EXAMPLES')
    expect(result.stdout).toContain('mldeploy init modelA/V2 --from modelA/V1')
  })
})
