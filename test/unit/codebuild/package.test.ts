import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {parse as load} from 'yaml'
import {describe, expect, it} from 'vitest'

import {buildspec, pythonSetupFor, resultKey} from '../../../src/codebuild/buildspec.js'
import {sourceFiles, withoutSecrets} from '../../../src/codebuild/package.js'
import {deterministicZip} from '../../../src/codebuild/zip.js'
import {isSecretEntry} from '../../../src/secrets.js'
import {tempDir} from '../../helpers/cli.js'

function project(): {root: string; dir: string} {
  const root = tempDir('cb-package-')
  const dir = path.join(root, 'deploy', 'modelA', 'V1')
  mkdirSync(path.join(dir, '__pycache__'), {recursive: true})
  writeFileSync(path.join(dir, 'service.py'), 'import bentoml\n')
  writeFileSync(path.join(dir, 'create_bento_model.py'), 'print(1)\n')
  writeFileSync(path.join(dir, '__pycache__', 'service.cpython-311.pyc'), 'x')
  writeFileSync(path.join(dir, '.env'), 'MLDEPLOY_REPOSITORY=detector\nHF_TOKEN=hf_secret_value\n')
  writeFileSync(path.join(root, 'Pipfile'), '[packages]\n')
  writeFileSync(path.join(root, 'Pipfile.lock'), '{}\n')
  writeFileSync(path.join(root, 'requirements-dev.txt'), 'pytest\n')
  writeFileSync(path.join(root, 'train.py'), 'not packed\n')
  writeFileSync(
    path.join(root, '.env'),
    "MLFLOW_TRACKING_URI=https://user:pw123@mlflow.example.com\nAWS_REGION=eu-west-1\nNOTE='it''s'\n",
  )
  return {root, dir}
}

const target = (root: string, dir: string) => ({name: 'modelA/V1', model: 'modelA', version: 'V1', dir, root})

describe('source package', () => {
  it('packs the target folder and environment files, .env files without their secrets', () => {
    const {root, dir} = project()
    const {entries, omitted} = sourceFiles(target(root, dir), undefined)
    expect(entries.map((entry) => entry.path)).toEqual([
      'deploy/modelA/V1/create_bento_model.py',
      'deploy/modelA/V1/service.py',
      'Pipfile',
      'Pipfile.lock',
      'requirements-dev.txt',
      'deploy/modelA/V1/.env',
      '.env',
    ])
    expect(omitted).toEqual([
      {file: 'deploy/modelA/V1/.env', key: 'HF_TOKEN'},
      {file: '.env', key: 'MLFLOW_TRACKING_URI'},
    ])
    const packed = Buffer.concat(entries.map((entry) => entry.data)).toString()
    expect(packed).not.toContain('hf_secret_value')
    expect(packed).not.toContain('pw123')
    expect(packed).toContain("MLDEPLOY_REPOSITORY='detector'")
  })

  it('classifies secrets by name and by credentials in a URL', () => {
    for (const name of ['MLFLOW_TRACKING_PASSWORD', 'HF_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'OPENAI_API_KEY'])
      expect(isSecretEntry(name, 'x')).toBe(true)
    expect(isSecretEntry('MLFLOW_TRACKING_URI', 'https://mlflow.example.com')).toBe(false)
    expect(isSecretEntry('MLFLOW_TRACKING_URI', 'https://u:p@mlflow.example.com')).toBe(true)
    expect(isSecretEntry('AWS_REGION', 'us-east-1')).toBe(false)
  })

  it('writes .env values back so dotenv reads the same text', async () => {
    const {parse} = await import('dotenv')
    const values = {A: 'plain', B: "it's", C: 'two\nlines', D: 'back\\slash "q"'}
    expect(parse(withoutSecrets(values).text)).toEqual(values)
  })

  it('zips deterministically: the same files in any order give the same bytes, and unzip reads them', () => {
    const {root, dir} = project()
    const {entries} = sourceFiles(target(root, dir), undefined)
    const one = deterministicZip(entries)
    const two = deterministicZip([...entries].reverse())
    expect(two.sha256).toBe(one.sha256)
    expect(one.listing.map((entry) => entry.path)).toEqual([...one.listing.map((e) => e.path)].sort())
    const zipFile = path.join(root, 'p.zip')
    writeFileSync(zipFile, one.bytes)
    const out = path.join(root, 'out')
    execFileSync('unzip', ['-q', zipFile, '-d', out])
    expect(readFileSync(path.join(out, 'deploy/modelA/V1/service.py'), 'utf8')).toBe('import bentoml\n')
    expect(execFileSync('unzip', ['-Z', '-T', zipFile]).toString()).toContain('19800101.000000')
    const changed = deterministicZip([...entries, {path: 'x.txt', data: Buffer.from('x')}])
    expect(changed.sha256).not.toBe(one.sha256)
  })
})

describe('buildspec', () => {
  const input = {
    target: 'modelA/V1',
    pushFlags: ['--repository', 'detector', '--tag', 'it has space'],
    bucket: 'b',
    prefix: 'mldeploy/',
    python: pythonSetupFor(['Pipfile', 'Pipfile.lock']),
    pythonVersion: '3.11',
  }

  it('is YAML with an install and a build phase that runs the push and uploads its JSON', () => {
    const spec = load(buildspec(input)) as {
      version: number
      env: {shell: string}
      phases: {install: {commands: string[]}; build: {commands: string[]}}
    }
    expect(spec.version).toBe(0.2)
    expect(spec.env.shell).toBe('bash')
    expect(spec.phases.install.commands[0]).toContain('pipenv install --deploy')
    expect(spec.phases.install.commands[0]).toContain('npm install')
    const build = spec.phases.build.commands[0]!
    expect(build).toContain(
      "mldeploy push modelA/V1 --builder local --backend docker --json --python .venv/bin/python --repository detector --tag 'it has space'",
    )
    expect(build).toContain(`s3://b/${resultKey('mldeploy/', '${CODEBUILD_BUILD_ID}')}`)
    expect(build).toMatch(/exit \$code\s*$/)
  })

  it('installs from requirements.txt without a Pipfile', () => {
    expect(pythonSetupFor(['requirements.txt'])).toBe('requirements')
    expect(buildspec({...input, python: 'requirements'})).toContain('pip install --quiet -r requirements.txt')
  })

  it('is the same text for the same plan', () => {
    expect(buildspec(input)).toBe(buildspec({...input}))
  })
})
