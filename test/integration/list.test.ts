import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {baseEnv, makeProject, runCli, tempDir} from '../helpers/cli.js'

// mldeploy list as a process: what a CI job matrix and a person see.
function project() {
  const root = makeProject({
    'deploy/modelA/V1/bentofile.yaml': 'service: service:Svc\n',
    'deploy/modelA/V1/example_input.csv': 'a,b\n0,0\n',
    'deploy/modelA/V1/.env': 'MLDEPLOY_REPOSITORY=churn/model-a\nMLDEPLOY_BACKEND=docker\n',
    'deploy/modelA/V2/create_bento_model.py': 'import bentoml\n',
    'deploy/modelA/V2/service.py': 'import bentoml\n',
    'deploy/modelA/V2/pyproject.toml': '[tool.bentoml.build]\n',
    'deploy/modelA/V2/request_input.json': '{}\n',
    'deploy/modelB/V1/create_bento_model.py': 'import bentoml\n',
    'deploy/modelB/V1/example_input.yaml': 'a: 1\n',
    'deploy/modelC/V1/create_bento_model.py': 'import bentoml\n',
    'deploy/modelC/V1/service.py': 'import bentoml\n',
    'deploy/modelC/V1/.env': 'this is not a KEY=value line\n',
    'deploy/.hidden/V1/service.py': '',
    '.env': 'MLDEPLOY_BACKEND=podman\n',
  })
  return {root, env: baseEnv()}
}

describe('mldeploy list', () => {
  it('--json: every target with its files, repository, backend and readiness; a matrix of the ready ones', async () => {
    const {root, env} = project()
    const result = await runCli(['list', '--json'], {cwd: path.join(root, 'deploy', 'modelA'), env})
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.targets.map((each: {target: string}) => each.target)).toEqual([
      'modelA/V1',
      'modelA/V2',
      'modelB/V1',
      'modelC/V1',
    ])
    const [a1, a2, b1, c1] = json.targets
    expect(a1).toMatchObject({
      ready: true,
      model: 'modelA',
      version: 'V1',
      dir: 'deploy/modelA/V1',
      repository: 'churn/model-a',
      repositorySource: 'deploy/modelA/V1/.env MLDEPLOY_REPOSITORY',
      backend: 'docker',
      missing: [],
      files: {bentofile: true, pyproject: false, sampleInput: 'example_input.csv', env: true},
    })
    expect(a2).toMatchObject({
      ready: true,
      repository: 'modela/v2',
      backend: 'podman',
      files: {bentofile: false, pyproject: true, sampleInput: 'request_input.json', env: false},
    })
    expect(b1).toMatchObject({
      ready: false,
      missing: ['service.py'],
      repository: 'modelb/v1',
      files: {service: false, sampleInput: 'example_input.yaml'},
    })
    expect(c1.ready).toBe(false)
    expect(c1.problems[0]).toMatch(/deploy\/modelC\/V1\/\.env:1 is not a KEY=value line/)
    expect(json.counts).toEqual({total: 4, ready: 2})
    expect(json.matrix).toEqual({
      include: [
        {target: 'modelA/V1', model: 'modelA', version: 'V1', repository: 'churn/model-a'},
        {target: 'modelA/V2', model: 'modelA', version: 'V2', repository: 'modela/v2'},
      ],
    })
  })

  it('the environment wins over .env for the repository, as in push', async () => {
    const {root, env} = project()
    const result = await runCli(['list', '--json'], {
      cwd: root,
      env: {...env, MLDEPLOY_REPOSITORY: 'team/all'},
    })
    const json = JSON.parse(result.stdout)
    expect(json.targets[0]).toMatchObject({
      repository: 'team/all',
      repositorySource: 'env MLDEPLOY_REPOSITORY',
    })
  })

  it('--stage: a target without .env.<stage> (here or at the root) is not ready, the others are', async () => {
    const {root, env} = project()
    writeFileSync(path.join(root, 'deploy/modelA/V1/.env.production'), 'MLDEPLOY_REPOSITORY=prod/model-a\n')
    const json = JSON.parse(
      (await runCli(['list', '--json', '--stage', 'production'], {cwd: root, env})).stdout,
    )
    expect(json.targets[0]).toMatchObject({target: 'modelA/V1', ready: true, repository: 'prod/model-a'})
    expect(json.targets[1].ready).toBe(false)
    expect(json.targets[1].problems[0]).toContain('--stage production: no .env.production')
  })

  it('text: an aligned table, then what is missing per target', async () => {
    const {root, env} = project()
    const result = await runCli(['list'], {cwd: root, env})
    expect(result.exitCode).toBe(0)
    const lines = result.stdout.split('\n')
    const header = lines.find((line) => line.startsWith('TARGET'))!
    expect(header).toMatch(/^TARGET\s+READY\s+REPOSITORY\s+BACKEND\s+BUILD CONFIG\s+SAMPLE INPUT\s+\.ENV$/)
    const row = lines.find((line) => line.startsWith('modelA/V1 '))!
    // Aligned: each column starts where its header does.
    expect(row.indexOf('churn/model-a')).toBe(header.indexOf('REPOSITORY'))
    expect(row.indexOf('docker')).toBe(header.indexOf('BACKEND'))
    expect(lines.find((line) => line.startsWith('modelB/V1 '))!.indexOf('no')).toBe(header.indexOf('READY'))
    expect(result.stdout).toContain('modelB/V1: missing service.py')
    expect(result.stdout).toContain('4 target(s), 2 ready.')
  })

  it('writes the matrix and the ready targets as step outputs when GITHUB_OUTPUT is set', async () => {
    const {root, env} = project()
    const output = path.join(tempDir('gha'), 'output')
    const result = await runCli(['list', '--json'], {cwd: root, env: {...env, GITHUB_OUTPUT: output}})
    expect(result.exitCode).toBe(0)
    const written = readFileSync(output, 'utf8')
    expect(written).toContain('targets=["modelA/V1","modelA/V2"]\n')
    const matrixLine = written.split('\n').find((line) => line.startsWith('matrix='))!
    expect(JSON.parse(matrixLine.slice('matrix='.length))).toEqual(JSON.parse(result.stdout).matrix)
  })

  it('an empty deploy/ lists nothing, exit 0', async () => {
    const root = tempDir('empty')
    mkdirSync(path.join(root, 'deploy'))
    const result = await runCli(['list', '--json'], {cwd: root, env: baseEnv()})
    expect(result.exitCode).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({
      targets: [],
      counts: {total: 0, ready: 0},
      matrix: {include: []},
    })
  })

  it('no project: one line, exit 2', async () => {
    const result = await runCli(['list'], {cwd: tempDir('nowhere'), env: baseEnv()})
    expect(result.exitCode).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('No project found')
  })
})
