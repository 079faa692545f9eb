import {describe, expect, it} from 'vitest'

import {classify, ExitCode} from '../../../src/errors.js'
import {newRun, runPlans} from '../../../src/pipeline/engine.js'
import {importCommand, importStep} from '../../../src/steps/import-model.js'
import {scriptTool, stepFixture} from '../../helpers/deploy-state.js'
import {RecordingHost, recordingIo} from '../../helpers/recording-host.js'

describe('the import step', () => {
  it('runs create_bento_model.py with the project Python in the target folder, without usage stats', () => {
    const {state, bin} = stepFixture()
    const command = importCommand(state)
    expect(command).toEqual({
      command: `${bin.dir}/python`,
      args: ['create_bento_model.py'],
      cwd: state.config.target.dir,
      env: {BENTOML_DO_NOT_TRACK: 'true'},
    })
    expect(importStep.describe(state)).toEqual({actions: [], commands: [command]})
    expect(importStep).toMatchObject({id: 'import', failure: 'import'})
  })

  it('really spawns it, with the AWS credentials of the target (MLflow may read S3)', async () => {
    const {state, bin} = stepFixture({env: {AWS_ACCESS_KEY_ID: 'AKIAFAKE', AWS_SECRET_ACCESS_KEY: 'secret'}})
    const io = recordingIo()
    await importStep.run(state, io)
    expect(io.lines[0]).toBe(`$ BENTOML_DO_NOT_TRACK=true ${bin.dir}/python create_bento_model.py`)
    expect(io.lines).toContain('Model(tag="iris-classifier:abc") imported')
    const [call] = bin.calls()
    expect(call).toMatchObject({tool: 'python', step: 'import', cwd: state.config.target.dir})
    expect(call!.env.BENTOML_DO_NOT_TRACK).toBe('true')
  })

  it('fails with class import (4), the traceback line as the message', async () => {
    const {state} = stepFixture({env: {FAKE_FAIL: 'import'}})
    const host = new RecordingHost()
    const run = newRun([importStep], state)
    await runPlans([importStep], [run], {host, signal: new AbortController().signal})
    expect(run.failure).toMatchObject({
      kind: 'import',
      exitCode: ExitCode.import,
      reason: 'child:exit',
      step: 'import',
    })
    expect(run.failure!.message).toBe(
      "Importing the model (create_bento_model.py) failed (exit code 1): mlflow.exceptions.MlflowException: Run 'abc' not found (create_bento_model.py, line 3)",
    )
    expect(host.ends).toEqual([['import', 'failed']])
  })

  it('a missing Python is class import too (child:missing)', async () => {
    const {state} = stepFixture({env: {MLDEPLOY_PYTHON: '/nonexistent/python'}})
    const error = await importStep.run(state, recordingIo()).catch((caught: unknown) => caught)
    expect(classify(error, importStep.failure)).toMatchObject({kind: 'import', reason: 'child:missing'})
  })

  it('is the one child that sees the AWS credentials of the target', async () => {
    const {state, bin} = stepFixture({
      env: {AWS_ACCESS_KEY_ID: 'AKIAFAKEIMPORT', AWS_SECRET_ACCESS_KEY: 'import-secret'},
    })
    state.config.python.value.command = scriptTool(
      bin.dir,
      'env-python',
      "console.log('key=' + (process.env.AWS_ACCESS_KEY_ID ?? 'none'))",
    )
    const io = recordingIo()
    await importStep.run(state, io)
    expect(io.lines).toContain('key=AKIAFAKEIMPORT')
    expect(importStep.title).toBe('Import the model into BentoML')
  })
})
