import {classify, type DeployError, InterruptedError, type InterruptSignal} from '../errors.js'
import {OutputBlock} from '../output-block.js'
import {formatCommand} from '../process.js'
import type {SecretRegistry} from '../secrets.js'
import type {IoHost, StepRef} from './io-host.js'
import {Ledger, withLedger} from '../ledger.js'
import type {EngineState, Step, StepDescription, StepProgress} from './step.js'

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped' | 'interrupted'

/** A step's description as data (for --json and the dry run's text), secrets redacted. */
export interface DescribedStep {
  id: string
  title: string
  actions: Array<{text: string; calls: string[]; when?: string; dryRun?: true}>
  commands: Array<{command: string; cwd: string; stdin?: string; when?: string; dryRun?: true}>
}

export interface StepRecord {
  id: string
  title: string
  status: StepStatus
  /** Why a step that ran was skipped (`reused <image> (same content)`); absent otherwise. */
  reason?: string
  durationMs?: number
  /** What the step said it would run, asked for immediately before it ran. */
  described?: DescribedStep
  /** What actually ran, as the boundaries recorded it (spawns, AWS calls, HTTP calls, probes). */
  ran?: string[]
  /** The last counts a step reported (the push's layers), with the time they were reported at. */
  progress?: StepProgress & {elapsedMs: number}
}

/** `7/13 layers done (4 already there), 1m 05s` */
export function progressText(progress: StepProgress, elapsedMs: number): string {
  const seconds = Math.floor(elapsedMs / 1000)
  const clock =
    seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`
  const existing = progress.existing > 0 ? ` (${progress.existing} already there)` : ''
  return `${progress.done}/${progress.total} ${progress.unit} done${existing}, ${clock}`
}

/** One target walking a plan: its state, its step records and, when a step failed, why. */
export interface PlanRun<S extends EngineState> {
  label: string | undefined
  state: S
  readonly steps: StepRecord[]
  failure: DeployError | undefined
}

export interface RunOptions {
  host: IoHost
  /** Aborted on an interrupt; its `reason` is the signal's name. */
  signal: AbortSignal
  /** How many targets walk their plans at once. */
  concurrency?: number
}

export function describeStep<S extends EngineState>(
  step: Step<S>,
  description: StepDescription,
  secrets: SecretRegistry,
): DescribedStep {
  return {
    id: step.id,
    title: step.title,
    actions: description.actions.map((action) => ({
      text: secrets.redact(action.text),
      calls: action.calls,
      ...(action.when === undefined ? {} : {when: action.when}),
      ...(action.dryRun === true ? {dryRun: true as const} : {}),
    })),
    commands: description.commands.map((command) => ({
      command: formatCommand(command, secrets),
      cwd: command.cwd,
      ...(command.stdinDescription === undefined ? {} : {stdin: command.stdinDescription}),
      ...(command.when === undefined ? {} : {when: command.when}),
      ...(command.dryRun === true ? {dryRun: true as const} : {}),
    })),
  }
}

/** The whole plan described against what the state knows now (the dry run). */
export function describePlan<S extends EngineState>(plan: readonly Step<S>[], state: S): DescribedStep[] {
  return plan.map((step) => describeStep(step, step.describe(state), state.secrets))
}

export function newRun<S extends EngineState>(
  plan: readonly Step<S>[],
  state: S,
  label?: string,
): PlanRun<S> {
  return {
    label,
    state,
    steps: plan.map((step) => ({id: step.id, title: step.title, status: 'pending'})),
    failure: undefined,
  }
}

function interruption(signal: AbortSignal, step: string): InterruptedError {
  const name = (typeof signal.reason === 'string' ? signal.reason : 'SIGINT') as InterruptSignal
  return new InterruptedError(name, `Interrupted by ${name} during ${step}.`)
}

/**
 * Walk one target's plan: the runner is the only executor. Each step is described immediately
 * before it runs, runs inside its own ledger (what the boundaries record is what ran), and a
 * failure takes the failing step's exit class. The steps after a failure are skipped.
 */
async function walk<S extends EngineState>(
  plan: readonly Step<S>[],
  run: PlanRun<S>,
  options: RunOptions,
): Promise<void> {
  const {host, signal} = options
  const {secrets} = run.state
  for (const [index, step] of plan.entries()) {
    const record = run.steps[index]!
    const ref: StepRef = {target: run.label, id: step.id, title: step.title}
    if (run.failure !== undefined || signal.aborted) {
      record.status = 'skipped'
      host.stepEnded(ref, 'skipped', 0)
      continue
    }
    record.status = 'running'
    host.stepStarted(ref)
    const started = performance.now()
    const ledger = new Ledger()
    let skipped: string | undefined
    try {
      record.described = describeStep(step, step.describe(run.state), secrets)
      const progress = (counts: StepProgress): void => {
        const elapsedMs = Math.round(performance.now() - started)
        record.progress = {...counts, elapsedMs}
        host.stepProgress(ref, progressText(counts, elapsedMs))
      }
      await withLedger(ledger, () =>
        step.run(run.state, {
          // A child's block was cleaned where it was read (redacting 500 MB twice shows).
          output: (output) =>
            host.stepOutput(
              ref,
              typeof output === 'string' ? OutputBlock.ofText(secrets.redact(output)) : output,
            ),
          outputReady: () => host.outputReady?.(),
          progress,
          skip: (reason) => {
            skipped = secrets.redact(reason)
          },
          signal,
        }),
      )
      if (signal.aborted) throw interruption(signal, step.id)
      record.status = skipped === undefined ? 'done' : 'skipped'
      if (skipped !== undefined) record.reason = skipped
    } catch (error) {
      record.status = signal.aborted ? 'interrupted' : 'failed'
      const cause = signal.aborted ? interruption(signal, step.id) : error
      run.failure = classify(cause, step.failure, {step: step.id, doing: step.title})
    } finally {
      record.durationMs = Math.round(performance.now() - started)
      record.ran = ledger.entries.map((entry) => secrets.redact(entry.call))
      const end = record.status === 'done' || record.status === 'skipped' ? record.status : undefined
      host.stepEnded(
        ref,
        end ?? (record.status === 'interrupted' ? 'interrupted' : 'failed'),
        record.durationMs,
        run.failure,
        record.reason,
      )
    }
  }
}

/**
 * Walk every target's plan, at most `concurrency` at once. A target's failure stays in its run
 * and never stops the others; an interrupt stops them all.
 */
export async function runPlans<S extends EngineState>(
  plan: readonly Step<S>[],
  runs: readonly PlanRun<S>[],
  options: RunOptions,
): Promise<void> {
  options.host.runStarted(
    runs.map((run) => ({
      target: run.label,
      steps: plan.map((step) => ({target: run.label, id: step.id, title: step.title})),
    })),
  )
  try {
    const queue = [...runs]
    const worker = async (): Promise<void> => {
      for (let run = queue.shift(); run !== undefined; run = queue.shift()) await walk(plan, run, options)
    }
    const width = Math.max(1, Math.min(options.concurrency ?? 1, runs.length))
    await Promise.all(Array.from({length: width}, worker))
  } finally {
    await options.host.runEnded()
  }
}

/** The failure that decides the exit code of several targets: the first failed one, in order. */
export function firstFailure<S extends EngineState>(
  runs: readonly PlanRun<S>[],
): {run: PlanRun<S>; failure: DeployError} | undefined {
  for (const run of runs) if (run.failure !== undefined) return {run, failure: run.failure}
  return undefined
}
