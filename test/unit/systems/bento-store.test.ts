import {execFileSync} from 'node:child_process'
import {cpSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {LABELS} from '../../../src/provenance.js'
import {
  collectProvenance,
  locateBento,
  mldeployVersion,
  readBentoInfo,
  readModelMlflow,
} from '../../../src/systems/bento-store.js'
import {gitRemoteUrl, gitRevision} from '../../../src/systems/git-provenance.js'
import type {PythonCommand} from '../../../src/systems/python.js'
import {REPO_ROOT, tempDir} from '../../helpers/cli.js'
import {scriptTool} from '../../helpers/deploy-state.js'

const GET_JSON = readFileSync(path.join(REPO_ROOT, 'test/fixtures/bentoml/get.json'), 'utf8')
const MODEL_JSON = JSON.stringify({
  name: 'iris-classifier',
  metadata: {mlflow_run_id: 'abc123'},
  labels: {mlflow_model_uri: 'runs:/abc123/model'},
})

/** A python whose `-m bentoml get` and `models get` print JSON after some noise; anything else fails. */
function python(modelJson = MODEL_JSON): {python: PythonCommand; env: Record<string, string>} {
  const dir = tempDir('py')
  writeFileSync(path.join(dir, 'get.json'), GET_JSON)
  writeFileSync(path.join(dir, 'model.json'), modelJson)
  const command = scriptTool(
    dir,
    'python',
    `const fs = require('node:fs'); const a = process.argv.slice(2)
console.log('a banner line')
if (a[3] === 'nojson:v1') console.log('no json here')
else if (a[2] === 'get' && a.at(-1) === 'json' && a.at(-2) === '-o') console.log(fs.readFileSync('${dir}/get.json', 'utf8'))
else if (a[2] === 'models' && a[3] === 'get') console.log(fs.readFileSync('${dir}/model.json', 'utf8'))
else if (a[2] === 'noise') console.log('no json here')
else { console.error('Bento not found'); process.exit(1) }`,
  )
  return {
    python: {command, prefix: [], env: {}, description: command},
    env: {PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir},
  }
}

function gitRepo(): string {
  const dir = tempDir('git')
  const git = (...args: string[]) =>
    execFileSync('git', args, {cwd: dir, env: {...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: dir}})
  git('init', '-q')
  git('config', 'user.email', 't@example.com')
  git('config', 'user.name', 'T')
  writeFileSync(path.join(dir, 'service.py'), 'x = 1\n')
  git('add', '.')
  git('commit', '-qm', 'first')
  git('remote', 'add', 'origin', 'https://user:token@example.com/team/project.git')
  return dir
}

describe('the BentoML store lookups', () => {
  it('reads the bento and its model origin from the JSON, whatever is printed before it', async () => {
    const {python: py, env} = python()
    const bento = await readBentoInfo(py, 'iris_v1:ek4lxkhjukdhyax4', tempDir('cwd'), env)
    expect(bento.tag).toBe('iris_v1:ek4lxkhjukdhyax4')
    expect(bento.models).toEqual(['iris-classifier:dzm5tghjukp5yax4'])
    expect(bento.routes).toContain('/predict')
    expect(await readModelMlflow(py, 'iris-classifier:x', tempDir('cwd'), env)).toEqual({
      runId: 'abc123',
      modelUri: 'runs:/abc123/model',
    })
  })

  it('a failed lookup is check:bentoml-store with the output as detail', async () => {
    const {python: py, env} = python()
    const broken = {...py, prefix: ['x']}
    const error = await readBentoInfo(broken, 'a:b', tempDir('cwd'), env).catch((caught: unknown) => caught)
    expect(error).toMatchObject({
      domain: 'check',
      reason: 'bentoml-store',
      message: 'bentoml get a:b failed.',
    })
    expect((error as {detail: string}).detail).toContain('Bento not found')
  })

  it('output without JSON is check:bentoml-store too', async () => {
    const {python: py, env} = python()
    const error = await readBentoInfo(
      {...py, prefix: ['-m', 'bentoml', 'noise', '#']},
      'a:b',
      tempDir('cwd'),
      env,
    ).catch((caught: unknown) => caught)
    expect(error).toMatchObject({reason: 'bentoml-store'})
    expect((error as Error).message).toMatch(/printed no JSON\.$/)
  })

  it('output without JSON names the bentoml command, why, and what it printed', async () => {
    const {python: py, env} = python()
    const error = await readBentoInfo(py, 'nojson:v1', tempDir('cwd'), env).catch((caught: unknown) => caught)
    expect(error).toMatchObject({
      reason: 'bentoml-store',
      message: 'bentoml get nojson:v1 printed no JSON.',
      detail: 'no JSON object in the output\na banner line\nno json here',
    })
  })

  it('a failed lookup shows the output lines one per line', async () => {
    const {python: py, env} = python()
    const error = await readModelMlflow({...py, prefix: ['x']}, 'm:v', tempDir('cwd'), env).catch(
      (caught: unknown) => caught,
    )
    expect(error).toMatchObject({
      message: 'bentoml models get failed.',
      detail: 'a banner line\nBento not found',
    })
  })
})

describe('git provenance', () => {
  it('the commit, clean or dirty, and the remote URL', async () => {
    const dir = gitRepo()
    const env = {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir}
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], {cwd: dir}).toString().trim()
    expect(await gitRevision(dir, env)).toEqual({sha, dirty: false})
    writeFileSync(path.join(dir, 'new.py'), '')
    expect(await gitRevision(dir, env)).toEqual({sha, dirty: true})
    expect(await gitRemoteUrl(dir, env)).toBe('https://user:token@example.com/team/project.git')
  })

  it('outside a repository, nothing', async () => {
    const dir = tempDir('nogit')
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      GIT_CEILING_DIRECTORIES: path.dirname(dir),
    }
    expect(await gitRevision(dir, env)).toBeUndefined()
    expect(await gitRemoteUrl(dir, env)).toBeUndefined()
  })
})

describe('collectProvenance', () => {
  it('gathers every label: bento, models, MLflow run, commit, source without credentials, version', async () => {
    const {python: py, env} = python()
    const dir = gitRepo()
    const {labels, bento} = await collectProvenance({
      python: py,
      bentoTag: 'iris_v1:ek4lxkhjukdhyax4',
      target: {name: 'modelA/V1', dir},
      env: {...env, PATH: `${env.PATH}:${process.env.PATH}`},
      mldeployVersion: '9.9.9',
      now: new Date('2026-01-02T03:04:05Z'),
    })
    expect(bento.models).toEqual(['iris-classifier:dzm5tghjukp5yax4'])
    expect(labels[LABELS.bento]).toBe('iris_v1:ek4lxkhjukdhyax4')
    expect(labels[LABELS.models]).toBe('iris-classifier:dzm5tghjukp5yax4')
    expect(labels[LABELS.mlflowRunId]).toBe('abc123')
    expect(labels[LABELS.mldeployVersion]).toBe('9.9.9')
    expect(labels[LABELS.created]).toBe('2026-01-02T03:04:05.000Z')
    expect(labels[LABELS.revision]).toMatch(/^[0-9a-f]{40}$/)
    expect(labels[LABELS.source]).toBe('https://example.com/team/project.git')
  })

  it('a store that cannot be read leaves a problem and the labels that do not need it', async () => {
    const {python: py, env} = python()
    const {labels, bento, problems} = await collectProvenance({
      python: {...py, prefix: ['x']},
      bentoTag: 'iris_v1:ek4lxkhjukdhyax4',
      target: {name: 'modelA/V1', dir: tempDir('not-git')},
      env: {...env, PATH: `${env.PATH}:${process.env.PATH}`},
      mldeployVersion: '9.9.9',
      now: new Date('2026-01-02T03:04:05Z'),
    })
    expect(problems).toEqual(['bentoml get iris_v1:ek4lxkhjukdhyax4 failed.'])
    expect(bento).toEqual({tag: 'iris_v1:ek4lxkhjukdhyax4', models: [], routes: []})
    // Outside git: no revision, no source; no models: no model or MLflow labels.
    expect(labels).toEqual({
      [LABELS.created]: '2026-01-02T03:04:05.000Z',
      [LABELS.version]: 'ek4lxkhjukdhyax4',
      [LABELS.title]: 'modelA/V1',
      [LABELS.bento]: 'iris_v1:ek4lxkhjukdhyax4',
      [LABELS.mldeployVersion]: '9.9.9',
    })
  })

  it('a model without MLflow metadata gives no MLflow labels', async () => {
    const {python: py, env} = python(JSON.stringify({name: 'iris-classifier'}))
    const {labels, problems} = await collectProvenance({
      python: py,
      bentoTag: 'iris_v1:ek4lxkhjukdhyax4',
      target: {name: 'modelA/V1', dir: tempDir('not-git')},
      env: {...env, PATH: `${env.PATH}:${process.env.PATH}`},
      mldeployVersion: '9.9.9',
    })
    expect(problems).toEqual([])
    expect(labels[LABELS.models]).toBe('iris-classifier:dzm5tghjukp5yax4')
    expect(labels).not.toHaveProperty(LABELS.mlflowRunId)
    expect(labels).not.toHaveProperty(LABELS.mlflowModelUri)
  })

  it('mldeploy knows its own version', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {version: string}
    expect(mldeployVersion()).toBe(pkg.version)
  })
})

describe('locateBento (the content digest reads the store in place)', () => {
  const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/bento-store')
  const BENTO = 'iris_v1:75zt5whki6buoax4'

  /** A copy of the fixture store, and a python whose `bentoml get <tag> -o path` prints `printed`. */
  function store(printed: (home: string) => string, exitCode = 0) {
    const home = tempDir('store')
    cpSync(FIXTURE, home, {recursive: true})
    const dir = tempDir('py')
    const command = scriptTool(
      dir,
      'python',
      // Only `-m bentoml get <tag> -o path` is answered.
      `if (process.argv.slice(2).join(' ') !== '-m bentoml get ${BENTO} -o path') process.exit(9)
console.log('a banner line'); console.log(${JSON.stringify(printed(home))}); process.exit(${exitCode})`,
    )
    const python: PythonCommand = {command, prefix: [], env: {}, description: command}
    const env = {PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir}
    return {home, locate: () => locateBento({python, bentoTag: BENTO, cwd: dir, env})}
  }

  it('finds the bento folder from the last absolute path printed, and its models in the same store', async () => {
    const {home, locate} = store((h) => `  ${h}/bentos/iris_v1/75zt5whki6buoax4  `)
    expect(await locate()).toEqual({
      bentoDir: path.join(home, 'bentos/iris_v1/75zt5whki6buoax4'),
      models: [
        {
          tag: 'iris-classifier:6pxafxhki63g6ax4',
          dir: path.join(home, 'models/iris-classifier/6pxafxhki63g6ax4'),
        },
      ],
    })
  })

  it('a failed lookup, or a path without bento.yaml, names the bento and shows the output', async () => {
    for (const {printed, exitCode} of [
      {printed: (h: string) => `${h}/bentos/iris_v1/75zt5whki6buoax4`, exitCode: 1},
      {printed: (h: string) => `${h}/bentos/iris_v1`, exitCode: 0},
      {printed: () => 'relative/path', exitCode: 0},
    ]) {
      const error = await store(printed, exitCode)
        .locate()
        .catch((caught: unknown) => caught)
      expect(error).toMatchObject({
        domain: 'check',
        reason: 'bentoml-store',
        message: `bentoml get ${BENTO} -o path named no bento folder.`,
      })
      expect((error as {detail: string}).detail).toContain('a banner line')
    }
  })

  it('a model the bento names but the store lacks: say which, where, and how to fix it', async () => {
    const {home, locate} = store((h) => `${h}/bentos/iris_v1/75zt5whki6buoax4`)
    const modelDir = path.join(home, 'models/iris-classifier/6pxafxhki63g6ax4')
    rmSync(path.join(modelDir, 'model.yaml'))
    const error = await locate().catch((caught: unknown) => caught)
    expect(error).toMatchObject({
      reason: 'bentoml-store',
      message: `Model iris-classifier:6pxafxhki63g6ax4 of bento ${BENTO} is not in the BentoML store (${modelDir}).`,
      hint: 'Import the model again (run without --bento-version, or check BENTOML_HOME).',
    })
  })
})
