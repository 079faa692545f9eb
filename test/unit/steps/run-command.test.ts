import {describe, expect, it, vi} from 'vitest'

import {ChildError, RegistryError} from '../../../src/errors.js'
import {lastMeaningfulLine, runPlanned} from '../../../src/steps/run-command.js'
import {scriptTool, stepFixture} from '../../helpers/deploy-state.js'
import {recordingIo} from '../../helpers/recording-host.js'

/** A state whose children see AWS credentials in their environment, and a tool that prints its own. */
function fixture() {
  const f = stepFixture({env: {AWS_ACCESS_KEY_ID: 'AKIAFAKEKEY', AWS_SECRET_ACCESS_KEY: 'fake-secret-key'}})
  const tool = scriptTool(
    f.bin.dir,
    'tool',
    `let input = ''
process.stdin.on('data', (d) => (input += d)).on('end', () => {
  console.log('key=' + (process.env.AWS_ACCESS_KEY_ID ?? 'none'))
  console.log('stdin=' + input)
  console.error(process.argv[2] ?? '')
  process.exit(Number(process.env.EXIT ?? 0))
})`,
  )
  return {...f, tool}
}

describe("runPlanned (the steps' one way to run a child)", () => {
  it('shows the command, streams the output, and keeps AWS credentials away unless asked', async () => {
    const {state, tool} = fixture()
    const io = recordingIo()
    const result = await runPlanned(
      state,
      io,
      {command: tool, args: ['hello'], cwd: state.config.target.dir},
      {
        step: 'build',
        doing: 'Testing',
        input: 'on stdin',
      },
    )
    expect(io.lines[0]).toBe(`$ ${tool} hello`)
    expect(io.lines).toEqual(expect.arrayContaining(['key=none', 'stdin=on stdin', 'hello']))
    expect(result.exitCode).toBe(0)
  })

  it("gives the target's AWS credentials to the one child that needs them", async () => {
    const {state, tool} = fixture()
    const io = recordingIo()
    await runPlanned(
      state,
      io,
      {command: tool, args: [], cwd: state.config.target.dir},
      {
        step: 'import',
        doing: 'Importing',
        awsCredentials: true,
      },
    )
    expect(io.lines).toContain('key=AKIAFAKEKEY')
  })

  it('passes each line to onLine and an explained failure wins over the exit code', async () => {
    const {state, tool} = fixture()
    state.config.childEnv.EXIT = '3'
    const lines: string[] = []
    const explain = vi.fn((tail: string[]) =>
      tail.includes('no basic auth credentials')
        ? new RegistryError('login-refused', 'explained')
        : undefined,
    )
    const command = {command: tool, args: ['no basic auth credentials'], cwd: state.config.target.dir}
    const error = await runPlanned(state, recordingIo(), command, {
      step: 'push',
      doing: 'Pushing',
      onLine: (line) => lines.push(line),
      explain,
    }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(RegistryError)
    expect(lines).toContain('no basic auth credentials')
    expect(explain).toHaveBeenCalledOnce()
  })

  it('an unexplained failure is a ChildError with the exit code and the last line', async () => {
    const {state, tool} = fixture()
    state.config.childEnv.EXIT = '2'
    const error = await runPlanned(
      state,
      recordingIo(),
      {command: tool, args: ['the end'], cwd: state.config.target.dir},
      {
        step: 'build',
        doing: 'Building',
        explain: () => undefined,
      },
    ).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ChildError)
    expect(error).toMatchObject({
      reason: 'exit',
      exitCode: 2,
      message: 'Building failed (exit code 2): the end',
    })
  })

  it('the step\'s time limit applies; a timeout is never "explained"', async () => {
    const {state, bin} = fixture()
    const slow = scriptTool(
      bin.dir,
      'slow',
      "console.log('no basic auth credentials'); setTimeout(() => {}, 60000)",
    )
    state.config.timeouts.login = 300
    const explain = vi.fn(() => new RegistryError('login-refused', 'explained'))
    const error = await runPlanned(
      state,
      recordingIo(),
      {command: slow, args: [], cwd: state.config.target.dir},
      {
        step: 'login',
        doing: 'Logging in',
        explain,
      },
    ).catch((caught: unknown) => caught)
    expect(error).toMatchObject({
      reason: 'timeout',
      hint: 'If it needs longer, raise the limit: --timeout login=<duration>.',
    })
    expect(explain).not.toHaveBeenCalled()
  })

  it('an interrupt cancels the child: child:canceled, never explained', async () => {
    const {state, bin} = fixture()
    const slow = scriptTool(bin.dir, 'slow', "console.log('started'); setTimeout(() => {}, 60000)")
    const controller = new AbortController()
    const io = recordingIo(controller.signal)
    const output = io.output
    io.output = (text) => {
      output(text)
      if (text.includes('started')) controller.abort('SIGINT')
    }
    const explain = vi.fn(() => new RegistryError('transient', 'explained'))
    const error = await runPlanned(
      state,
      io,
      {command: slow, args: [], cwd: state.config.target.dir},
      {
        step: 'push',
        doing: 'Pushing',
        explain,
      },
    ).catch((caught: unknown) => caught)
    expect(error).toMatchObject({reason: 'canceled'})
    expect(explain).not.toHaveBeenCalled()
  })

  it('a missing executable is child:missing, never explained', async () => {
    const {state} = fixture()
    const explain = vi.fn(() => new RegistryError('transient', 'explained'))
    const error = await runPlanned(
      state,
      recordingIo(),
      {command: 'no-such-tool-here', args: [], cwd: state.config.target.dir},
      {
        step: 'push',
        doing: 'Pushing',
        explain,
      },
    ).catch((caught: unknown) => caught)
    expect(error).toMatchObject({reason: 'missing'})
    expect(explain).not.toHaveBeenCalled()
  })

  it('re-exports lastMeaningfulLine', () => {
    expect(lastMeaningfulLine(['a', 'ValueError: boom', '  '])).toBe('ValueError: boom')
  })

  it('a chunk of several lines reaches the output as lines', async () => {
    const {state, bin} = fixture()
    const tool = scriptTool(bin.dir, 'burst', "process.stdout.write('one\\ntwo\\nthree\\n')")
    const io = recordingIo()
    await runPlanned(
      state,
      io,
      {command: tool, args: [], cwd: state.config.target.dir},
      {step: 'build', doing: 'x'},
    )
    expect(io.lines.slice(1)).toEqual(['one', 'two', 'three'])
  })

  it('a child that succeeds is never "explained" into a failure, whatever it printed', async () => {
    const {state, tool} = fixture()
    const explain = vi.fn(() => new RegistryError('login-refused', 'explained'))
    const command = {command: tool, args: ['unauthorized'], cwd: state.config.target.dir}
    await runPlanned(state, recordingIo(), command, {step: 'push', doing: 'Pushing', explain})
    expect(explain).not.toHaveBeenCalled()
  })
})
