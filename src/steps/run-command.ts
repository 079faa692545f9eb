import {ChildError, type MldeployError} from '../errors.js'
import {formatDuration} from '../config/timeouts.js'
import type {DeployState, StepId} from '../pipeline/state.js'
import type {PlannedCommand, StepIO} from '../pipeline/step.js'
import {type ChildResult, formatCommand, runChild} from '../process.js'

export interface RunPlannedOptions {
  /** What the command does, for messages: "Importing the model". */
  doing: string
  input?: string
  onLine?: (line: string) => void
  /** Turns a failed child's output into a clearer error, when its text is recognised. */
  explain?: (tail: string[], result: ChildResult) => MldeployError | undefined
  /** The step whose time limit applies. */
  step: StepId
}

const SHOWN_TAIL_LINES = 12

/** Run one planned command with live output; a failure becomes a ChildError with the output's tail. */
export async function runPlanned(
  state: DeployState,
  io: StepIO,
  command: PlannedCommand,
  options: RunPlannedOptions,
): Promise<ChildResult> {
  io.output(`$ ${formatCommand(command, state.secrets)}`)
  const result = await runChild({
    ...command,
    baseEnv: state.config.childEnv,
    ...(options.input === undefined ? {} : {input: options.input}),
    secrets: state.secrets,
    signal: io.signal,
    timeoutMs: state.config.timeouts[options.step],
    ...(options.onLine === undefined ? {} : {onLine: options.onLine}),
    onLines: (lines) => io.output(lines.join('\n')),
  })
  if (result.spawnErrorCode === 'ENOENT') {
    throw new ChildError('missing', `${options.doing} failed: ${command.command} was not found.`, {
      hint: `Install it or put it on PATH (current PATH has no ${command.command}).`,
    })
  }
  if (result.canceled) throw new ChildError('canceled', `${options.doing} was interrupted.`)
  if (result.timedOut) {
    const limit = formatDuration(state.config.timeouts[options.step])
    throw new ChildError('timeout', `${options.doing} did not finish within ${limit} and was stopped.`, {
      hint: `If it needs longer, raise the limit: --timeout ${options.step}=<duration>.`,
      detail: result.tail.slice(-SHOWN_TAIL_LINES).join('\n'),
    })
  }
  if (result.exitCode !== 0) {
    const explained = options.explain?.(result.tail, result)
    if (explained !== undefined) throw explained
    const why = result.signal === undefined ? `exit code ${result.exitCode}` : `signal ${result.signal}`
    throw new ChildError(
      result.signal === undefined ? 'exit' : 'signal',
      `${options.doing} failed (${why}): ${lastMeaningfulLine(result.tail)}`,
      {
        detail: result.tail.slice(-SHOWN_TAIL_LINES).join('\n'),
        ...(result.exitCode === undefined ? {} : {exitCode: result.exitCode}),
        ...(result.signal === undefined ? {} : {signal: result.signal}),
      },
    )
  }
  return result
}

/** The last line that says something (tracebacks end with the exception line). */
export function lastMeaningfulLine(tail: string[]): string {
  for (let i = tail.length - 1; i >= 0; i--) {
    const line = tail[i]?.trim()
    if (line) return line.length > 300 ? `${line.slice(0, 297)}...` : line
  }
  return 'no output'
}
