import type {DeployError} from '../errors.js'
import type {OutputBlock} from '../output-block.js'

/** A step as the host shows it. `target` is set when several targets run at once. */
export interface StepRef {
  target: string | undefined
  id: string
  title: string
}

export type StepEnd = 'done' | 'failed' | 'interrupted' | 'skipped'

/**
 * Everything the engine tells the person or the CI job running it goes through one host (as AWS
 * CDK's toolkit-lib does with its IoHost): progress on stderr as a task list or timestamped lines,
 * GitHub Actions outputs and annotations, or a recording in unit tests. The engine never writes to
 * stdout or stderr itself; the implementations live in `src/cli/`.
 */
export interface IoHost {
  /** A run of steps begins: every target's steps, in order (for the task list). */
  runStarted(targets: ReadonlyArray<{target: string | undefined; steps: ReadonlyArray<StepRef>}>): void
  stepStarted(step: StepRef): void
  /** Lines of live output (a child's, a check's result), already redacted. */
  stepOutput(step: StepRef, output: OutputBlock): void
  /**
   * Whether more output can be taken now: a promise while the output's reader is behind (see
   * `Writer.ready`). A host that keeps or drops output rather than writing it need not say.
   */
  outputReady?(): Promise<void> | undefined
  /**
   * How far a long action is, as one short text (`7/13 layers done (4 already there), 1m 05s`),
   * updated as it goes; a host shows the latest (a task list) or some (CI logs: one every 10 s).
   */
  stepProgress(step: StepRef, text: string): void
  /**
   * `reason` is set when a step that ran ended skipped (its work was reused or not possible); a
   * step skipped after an earlier failure or an interrupt has none.
   */
  stepEnded(step: StepRef, end: StepEnd, durationMs: number, error?: DeployError, reason?: string): void
  /** The run of steps is over (the task list closes). */
  runEnded(): Promise<void>
  /** A warning line (redacted by the caller). */
  warn(message: string): void
  /** A human line on stderr (an interrupt notice, a note). */
  note(message: string): void
}
