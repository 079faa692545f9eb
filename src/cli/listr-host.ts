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
import type {IoHost, StepEnd, StepRef} from '../pipeline/io-host.js'
import {LineHost} from './line-host.js'
import type {Writer} from './writer.js'

interface Pending {
  ended: Promise<StepEnd>
  end(value: StepEnd, error?: DeployError): void
  task?: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>
}

function pending(): Pending {
  let end!: Pending['end']
  const ended = new Promise<StepEnd>((resolve, reject) => {
    end = (value, error) =>
      value === 'failed' || value === 'interrupted' ? reject(error ?? new Error(value)) : resolve(value)
  })
  // A rejection is handled by the task that awaits it; an unused one must not crash the process.
  ended.catch(() => undefined)
  return {ended, end}
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
          if ((await entry.ended) === 'skipped') task.skip()
        },
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

  stepOutput(step: StepRef, text: string): void {
    const task = this.steps.get(keyOf(step))?.task
    // The task list shows the last line; the whole output is in the logs of a CI run (LineHost).
    if (task !== undefined) task.output = text.slice(text.lastIndexOf('\n') + 1)
  }

  /** The step's title carries the latest counts (and keeps the last ones when it ends). */
  stepProgress(step: StepRef, text: string): void {
    const task = this.steps.get(keyOf(step))?.task
    if (task !== undefined) task.title = `${step.title} (${text})`
  }

  stepEnded(step: StepRef, end: StepEnd, _durationMs: number, error?: DeployError): void {
    this.steps.get(keyOf(step))?.end(end, error)
  }

  async runEnded(): Promise<void> {
    await this.running
  }

  warn(message: string): void {
    this.lines.warn(message)
  }

  note(message: string): void {
    this.lines.note(message)
  }
}
