import type {ExitCodeName} from '../errors.js'
import type {OutputBlock} from '../output-block.js'
import type {ChildCommand} from '../process.js'
import type {SecretRegistry} from '../secrets.js'

/** A command a step runs, as the dry run shows it and the real run executes it. */
export interface PlannedCommand extends ChildCommand {
  /** What goes to stdin, described (never the value itself). */
  stdinDescription?: string
  /** Set when the command runs only under a condition (a retry, a fresh login): the condition. */
  when?: string
  /** A read-only probe that `--dry-run` runs too (unless --offline). */
  dryRun?: true
}

/**
 * A check or API call that is not a child process. `calls` name what the boundaries record when it
 * happens (`aws:ecr:PutImage`, `http:PUT /v2/<repository>/manifests/<tag>`, `tcp:<host>:<port>`),
 * so what ran can be compared with what was described.
 */
export interface PlannedAction {
  text: string
  calls: string[]
  /** Set when the action happens only under a condition: the condition. */
  when?: string
  /** A read-only check that `--dry-run` makes too (unless --offline). */
  dryRun?: true
}

export interface StepDescription {
  actions: PlannedAction[]
  commands: PlannedCommand[]
}

/** Counted progress of a step's long action (the push's layers): shown by the host, kept in the step's record. */
export interface StepProgress {
  /** What is counted, plural: `layers`. */
  unit: string
  done: number
  /** Known so far. */
  total: number
  /** Of `done`, those that needed no work (layers the registry already had). */
  existing: number
}

export interface StepIO {
  /**
   * Live progress: one or more lines (a check's result, redacted by the engine), or a child's
   * output block (clean already: it goes to the host as it is).
   */
  output(output: string | OutputBlock): void
  /** A promise while the output's reader is behind: a child's reader waits for it (flow control). */
  outputReady(): Promise<void> | undefined
  /** Counts so far; the engine adds the elapsed time. Called again unchanged to move the clock. */
  progress?(progress: StepProgress): void
  /**
   * The step's work was not needed or not possible, and why (`reused <image> (same content)`, `no
   * content digest: ...`): it ends as skipped with this reason rather than as done.
   */
  skip?(reason: string): void
  signal: AbortSignal
}

/** What every state the engine walks offers it: the secrets to redact with. */
export interface EngineState {
  readonly secrets: SecretRegistry
}

/**
 * One stage of a plan. `describe` is pure: it says what `run` will do given what the state knows
 * now; the runner asks for it immediately before `run`, which must do exactly that — the dry run
 * prints the same descriptions, which is what keeps it honest.
 */
export interface Step<S extends EngineState> {
  id: string
  title: string
  /** The exit-code class of this step's failures (see `classify` in errors.ts). */
  failure: ExitCodeName
  describe(state: S): StepDescription
  run(state: S, io: StepIO): Promise<void>
  /**
   * Issue 23: the id of an earlier step after which this one may start, ahead of its turn, beside
   * the steps in between (it needs nothing they do). The engine still shows and records the steps
   * in order: at its turn it waits for this run; what the run shows is held until then.
   */
  startsAfter?: string
}

/** An action that needs no API call (a computation, a file read). */
export const note = (text: string): PlannedAction => ({text, calls: []})
