import {formatDuration} from '../duration.js'
import {ChildError} from '../errors.js'
import type {ChildResult} from '../process.js'

/** What a failed child was doing, for the message: the same words whichever step ran it. */
export interface ChildContext {
  /** The executable, as it was started (named when it is missing). */
  command: string
  /** What the command does: "Importing the model". */
  doing: string
  /** The step whose `--timeout` applies, for the hint when the child ran out of time. */
  step?: string
  /** The limit the child had, for the timeout message. */
  timeoutMs?: number
}

/** How many of the last output lines a failure keeps as its detail. */
export const SHOWN_TAIL_LINES = 12

/** The typed error for a child that did not succeed, or undefined when it did (exit 0). */
export function childFailure(result: ChildResult, context: ChildContext): ChildError | undefined {
  const {command, doing} = context
  const detail = result.tail.slice(-SHOWN_TAIL_LINES).join('\n')
  if (result.spawnErrorCode === 'ENOENT') {
    return new ChildError('missing', `${doing} failed: ${command} was not found.`, {
      hint: `Install it or put it on PATH (current PATH has no ${command}).`,
    })
  }
  if (result.spawnErrorCode !== undefined) {
    // EACCES, ENOEXEC...: there is a file, but it cannot be run.
    return new ChildError(
      'missing',
      `${doing} failed: ${command} could not be started (${result.spawnErrorCode}).`,
      {
        hint: `Check that ${command} is an executable file.`,
      },
    )
  }
  if (result.canceled) return new ChildError('canceled', `${doing} was interrupted.`)
  if (result.timedOut) {
    const limit = context.timeoutMs === undefined ? 'its time limit' : formatDuration(context.timeoutMs)
    return new ChildError('timeout', `${doing} did not finish within ${limit} and was stopped.`, {
      ...(context.step === undefined
        ? {}
        : {hint: `If it needs longer, raise the limit: --timeout ${context.step}=<duration>.`}),
      detail,
    })
  }
  if (result.exitCode === 0) return undefined
  const why = result.signal === undefined ? `exit code ${result.exitCode}` : `signal ${result.signal}`
  return new ChildError(
    result.signal === undefined ? 'exit' : 'signal',
    `${doing} failed (${why}): ${lastMeaningfulLine(result.tail)}`,
    {
      detail,
      ...(result.exitCode === undefined ? {} : {exitCode: result.exitCode}),
      ...(result.signal === undefined ? {} : {signal: result.signal}),
    },
  )
}

/** The result when the child succeeded; its typed error otherwise. */
export function checkChild(result: ChildResult, context: ChildContext): ChildResult {
  const failure = childFailure(result, context)
  if (failure !== undefined) throw failure
  return result
}

/** The last line that says something (tracebacks end with the exception line). */
export function lastMeaningfulLine(tail: readonly string[]): string {
  for (let i = tail.length - 1; i >= 0; i--) {
    const line = tail[i]?.trim()
    if (line) return line.length > 300 ? `${line.slice(0, 297)}...` : line
  }
  return 'no output'
}
