import {
  type DefaultRenderer,
  Listr,
  ListrLogger,
  type ListrTask,
  type ListrTaskWrapper,
  ProcessOutput,
  type SimpleRenderer,
} from 'listr2'

import type {DeployError} from '../errors.js'
import type {OutputBlock} from '../output-block.js'
import type {IoHost, StepEnd, StepRef} from '../pipeline/io-host.js'
import {LineHost} from './line-host.js'
import type {Writer} from './writer.js'

/** How many lines of a running step's child output stay under it: the task list stays on screen. */
export const TAIL_LINES = 4

/**
 * The last `limit` non-empty lines of a step's output after `output` arrives: taken from the
 * block's end (a whole 64 KiB block is never split for four lines).
 */
export function keepTail(tail: readonly string[], output: OutputBlock, limit = TAIL_LINES): string[] {
  let lines: string[] = []
  // Blank lines do not count: look further back until `limit` are found or the block ends.
  for (let count = limit; ; count *= 2) {
    const last = output.lastLines(count)
    lines = last.filter((line) => line.trim() !== '')
    if (lines.length >= limit || last.length < count) break
  }
  return [...tail, ...lines].slice(-limit)
}

/** `12s`, `3m 04s`: a running step's elapsed time next to its title. */
export function formatElapsed(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  if (seconds < 60) return `${seconds}s`
  return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`
}

interface Pending {
  tail: string[]
  /** The latest counts of a long action (the push's layers), which the title keeps showing. */
  progress?: string
  ended: Promise<{end: StepEnd; reason: string | undefined}>
  end(value: StepEnd, error?: DeployError, reason?: string): void
  task?: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>
}

function pending(): Pending {
  let end!: Pending['end']
  const ended = new Promise<{end: StepEnd; reason: string | undefined}>((resolve, reject) => {
    end = (value, error, reason) =>
      value === 'failed' || value === 'interrupted'
        ? reject(error ?? new Error(value))
        : resolve({end: value, reason})
  })
  // A rejection is handled by the task that awaits it; an unused one must not crash the process.
  ended.catch(() => undefined)
  return {ended, end, tail: []}
}

const keyOf = (step: StepRef): string => `${step.target ?? ''}\u0000${step.id}`

/**
 * The animated task list for a person at a terminal (listr2's default renderer on stderr). The
 * engine runs the steps; each listr task only mirrors one step: it starts when the step before it
 * ended and settles when the engine says the step ended.
 */
export class ListrHost implements IoHost {
  private readonly steps = new Map<string, Pending>()
  private running: Promise<unknown> | undefined
  private readonly lines: LineHost

  constructor(
    private readonly stderr: NodeJS.WriteStream,
    writer: Writer,
    private readonly concurrency: number,
  ) {
    this.lines = new LineHost(writer)
  }

  private stepTasks(steps: ReadonlyArray<StepRef>): ListrTask[] {
    return steps.map((step) => {
      const entry = pending()
      this.steps.set(keyOf(step), entry)
      return {
        title: step.title,
        task: async (
          _context: unknown,
          task: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>,
        ) => {
          entry.task = task
          const started = Date.now()
          // The elapsed time next to the title, once a second while the step runs; a step that
          // reports counts shows those instead (they carry their own clock).
          const showElapsed = (): void => {
            if (entry.progress === undefined)
              task.title = `${step.title} (${formatElapsed(Date.now() - started)})`
          }
          const timer = setInterval(showElapsed, 1000)
          timer.unref()
          try {
            const {end, reason} = await entry.ended
            // A step that ran and was not needed says why (`↓ Containerize [skipped: reused ...]`).
            if (end === 'skipped')
              task.skip(reason === undefined ? undefined : `${step.title} [skipped: ${reason}]`)
          } finally {
            clearInterval(timer)
            if (Date.now() - started >= 1000) showElapsed()
          }
        },
        // One output entry: the joined tail (listr2 keeps `outputBar` entries, not lines).
        rendererOptions: {outputBar: 1},
      }
    })
  }

  runStarted(targets: ReadonlyArray<{target: string | undefined; steps: ReadonlyArray<StepRef>}>): void {
    const logger = new ListrLogger({
      useIcons: true,
      processOutput: new ProcessOutput(this.stderr, this.stderr),
    })
    const single = targets.length === 1 && targets[0]!.target === undefined
    const tasks: ListrTask[] = single
      ? this.stepTasks(targets[0]!.steps)
      : targets.map((target) => ({
          title: target.target ?? '',
          task: (_context: unknown, task) =>
            task.newListr(this.stepTasks(target.steps), {concurrent: false, exitOnError: true}),
        }))
    const list = new Listr(tasks, {
      concurrent: single ? false : this.concurrency,
      exitOnError: single,
      renderer: 'default',
      rendererOptions: {logger},
      registerSignalListeners: false,
      collectErrors: false,
    })
    this.running = list.run().catch(() => undefined)
  }

  stepStarted(): void {}

  stepOutput(step: StepRef, output: OutputBlock): void {
    const entry = this.steps.get(keyOf(step))
    if (entry === undefined) return
    // The last few lines under the step; the whole output is in the logs of a CI run (LineHost).
    entry.tail = keepTail(entry.tail, output)
    if (entry.task !== undefined) entry.task.output = entry.tail.join('\n')
  }

  /** The step's title carries the latest counts (and keeps the last ones when it ends). */
  stepProgress(step: StepRef, text: string): void {
    const entry = this.steps.get(keyOf(step))
    if (entry === undefined) return
    entry.progress = text
    if (entry.task !== undefined) entry.task.title = `${step.title} (${text})`
  }

  stepEnded(step: StepRef, end: StepEnd, _durationMs: number, error?: DeployError, reason?: string): void {
    this.steps.get(keyOf(step))?.end(end, error, reason)
  }

  async runEnded(): Promise<void> {
    await this.running
  }

  /** While the list is on screen listr2 holds what is written to stderr and prints it after the list. */
  warn(message: string): void {
    this.lines.warn(message)
  }

  note(message: string): void {
    this.lines.note(message)
  }
}
