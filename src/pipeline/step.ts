import type {ExitCodeName} from '../errors.js'
import type {ChildCommand} from '../process.js'
import type {DeployState, StepId} from './state.js'

/** A command a step runs, as the dry run shows it and the real run executes it. */
export interface PlannedCommand extends ChildCommand {
  /** What goes to stdin, described (never the value itself). */
  stdinDescription?: string
}

export interface StepDescription {
  /** Checks or API calls that are not child processes. */
  actions: string[]
  commands: PlannedCommand[]
}

export interface StepIO {
  /** One line of live progress (a child's output, a check's result). */
  output(line: string): void
  signal: AbortSignal
}

/**
 * One stage of the pipeline. `describe` is pure: it says what `run` will do given what the state
 * knows now. `run` executes exactly what `describe` gives, which is what keeps the dry run honest.
 */
export interface Step {
  id: StepId
  title: string
  /** The exit-code class of this step's failures. */
  failure: ExitCodeName
  describe(state: DeployState): StepDescription
  run(state: DeployState, io: StepIO): Promise<void>
}
