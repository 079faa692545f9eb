import type {DeployError} from '../../src/errors.js'
import type {OutputBlock} from '../../src/output-block.js'
import type {IoHost, StepEnd, StepRef} from '../../src/pipeline/io-host.js'
import type {StepIO, StepProgress} from '../../src/pipeline/step.js'

/** One thing the engine told the host, in the order it did. */
export type HostEvent =
  | {type: 'runStarted'; targets: Array<{target: string | undefined; steps: StepRef[]}>}
  | {type: 'stepStarted'; step: StepRef}
  | {type: 'stepOutput'; step: StepRef; text: string}
  | {type: 'stepProgress'; step: StepRef; text: string}
  | {type: 'stepEnded'; step: StepRef; end: StepEnd; durationMs: number; error?: DeployError; reason?: string}
  | {type: 'runEnded'}
  | {type: 'warn'; message: string}
  | {type: 'note'; message: string}

/**
 * An IoHost for unit tests (as AWS CDK's toolkit tests use one): it shows nothing and records
 * every event in order, so a test can assert what a person or a CI log would have seen.
 */
export class RecordingHost implements IoHost {
  readonly events: HostEvent[] = []

  /** `onEvent` sees each event as it is recorded (to interrupt a run at a given moment). */
  constructor(private readonly onEvent?: (event: HostEvent) => void) {}

  private push(event: HostEvent): void {
    this.events.push(event)
    this.onEvent?.(event)
  }

  runStarted(targets: ReadonlyArray<{target: string | undefined; steps: ReadonlyArray<StepRef>}>): void {
    this.push({
      type: 'runStarted',
      targets: targets.map((entry) => ({target: entry.target, steps: [...entry.steps]})),
    })
  }

  stepStarted(step: StepRef): void {
    this.push({type: 'stepStarted', step})
  }

  stepOutput(step: StepRef, output: OutputBlock): void {
    this.push({type: 'stepOutput', step, text: output.text})
  }

  stepProgress(step: StepRef, text: string): void {
    this.push({type: 'stepProgress', step, text})
  }

  stepEnded(step: StepRef, end: StepEnd, durationMs: number, error?: DeployError, reason?: string): void {
    this.push({
      type: 'stepEnded',
      step,
      end,
      durationMs,
      ...(error === undefined ? {} : {error}),
      ...(reason === undefined ? {} : {reason}),
    })
  }

  async runEnded(): Promise<void> {
    this.push({type: 'runEnded'})
  }

  warn(message: string): void {
    this.push({type: 'warn', message})
  }

  note(message: string): void {
    this.push({type: 'note', message})
  }

  /** Every output line of a step (of one target, when given), chunks split into lines. */
  outputOf(stepId: string, target?: string): string[] {
    return this.events.flatMap((event) =>
      event.type === 'stepOutput' &&
      event.step.id === stepId &&
      (target === undefined || event.step.target === target)
        ? event.text.split('\n')
        : [],
    )
  }

  /** How each step ended, in order: `[id, end]` (`target/id` when the step has a target). */
  get ends(): Array<[string, StepEnd]> {
    return this.events.flatMap((event) =>
      event.type === 'stepEnded'
        ? [
            [
              event.step.target === undefined ? event.step.id : `${event.step.target}/${event.step.id}`,
              event.end,
            ],
          ]
        : [],
    )
  }

  /** The event types in order, with the step id: `stepStarted:build`, `runEnded`... */
  get sequence(): string[] {
    return this.events.map((event) => ('step' in event ? `${event.type}:${event.step.id}` : event.type))
  }

  get warnings(): string[] {
    return this.events.flatMap((event) => (event.type === 'warn' ? [event.message] : []))
  }

  get notes(): string[] {
    return this.events.flatMap((event) => (event.type === 'note' ? [event.message] : []))
  }
}

/**
 * A StepIO for calling `step.run(state, io)` directly: output is collected as lines, progress as
 * reported, and why the step skipped its work (when it said so).
 */
export function recordingIo(
  signal: AbortSignal = new AbortController().signal,
): StepIO & {lines: string[]; progressed: StepProgress[]; skipped: string[]} {
  const lines: string[] = []
  const progressed: StepProgress[] = []
  const skipped: string[] = []
  return {
    lines,
    progressed,
    skipped,
    signal,
    output: (output) => lines.push(...(typeof output === 'string' ? output : output.text).split('\n')),
    progress: (counts) => progressed.push(counts),
    skip: (reason) => skipped.push(reason),
    outputReady: () => undefined,
  }
}
