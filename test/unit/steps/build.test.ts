import {describe, expect, it} from 'vitest'

import {classify} from '../../../src/errors.js'
import {buildCommand, buildStep} from '../../../src/steps/build.js'
import {scriptTool, stepFixture} from '../../helpers/deploy-state.js'
import {recordingIo} from '../../helpers/recording-host.js'

async function failure(run: Promise<void>) {
  const error = await run.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error, 'the step failed').toBeDefined()
  return classify(error, buildStep.failure, {step: 'build'})
}

describe('the build step', () => {
  it('runs python -m bentoml build -o tag in the target folder, wide and quiet', () => {
    const {state, bin} = stepFixture({flags: {'bento-version': 'v9'}})
    expect(buildCommand(state)).toEqual({
      command: `${bin.dir}/python`,
      args: ['-m', 'bentoml', 'build', '-o', 'tag', '--version', 'v9'],
      cwd: state.config.target.dir,
      env: {COLUMNS: '10000', BENTOML_DO_NOT_TRACK: 'true', NO_COLOR: '1', PYTHONUNBUFFERED: '1'},
    })
    expect(buildStep.describe(state).commands).toEqual([buildCommand(state)])
    expect(buildStep).toMatchObject({id: 'build', failure: 'build'})
  })

  it('reads the bento tag from the __tag__ line as it streams and keeps it on the state', async () => {
    const {state, bin} = stepFixture()
    const io = recordingIo()
    await buildStep.run(state, io)
    expect(state.bentoTag).toBe('iris_service:f3k2qyq5lsoaaaab')
    expect(state.bentoVersion).toBe('f3k2qyq5lsoaaaab')
    expect(io.lines.at(-1)).toBe('bento iris_service:f3k2qyq5lsoaaaab')
    expect(bin.calls()[0]!.env.COLUMNS).toBe('10000')
  })

  it('falls back to the "Successfully built" line of the tail', async () => {
    const {state} = stepFixture({env: {FAKE_BUILD_OUTPUT: 'success'}, flags: {'bento-version': 'v2'}})
    await buildStep.run(state, recordingIo())
    expect(state.bentoTag).toBe('iris_service:v2')
  })

  it('no tag printed: check:no-bento-tag, class build (5), with the tail as detail', async () => {
    const {state} = stepFixture({env: {FAKE_BUILD_OUTPUT: 'none'}})
    const error = await failure(buildStep.run(state, recordingIo()))
    expect(error).toMatchObject({kind: 'build', exitCode: 5, reason: 'check:no-bento-tag'})
    expect(error.detail).toContain('nothing useful here')
    expect(error.hint).toContain('1.0.21')
    expect(state.bentoTag).toBeUndefined()
  })

  it('a version other than the one asked for: check:bento-version', async () => {
    const {state, bin} = stepFixture({flags: {'bento-version': 'v2'}})
    // A bentoml that ignores --version.
    state.config.python.value.command = scriptTool(bin.dir, 'other-python', "console.log('__tag__:svc:v7')")
    const error = await failure(buildStep.run(state, recordingIo()))
    expect(error).toMatchObject({kind: 'build', reason: 'check:bento-version'})
    expect(error.message).toBe('bentoml build made svc:v7, not version v2 as asked.')
    expect(state.bentoTag).toBeUndefined()
  })

  it('bentoml failing is class build (5), child:exit', async () => {
    const {state} = stepFixture({env: {FAKE_FAIL: 'build'}})
    const error = await failure(buildStep.run(state, recordingIo()))
    expect(error).toMatchObject({kind: 'build', exitCode: 5, reason: 'child:exit'})
    expect(error.message).toContain('bentoml build failed (exit code 1): Error: [bentos] `build` failed')
  })

  it('reads the tag as it streams by, even when 50 more lines push it out of the kept tail', async () => {
    const {state, bin} = stepFixture()
    state.config.python.value.command = scriptTool(
      bin.dir,
      'chatty-python',
      "console.log('__tag__:svc:v5'); for (let i = 0; i < 50; i++) console.log('service.py says ' + i)",
    )
    await buildStep.run(state, recordingIo())
    expect(state.bentoTag).toBe('svc:v5')
  })

  it('finds the tag line inside a large block of plain lines (read as bytes, never decoded whole)', async () => {
    const {state, bin} = stepFixture()
    state.config.python.value.command = scriptTool(
      bin.dir,
      'block-python',
      "const log = (n) => Array.from({length: n}, (_, i) => 'INFO a chatty line ' + i + ' ünïcode').join('\\n'); process.stdout.write(log(3000) + '\\n__tag__:svc:v6\\n' + log(3000) + '\\n')",
    )
    const io = recordingIo()
    await buildStep.run(state, io)
    expect(state.bentoTag).toBe('svc:v6')
    expect(io.lines).toHaveLength(1 + 6001 + 1)
    expect(io.lines[3001]).toBe('__tag__:svc:v6')
    expect(io.lines[3000]).toBe('INFO a chatty line 2999 ünïcode')
  })

  it('no tag: the message, the hint, and only the last 12 lines as detail', async () => {
    const {state, bin} = stepFixture()
    state.config.python.value.command = scriptTool(
      bin.dir,
      'quiet-python',
      "for (let i = 0; i < 20; i++) console.log('line ' + i)",
    )
    const error = await failure(buildStep.run(state, recordingIo()))
    expect(error.message).toBe('bentoml build succeeded but printed no bento tag.')
    expect(error.detail).toBe(Array.from({length: 12}, (_, i) => `line ${i + 8}`).join('\n'))
  })

  it('is titled for the task list', () => {
    expect(buildStep.title).toBe('Build the bento')
  })
})
