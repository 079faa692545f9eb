import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

import {UsageError} from '../../../src/errors.js'
import {
  defaultBentoModel,
  defaultServiceClass,
  parseColumns,
  swapVersion,
  validateModelUri,
} from '../../../src/config/names.js'
import {resolvePushConfig} from '../../../src/config/push-config.js'
import {mlflowFromModel} from '../../../src/provenance.js'
import {planInit, setSettings, writePlan} from '../../../src/scaffold/scaffold.js'
import {tempDir} from '../../helpers/cli.js'
import {cacheDir} from '../../helpers/moto.js'

function emptyProject(): string {
  const root = tempDir('scaffold')
  mkdirSync(path.join(root, 'deploy'))
  return root
}

function usageMessage(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    expect((error as UsageError).domain).toBe('usage')
    return (error as UsageError).message
  }
  throw new Error('expected a usage error')
}

describe('names', () => {
  it('derives a BentoML model name per version and a service class', () => {
    expect(defaultBentoModel('modelA', 'V1')).toBe('modela-v1')
    expect(defaultBentoModel('My Model!', '2024.1')).toBe('my-model-2024.1')
    expect(defaultServiceClass('modelA', 'V1')).toBe('ModelAV1')
    expect(defaultServiceClass('iris-classifier', 'v2')).toBe('IrisClassifierV2')
    expect(defaultServiceClass('3d', 'V1')).toBe('Service3dV1')
  })

  it('swaps the version inside names keeping their case, not inside longer numbers', () => {
    expect(swapVersion('iris-v1', 'V1', 'V2')).toBe('iris-v2')
    expect(swapVersion('IrisV1', 'V1', 'V2')).toBe('IrisV2')
    expect(swapVersion('EXAMPLEv1', 'V1', 'V2')).toBe('EXAMPLEv2')
    expect(swapVersion('MODEL_V1', 'V1', 'V2')).toBe('MODEL_V2')
    expect(swapVersion('iris-v10', 'V1', 'V2')).toBeUndefined()
    expect(swapVersion('iris-classifier', 'V1', 'V2')).toBeUndefined()
  })

  it('accepts MLflow URIs and refuses malformed ones', () => {
    expect(validateModelUri('runs:/0a1b2c/model', '--model-uri')).toBe('runs:/0a1b2c/model')
    expect(validateModelUri('models:/iris/3', '--model-uri')).toBe('models:/iris/3')
    expect(validateModelUri('models:/iris@champion', '--model-uri')).toBe('models:/iris@champion')
    for (const bad of ['runs:/abc', 'models:/iris', 'no-scheme', 'runs:/a/"model', 'runs:/a b/model']) {
      expect(() => validateModelUri(bad, '--model-uri'), bad).toThrow(/is not an MLflow model URI/)
    }
  })

  it('parses columns and refuses empty, duplicate and quoted names', () => {
    expect(parseColumns(' a, b ,c d')).toEqual(['a', 'b', 'c d'])
    expect(() => parseColumns('a,,b')).toThrow(/empty column/)
    expect(() => parseColumns('a,b,a')).toThrow(/names "a" twice/)
    expect(() => parseColumns('a,"b"')).toThrow(/not a usable column name/)
  })

  it('setSettings replaces a key line, uncomments an example, or appends', () => {
    const text = 'a: 1\n# b: example\n'
    expect(setSettings(text, {MLDEPLOY_BACKEND: 'docker'})).toBe('a: 1\n# b: example\nbackend: docker\n')
    expect(setSettings('backend: podman\n', {MLDEPLOY_BACKEND: 'docker'})).toBe('backend: docker\n')
    expect(setSettings('# region: us-east-1\n', {AWS_REGION: 'eu-west-1'})).toBe('region: eu-west-1\n')
    expect(setSettings('', {MLDEPLOY_TAGS: 'a,b', MLDEPLOY_ACCOUNT_ID: '012345678901'})).toBe(
      'tag: [a, b]\naccount-id: "012345678901"\n',
    )
  })
})

describe('planInit', () => {
  it('plans the template files filled from the flags, and mldeploy.yaml reads back as given', () => {
    const root = emptyProject()
    const plan = planInit(
      'modelA/V1',
      {
        columns: 'x1,x2',
        'model-uri': 'runs:/abc/model',
        repository: 'team/a',
        backend: 'docker',
        tag: ['t1', 't2'],
      },
      root,
    )
    expect(plan.files.map((file) => path.basename(file.path))).toEqual([
      'create_bento_model.py',
      'common.py',
      'example_input.csv',
      'service.py',
      'mldeploy.yaml',
    ])
    expect(plan.files.some((file) => file.path.endsWith('__init__.py'))).toBe(false)
    const text = (name: string) =>
      plan.files.find((file) => path.basename(file.path) === name)!.contents.toString()
    expect(text('create_bento_model.py')).toContain('_model_uri = "runs:/abc/model"')
    expect(text('create_bento_model.py')).toContain('bentoml.mlflow.import_model(\n    "modela-v1",')
    expect(text('service.py')).toContain('BentoModel("modela-v1:latest")')
    expect(text('service.py')).toContain('class ModelAV1:')
    expect(text('common.py')).toContain('COLUMNS = [\n    "x1",\n    "x2",\n]')
    expect(text('example_input.csv')).toBe('x1,x2\n0,0\n')
    // Nothing written by planning.
    expect(readdirSync(path.join(root, 'deploy'))).toEqual([])

    writePlan(plan)
    const config = resolvePushConfig('modelA/V1', {}, {}, root)
    expect([config.repository, config.backend, config.tags]).toEqual([
      {value: 'team/a', source: 'deploy/modelA/V1/mldeploy.yaml repository'},
      {value: 'docker', source: 'deploy/modelA/V1/mldeploy.yaml backend'},
      {value: ['t1', 't2'], source: 'deploy/modelA/V1/mldeploy.yaml tag'},
    ])
    // Every other setting is there, commented out with its default.
    expect(text('mldeploy.yaml')).toContain('# ECR repository [default: modela/v1]\nrepository: team/a\n')
    expect(text('mldeploy.yaml')).toMatch(/^# region: us-east-1$/m)
  })

  it('refuses to overwrite: names the existing file and writes nothing', () => {
    const root = emptyProject()
    const dir = path.join(root, 'deploy/modelA/V1')
    mkdirSync(dir, {recursive: true})
    writeFileSync(path.join(dir, 'service.py'), 'mine\n')
    const message = usageMessage(() => planInit('modelA/V1', {}, root))
    expect(message).toMatch(/^deploy\/modelA\/V1\/service\.py already exists/)
    expect(readdirSync(dir)).toEqual(['service.py'])
    expect(readFileSync(path.join(dir, 'service.py'), 'utf8')).toBe('mine\n')
  })

  it('writes into an existing folder when no file collides', () => {
    const root = emptyProject()
    mkdirSync(path.join(root, 'deploy/modelA/V1'), {recursive: true})
    writeFileSync(path.join(root, 'deploy/modelA/V1/notes.md'), 'x')
    writePlan(planInit('modelA/V1', {}, root))
    expect(readdirSync(path.join(root, 'deploy/modelA/V1')).sort()).toEqual([
      'common.py',
      'create_bento_model.py',
      'example_input.csv',
      'mldeploy.yaml',
      'notes.md',
      'service.py',
    ])
  })

  it.each([
    [['../x', {}], /leaves deploy/],
    [['modelA', {}], /not of the form <model>\/<version>/],
    [['modelA/V1', {backend: 'kaniko'}], /Unknown backend "kaniko"/],
    [['modelA/V1', {repository: 'Bad Repo'}], /not a valid ECR repository name/],
    [['modelA/V1', {'bento-model': 'Iris'}], /not a BentoML model name/],
    [['modelA/V1', {region: 'mars'}], /not an AWS region/],
    [['modelA/V1', {'vpn-check': 'nohost'}], /not host:port/],
    [['modelA/V2', {from: 'modelA/V1', columns: 'a'}], /--columns cannot be used with --from/],
    [['modelA/V2', {from: 'modelA/V9'}], /Target modelA\/V9 not found/],
  ] as const)('refuses bad input %j with a usage error', (input, pattern) => {
    const root = emptyProject()
    const [target, flags] = input
    expect(usageMessage(() => planInit(target, flags, root))).toMatch(pattern)
    expect(readdirSync(path.join(root, 'deploy'))).toEqual([])
  })

  it('needs a project: refuses a folder without deploy/ or project files', () => {
    const bare = tempDir('bare')
    expect(usageMessage(() => planInit('modelA/V1', {}, bare))).toMatch(/No project found/)
  })

  it('--from copies a version and moves its names to the new one', () => {
    const root = emptyProject()
    writePlan(planInit('iris/V1', {columns: 'a,b', 'bento-model': 'iris-classifier-v1'}, root))
    const v1 = path.join(root, 'deploy/iris/V1')
    writeFileSync(path.join(v1, 'ecr.sh'), 'ECR_NAME=iris/v1\n')
    writeFileSync(path.join(v1, '__init__.py'), '')
    mkdirSync(path.join(v1, '__pycache__'))
    writeFileSync(path.join(v1, '__pycache__/service.cpython-311.pyc'), 'x')
    writeFileSync(path.join(v1, '.env.production'), 'MLDEPLOY_REPOSITORY=prod/iris-v1\n')
    mkdirSync(path.join(v1, 'assets'))
    writeFileSync(path.join(v1, 'assets/weights.bin'), Buffer.from([0, 1, 2, 255]))

    const plan = planInit('iris/V2', {from: 'iris/V1', 'model-uri': 'models:/iris/7'}, root)
    expect(plan.bentoModel).toBe('iris-classifier-v2')
    expect(plan.serviceClass).toBe('IrisV2')
    expect(plan.changes).toEqual([
      'bento model iris-classifier-v1 → iris-classifier-v2',
      'service class IrisV1 → IrisV2',
      '.env.production: MLDEPLOY_REPOSITORY prod/iris-v1 → prod/iris-v2',
      'model URI models:/iris/latest → models:/iris/7',
    ])
    expect(plan.skipped).toEqual([
      '__init__.py (the template forbids __init__.py in deploy targets)',
      'ecr.sh (mldeploy push replaces it, and it names the old repository)',
    ])
    writePlan(plan)
    const v2 = path.join(root, 'deploy/iris/V2')
    const service = readFileSync(path.join(v2, 'service.py'), 'utf8')
    expect(service).toContain('class IrisV2:')
    expect(service).toContain('BentoModel("iris-classifier-v2:latest")')
    expect(service).not.toMatch(/IrisV1|iris-classifier-v1/)
    expect(readFileSync(path.join(v2, 'create_bento_model.py'), 'utf8')).toContain('"models:/iris/7"')
    expect(readFileSync(path.join(v2, 'example_input.csv'), 'utf8')).toBe('a,b\n0,0\n')
    expect(readFileSync(path.join(v2, 'assets/weights.bin'))).toEqual(Buffer.from([0, 1, 2, 255]))
    expect(readFileSync(path.join(v2, 'mldeploy.yaml'), 'utf8')).toContain(
      '# ECR repository [default: iris/v2]',
    )
    expect(readdirSync(v2).sort()).toEqual([
      '.env.production',
      'assets',
      'common.py',
      'create_bento_model.py',
      'example_input.csv',
      'mldeploy.yaml',
      'service.py',
    ])
  })

  it('--from keeps a repository that does not follow the version, with a warning', () => {
    const root = emptyProject()
    writePlan(planInit('iris/V1', {repository: 'shared/iris'}, root))
    const plan = planInit('iris/V2', {from: 'iris/V1'}, root)
    expect(plan.warnings).toContain(
      'mldeploy.yaml: repository shared/iris is kept, so the new version pushes to the same repository.',
    )
    const withFlag = planInit('iris/V2', {from: 'iris/V1', repository: 'shared/iris-v2'}, root)
    expect(withFlag.warnings).toEqual([])
    const settings = withFlag.files.find((file) => file.path.endsWith('/mldeploy.yaml'))!.contents.toString()
    expect(settings).toMatch(/^repository: shared\/iris-v2$/m)
    // The version's own repository moves with it.
    writePlan(planInit('rf/V1', {repository: 'rf/v1'}, root))
    const moved = planInit('rf/V2', {from: 'rf/V1'}, root)
    expect(moved.changes).toContain('mldeploy.yaml: repository rf/v1 → rf/v2')
  })
})

/** The project's venv (scripts/setup-system.sh): real pandas for the generated script's sample input. */
const VENV_PYTHON = path.join(cacheDir(), 'venv/bin/python')

/**
 * bentoml and mlflow stand-ins that record what the generated script hands them. A real import
 * resolves the run against an MLflow server: that is the end-to-end tests' part.
 */
const STUBS: Record<string, string> = {
  'bentoml/__init__.py': 'from . import mlflow\n',
  'bentoml/mlflow.py': [
    'import json, os',
    '',
    'class _Model:',
    '    tag = "stub-model:1"',
    '',
    'def import_model(name, model_uri, metadata=None, **kwargs):',
    '    with open(os.environ["STUB_RECORD"], "w") as out:',
    '        json.dump({"name": name, "model_uri": model_uri, "metadata": metadata}, out)',
    '    return _Model()',
    '',
  ].join('\n'),
  'mlflow/__init__.py': 'from . import models\n',
  'mlflow/models.py': [
    'class _Info:',
    '    run_id = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"',
    '',
    'def get_model_info(model_uri):',
    '    return _Info()',
    '',
  ].join('\n'),
}

describe("init's create_bento_model.py", () => {
  it('records the MLflow run id and model URI in the metadata under the names the labels step reads', () => {
    const root = emptyProject()
    const plan = planInit('modelA/V1', {'model-uri': 'models:/churn/3'}, root)
    const script = plan.files.find((file) => file.path.endsWith('create_bento_model.py'))!.contents.toString()
    expect(script).toContain('_run_id = mlflow.models.get_model_info(_model_uri).run_id')
    expect(script).toContain('metadata={"mlflow_model_uri": _model_uri, "mlflow_run_id": _run_id or ""},')
    // --from rewrites the first runs:/ or models:/ string: it must still be the model URI.
    writePlan(plan)
    const copy = planInit('modelA/V2', {from: 'modelA/V1', 'model-uri': 'runs:/ff/model'}, root)
    expect(copy.changes).toContain('model URI models:/churn/3 → runs:/ff/model')
  })

  it.skipIf(!existsSync(VENV_PYTHON))(
    "run with the venv's Python against bentoml and mlflow stand-ins, writes the run id inspect shows",
    async () => {
      const root = emptyProject()
      writePlan(planInit('modelA/V1', {'model-uri': 'models:/churn/3', columns: 'a,b'}, root))
      const stubs = tempDir('python-stubs')
      for (const [file, text] of Object.entries(STUBS)) {
        mkdirSync(path.dirname(path.join(stubs, file)), {recursive: true})
        writeFileSync(path.join(stubs, file), text)
      }
      const record = path.join(stubs, 'record.json')
      const run = await execa(VENV_PYTHON, ['create_bento_model.py'], {
        cwd: path.join(root, 'deploy/modelA/V1'),
        env: {PYTHONPATH: stubs, STUB_RECORD: record, PYTHONDONTWRITEBYTECODE: '1'},
        extendEnv: false,
        reject: false,
      })
      expect(run.exitCode, String(run.stderr)).toBe(0)
      expect(String(run.stdout)).toBe('Imported models:/churn/3 as stub-model:1')
      const recorded = JSON.parse(readFileSync(record, 'utf8')) as {metadata: unknown}
      expect(recorded).toEqual({
        name: 'modela-v1',
        model_uri: 'models:/churn/3',
        metadata: {mlflow_model_uri: 'models:/churn/3', mlflow_run_id: '0a1b2c3d4e5f60718293a4b5c6d7e8f9'},
      })
      // What the labels step reads back from `bentoml models get -o json`, and so what inspect shows.
      expect(mlflowFromModel({metadata: recorded.metadata})).toEqual({
        runId: '0a1b2c3d4e5f60718293a4b5c6d7e8f9',
        modelUri: 'models:/churn/3',
      })
    },
    30_000,
  )
})
