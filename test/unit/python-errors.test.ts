import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {OutputBlock} from '../../src/output-block.js'
import type {ChildResult} from '../../src/process.js'
import {
  explainPythonFailure,
  formatRootCause,
  KNOWN_TESTS,
  mayMatter,
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
        // As text, and as a child's bytes.
        const byText = new PythonOutputScanner()
        const byBytes = new PythonOutputScanner()
        for (let i = 0; i < lines.length; i += size) {
          const block = lines.slice(i, i + size).join('\n')
          byText.pushBlock(OutputBlock.ofText(block))
          byBytes.pushBlock(OutputBlock.ofBytes(Buffer.from(block)))
        }
        expect(byText.lines(), `${name} in blocks of ${size}`).toEqual(byLine.lines())
        expect(byBytes.lines(), `${name} in byte blocks of ${size}`).toEqual(byLine.lines())
      }
    }
  })

  it("each known cause's hints are in every text its pattern matches", () => {
    const samples = [
      'mlflow.exceptions.RestException: RESOURCE_DOES_NOT_EXIST: Run abc not found',
      'MlflowException: registered model with name=churn not found',
      'MlflowException: Run with id=abc not found',
      'MLFLOW: REGISTERED MODEL WITH NAME=churn NOT FOUND',
      'rUN wITH iD=abc Not Found',
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
          known.hints.some((hint) => (known.anyCase ? sample.toLowerCase() : sample).includes(hint)),
          sample,
        ).toBe(true)
      // The block test finds them, among other lines, as text and as bytes.
      const block = `INFO a=1 b=2\n${sample}\nINFO done`
      expect(mayMatter(OutputBlock.ofText(block)), sample).toBe(true)
      expect(mayMatter(OutputBlock.ofBytes(Buffer.from(block))), sample).toBe(true)
    }
    // Any-case hints are lower case and hold a character that is not a letter (the one searched).
    for (const known of KNOWN_TESTS.filter((each) => each.anyCase))
      for (const hint of known.hints) expect(hint).toMatch(/^[^A-Z]*[^A-Za-z][^A-Z]*$/)
    // A log of key=value pairs (or of ids) is not looked at line by line.
    expect(
      mayMatter(OutputBlock.ofBytes(Buffer.from('INFO name=x id=3 with id=4 run=5\n'.repeat(100)))),
    ).toBe(false)
    expect(mayMatter(OutputBlock.ofText('Traceback (most recent call last):'))).toBe(true)
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

  const traceback = [
    'Traceback (most recent call last):',
    '  File "/app/service.py", line 5, in <module>',
    'KeyError: k',
  ]

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

  it('names a signal instead of an exit code, and shows the last 12 lines of the tail', () => {
    const tail = [...Array.from({length: 14}, (_, i) => `line ${i}`), ...traceback]
    const error = explainPythonFailure(
      traceback,
      {...result(tail), exitCode: undefined, signal: 'SIGKILL'},
      {
        doing: 'Building the bento',
      },
    )
    expect(error).toMatchObject({
      reason: 'signal',
      signal: 'SIGKILL',
      exitCode: undefined,
      message: 'Building the bento failed (signal SIGKILL): KeyError: k (/app/service.py, line 5)',
      detail: tail.slice(-12).join('\n'),
    })
    // No known cause, so no hint of one.
    expect(error?.hint).toBeUndefined()
    const exited = explainPythonFailure(traceback, result(traceback), {doing: 'Building the bento'})
    expect(exited).toMatchObject({reason: 'exit', exitCode: 1, signal: undefined})
    expect(exited?.message).toBe(
      'Building the bento failed (exit code 1): KeyError: k (/app/service.py, line 5)',
    )
    expect(explainPythonFailure(traceback, result(traceback), {doing: 'x', cwd: '/app'})?.message).toBe(
      'x failed (exit code 1): KeyError: k (service.py, line 5)',
    )
  })

  it('gives the hint of a known cause', () => {
    const lines = ['ConnectionRefusedError: [Errno 111] Connection refused']
    expect(explainPythonFailure(lines, result(lines), {doing: 'x'})?.hint).toBe(
      'Turn on the VPN and check MLFLOW_TRACKING_URI (mldeploy doctor checks both).',
    )
  })

  it('leaves unknown output to the default message', () => {
    expect(explainPythonFailure(['boom'], result(['boom']), {doing: 'x'})).toBeUndefined()
  })
})

describe('rootCause on the shapes the fixtures do not have', () => {
  const TRACKING_HINT = 'Turn on the VPN and check MLFLOW_TRACKING_URI (mldeploy doctor checks both).'

  it('names the server from urllib3 connection pools, http and https, else the tracking server', () => {
    const refused = (pool: string): string[] => [
      `requests.exceptions.ConnectionError: ${pool}: Max retries exceeded with url: /api/2.0/mlflow/runs/get`,
      'urllib3.exceptions.NewConnectionError: Failed to establish a new connection: [Errno 111] Connection refused',
    ]
    expect(rootCause(refused("HTTPSConnectionPool(host='mlflow.corp', port=443)"))).toEqual({
      message: 'Cannot reach https://mlflow.corp:443: connection refused.',
      hint: TRACKING_HINT,
    })
    expect(rootCause(refused("HTTPConnectionPool(host='10.1.2.3', port=5000)"))).toEqual({
      message: 'Cannot reach http://10.1.2.3:5000: connection refused.',
      hint: TRACKING_HINT,
    })
    expect(rootCause(['ConnectionRefusedError: [Errno 111] Connection refused'])).toEqual({
      message: 'Cannot reach the MLflow tracking server: connection refused.',
      hint: TRACKING_HINT,
    })
  })

  it('names a host that does not resolve', () => {
    expect(
      rootCause([
        'MlflowException: API request to http://mlflow.internal:5000/api/2.0/mlflow/runs/get failed',
        'socket.gaierror: [Errno -2] Name or service not known',
      ]),
    ).toEqual({
      message: 'Cannot resolve the host of the MLflow tracking server at http://mlflow.internal:5000.',
      hint: TRACKING_HINT,
    })
    expect(rootCause(['NameResolutionError: no host'])).toEqual({
      message: 'Cannot resolve the host of the MLflow tracking server.',
      hint: TRACKING_HINT,
    })
  })

  it('names a missing model or run that MLflow reports without its error code', () => {
    expect(rootCause(['MlflowException: Registered Model with name=churn-x not found'])).toEqual({
      message: 'MLflow: Registered Model with name=churn-x not found',
      hint: 'Check the model URI in create_bento_model.py and that MLFLOW_TRACKING_URI names the right server.',
    })
  })

  it('reads the exception line trimmed, across blank and indented lines, and cuts a long one', () => {
    const traceback = (exception: string): string[] => [
      'Traceback (most recent call last):',
      '  File "/app/main.py", line 4, in <module>',
      '    run()',
      '',
      // A line of spaces too (a blank line of indented source).
      '      ',
      `${exception}   `,
    ]
    expect(rootCause(traceback('ValueError: bad input'))).toEqual({
      message: 'ValueError: bad input',
      file: '/app/main.py',
      line: 4,
    })
    const long = `ValueError: ${'x'.repeat(300)}`
    expect(rootCause(traceback(long))?.message).toBe(`${long.slice(0, 297)}...`)
    const exactly300 = `ValueError: ${'y'.repeat(288)}`
    expect(rootCause(traceback(exactly300))?.message).toBe(exactly300)
  })

  it('is undefined for a traceback cut before its exception line', () => {
    expect(
      rootCause(['Traceback (most recent call last):', '  File "/app/main.py", line 4, in <module>']),
    ).toBe(undefined)
  })

  it("points at the innermost of the user's frames, else at the innermost frame", () => {
    expect(
      rootCause([
        'Traceback (most recent call last):',
        '  File "/app/main.py", line 4, in <module>',
        '  File "/app/helper.py", line 9, in load',
        '  File "/venv/lib/python3.12/site-packages/mlflow/store.py", line 88, in get',
        'OSError: no such file',
      ]),
    ).toEqual({message: 'OSError: no such file', file: '/app/helper.py', line: 9})
    expect(
      rootCause([
        'Traceback (most recent call last):',
        '  File "/usr/lib/python3.12/runpy.py", line 1, in _run',
        '  File "/venv/lib/python3.12/site-packages/a.py", line 2, in b',
        '  File "/venv/lib/python3.12/site-packages/c.py", line 3, in d',
        'OSError: deep inside',
      ]),
    ).toEqual({message: 'OSError: deep inside', file: '/venv/lib/python3.12/site-packages/c.py', line: 3})
  })

  it('shows a file relative to the folder only when it is inside it', () => {
    const lines = (file: string): string[] => [
      'Traceback (most recent call last):',
      `  File "${file}", line 7, in <module>`,
      'KeyError: k',
    ]
    expect(rootCause(lines('/work/proj/src/a.py'), {cwd: '/work/proj'})?.file).toBe('src/a.py')
    expect(rootCause(lines('/work/other/a.py'), {cwd: '/work/proj'})?.file).toBe('/work/other/a.py')
  })

  it('follows a chain whose exception message runs over several lines', () => {
    expect(
      rootCause([
        'Traceback (most recent call last):',
        '  File "/app/a.py", line 10, in <module>',
        'ValueError: the first one',
        'its second line',
        'During handling of the above exception, another exception occurred:',
        'Traceback (most recent call last):',
        '  File "/app/b.py", line 20, in <module>',
        'RuntimeError: the last one',
      ]),
    ).toEqual({message: 'ValueError: the first one', file: '/app/a.py', line: 10})
  })
})

describe('formatRootCause', () => {
  it('adds the file and line, dropping only a final full stop', () => {
    expect(formatRootCause({message: "No module named 'a.b'."})).toBe("No module named 'a.b'.")
    expect(formatRootCause({message: "No module named 'a.b'.", file: 'service.py'})).toBe(
      "No module named 'a.b' (service.py)",
    )
    expect(formatRootCause({message: 'v1.2 failed', file: 'service.py', line: 3})).toBe(
      'v1.2 failed (service.py, line 3)',
    )
  })
})

describe('PythonOutputScanner, what it keeps', () => {
  const traceback = (name: string, exception: string): string[] => [
    'Traceback (most recent call last):',
    `  File "/app/${name}.py", line 1, in <module>`,
    exception,
  ]

  it('keeps nothing of quiet output but its last 40 lines', () => {
    const scanner = new PythonOutputScanner()
    const lines = Array.from({length: 45}, (_, i) => `log ${i}`)
    for (const line of lines) scanner.push(line)
    expect(scanner.lines()).toEqual(lines.slice(5))
    const byBlock = new PythonOutputScanner()
    byBlock.pushBlock(OutputBlock.ofBytes(Buffer.from(lines.join('\n'))))
    expect(byBlock.lines()).toEqual(lines.slice(5))
    expect(new PythonOutputScanner().lines()).toEqual([])
  })

  it('keeps the known-cause lines before the chain, the chain, then the lines after it', () => {
    const scanner = new PythonOutputScanner()
    const chain = traceback('a', 'ConnectionRefusedError: [Errno 111] Connection refused')
    for (const line of ['log 1', 'urllib3: Connection refused once', 'log 2', ...chain, 'after 1', 'after 2'])
      scanner.push(line)
    // The known line inside the chain is kept once, in the chain.
    expect(scanner.lines()).toEqual(['urllib3: Connection refused once', ...chain, 'after 1', 'after 2'])
  })

  it('keeps at most 50 known-cause lines', () => {
    const scanner = new PythonOutputScanner()
    const lines = Array.from({length: 60}, (_, i) => `Connection refused ${i}`)
    for (const line of lines) scanner.push(line)
    expect(scanner.lines()).toEqual([...lines.slice(0, 50), ...lines.slice(20)])
  })

  it('keeps a chain joined by a chain line with blank lines around it, whole', () => {
    const scanner = new PythonOutputScanner()
    const lines = [
      ...traceback('a', 'KeyError: a'),
      '',
      'During handling of the above exception, another exception occurred:',
      '   ',
      ...traceback('b', 'ValueError: b'),
    ]
    for (const line of ['log', ...lines]) scanner.push(line)
    expect(scanner.lines()).toEqual(lines)
  })

  it('starts a new chain at a traceback that follows other output', () => {
    const scanner = new PythonOutputScanner()
    for (const line of [
      ...traceback('a', 'KeyError: a'),
      'retrying',
      ...traceback('b', 'ValueError: b'),
      'bye',
    ])
      scanner.push(line)
    expect(scanner.lines()).toEqual([...traceback('b', 'ValueError: b'), 'bye'])
  })

  it('holds at most 3000 lines of a chain; the rest go to the last lines', () => {
    const scanner = new PythonOutputScanner()
    const frames = Array.from({length: 3004}, (_, i) => `  File "/app/f${i}.py", line 1, in f`)
    const lines = ['Traceback (most recent call last):', ...frames]
    for (const line of lines) scanner.push(line)
    expect(scanner.lines()).toEqual(lines)
    expect(scanner.lines().length).toBe(3005)
    const bigger = new PythonOutputScanner()
    for (const line of [...lines, ...Array.from({length: 50}, (_, i) => `tail ${i}`)]) bigger.push(line)
    expect(bigger.lines().slice(0, 3000)).toEqual(lines.slice(0, 3000))
    expect(bigger.lines().length).toBe(3040)
  })
})
