import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import type {ChildResult} from '../../src/process.js'
import {
  explainPythonFailure,
  formatRootCause,
  KNOWN_TESTS,
  PythonOutputScanner,
  rootCause,
} from '../../src/systems/python-errors.js'

// Real outputs of failing Python in the project venv: see test/fixtures/python/README.md.
const fixture = (name: string): string[] =>
  readFileSync(path.join('test/fixtures/python', name), 'utf8').replace(/\n$/, '').split('\n')
const cwd = '/home/ana/churn/deploy/churn/V1'

/** The output as the runner streams it, with a long log before it. */
function scanned(lines: string[], noise = 5000): string[] {
  const scanner = new PythonOutputScanner()
  for (let i = 0; i < noise; i++) scanner.push(`2026/11/27 10:00:00 INFO downloading artifact part ${i}`)
  for (const line of lines) scanner.push(line)
  return scanner.lines()
}

describe('rootCause on real Python failures', () => {
  it('names MLflow RESOURCE_DOES_NOT_EXIST, not the UnboundLocalError it caused', () => {
    const lines = fixture('import-model-not-found.txt')
    expect(lines.at(-1)).toMatch(/^UnboundLocalError: cannot access local variable 'local_path'/)
    const cause = rootCause(lines, {cwd})
    expect(cause).toMatchObject({
      message: 'MLflow: RESOURCE_DOES_NOT_EXIST: Registered Model with name=churn not found',
      file: 'create_bento_model.py',
      line: 19,
    })
    expect(cause?.hint).toMatch(/MLFLOW_TRACKING_URI/)
    expect(formatRootCause(cause!)).toBe(
      'MLflow: RESOURCE_DOES_NOT_EXIST: Registered Model with name=churn not found (create_bento_model.py, line 19)',
    )
  })

  it('names a missing run', () => {
    expect(rootCause(fixture('import-run-not-found.txt'), {cwd})?.message).toBe(
      'MLflow: RESOURCE_DOES_NOT_EXIST: Run with id=0123456789abcdef0123456789abcdef not found',
    )
  })

  it('names the tracking server that refuses connections', () => {
    const cause = rootCause(fixture('import-refused.txt'), {cwd})
    expect(cause).toMatchObject({
      message: 'Cannot reach the MLflow tracking server at http://127.0.0.1:5999: connection refused.',
      file: 'create_bento_model.py',
      line: 19,
    })
    expect(cause?.hint).toMatch(/VPN/)
  })

  it('gives the file and line of a SyntaxError in service.py', () => {
    const cause = rootCause(fixture('build-syntax-error.txt'), {cwd})
    expect(cause).toMatchObject({message: 'SyntaxError: invalid syntax', file: 'service.py', line: 56})
    expect(formatRootCause(cause!)).toBe('SyntaxError: invalid syntax (service.py, line 56)')
  })

  it('recognises a missing module, in a traceback or in bentoml build error line', () => {
    expect(rootCause(fixture('import-no-module.txt'), {cwd})).toMatchObject({
      message: "No module named 'xgboostx'.",
      file: 'create_bento_model.py',
      line: 11,
      hint: expect.stringContaining('pipenv install xgboostx'),
    })
    // bentoml's last line is its own advice, not the error.
    const build = fixture('build-no-module.txt')
    expect(build.at(-1)).toMatch(/^If you are trying to import a runtime-only module/)
    expect(rootCause(build, {cwd})).toEqual({
      message: "No module named 'lightgbmx'.",
      hint: expect.stringContaining('lightgbmx'),
    })
  })

  it('keeps library paths whole and is undefined for output it cannot read', () => {
    expect(rootCause(fixture('build-syntax-error.txt'))?.file).toBe(
      '/home/ana/churn/deploy/churn/V1/service.py',
    )
    expect(rootCause(fixture('build-model-missing.txt'))).toBeUndefined()
    expect(rootCause([])).toBeUndefined()
  })

  it('follows only the chain that ended the process, to its first exception', () => {
    const lines = [
      'Traceback (most recent call last):',
      '  File "/app/early.py", line 3, in <module>',
      'KeyError: logged and handled earlier',
      'more log',
      'Traceback (most recent call last):',
      '  File "/app/a.py", line 10, in <module>',
      'ValueError: the first one',
      '',
      'The above exception was the direct cause of the following exception:',
      '',
      'Traceback (most recent call last):',
      '  File "/app/b.py", line 20, in <module>',
      'RuntimeError: the last one',
    ]
    expect(rootCause(lines)).toEqual({message: 'ValueError: the first one', file: '/app/a.py', line: 10})
  })
})

describe('PythonOutputScanner', () => {
  it('keeps the cause of a long run that the 40-line tail would lose', () => {
    for (const name of [
      'import-model-not-found.txt',
      'import-refused.txt',
      'build-syntax-error.txt',
      'build-no-module.txt',
      'import-no-module.txt',
    ]) {
      const lines = fixture(name)
      expect(rootCause(scanned(lines), {cwd}), name).toEqual(rootCause(lines, {cwd}))
    }
    // The plain tail of the refused import starts mid-chain: the scanner's view does not.
    expect(scanned(fixture('import-refused.txt')).length).toBeLessThan(200)
  })

  it('keeps the same lines when fed blocks of a chunk size as when fed line by line', () => {
    const names = [
      'import-model-not-found.txt',
      'import-refused.txt',
      'build-syntax-error.txt',
      'build-no-module.txt',
      'import-no-module.txt',
    ]
    for (const name of names) {
      const lines = [
        ...Array.from({length: 3000}, (_, i) => (i % 7 === 0 ? '' : `INFO downloading artifact part ${i}`)),
        ...fixture(name),
        ...Array.from({length: 100}, (_, i) => `after ${i}`),
      ]
      const byLine = new PythonOutputScanner()
      for (const line of lines) byLine.push(line)
      for (const size of [1, 7, 64, 1000]) {
        const byBlock = new PythonOutputScanner()
        for (let i = 0; i < lines.length; i += size) byBlock.pushText(lines.slice(i, i + size).join('\n'))
        expect(byBlock.lines(), `${name} in blocks of ${size}`).toEqual(byLine.lines())
      }
    }
  })

  it("each known cause's hints are in every text its pattern matches", () => {
    const samples = [
      'mlflow.exceptions.RestException: RESOURCE_DOES_NOT_EXIST: Run abc not found',
      'MlflowException: registered model with name=churn not found',
      'MlflowException: Run with id=abc not found',
      'urllib3.exceptions.NewConnectionError: [Errno 111] Connection refused',
      'ConnectionRefusedError: boom',
      'NameResolutionError: x',
      'socket.gaierror: [Errno -3] Temporary failure in name resolution',
      'socket.gaierror: [Errno -2] Name or service not known',
      'nodename nor servname provided, or not known',
      "ModuleNotFoundError: No module named 'sklearn'",
    ]
    for (const sample of samples) {
      const matching = KNOWN_TESTS.filter((known) => known.test.test(sample))
      expect(matching.length, sample).toBeGreaterThan(0)
      for (const known of matching)
        expect(
          known.hints.some((hint) => sample.includes(hint)),
          sample,
        ).toBe(true)
    }
  })

  it('starts over at a traceback that is not chained to the previous one', () => {
    const scanner = new PythonOutputScanner()
    for (const line of ['Traceback (most recent call last):', '  File "/a.py", line 1', 'KeyError: old'])
      scanner.push(line)
    for (let i = 0; i < 100; i++) scanner.push(`log ${i}`)
    for (const line of ['Traceback (most recent call last):', '  File "/b.py", line 2', 'OSError: new'])
      scanner.push(line)
    expect(rootCause(scanner.lines())).toEqual({message: 'OSError: new', file: '/b.py', line: 2})
  })
})

describe('explainPythonFailure', () => {
  const result = (tail: string[]): ChildResult => ({
    exitCode: 1,
    timedOut: false,
    canceled: false,
    tail,
    durationMs: 1,
  })

  it('is a ChildError whose line names the root cause', () => {
    const lines = fixture('import-model-not-found.txt')
    const error = explainPythonFailure(lines, result(lines.slice(-40)), {
      doing: 'Importing the model (create_bento_model.py)',
      cwd,
    })
    expect(error).toMatchObject({
      domain: 'child',
      reason: 'exit',
      exitCode: 1,
      message:
        'Importing the model (create_bento_model.py) failed (exit code 1): MLflow: RESOURCE_DOES_NOT_EXIST: Registered Model with name=churn not found (create_bento_model.py, line 19)',
    })
    expect(error?.detail).toMatch(/UnboundLocalError/)
  })

  it('leaves unknown output to the default message', () => {
    expect(explainPythonFailure(['boom'], result(['boom']), {doing: 'x'})).toBeUndefined()
  })
})
