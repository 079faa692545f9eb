import {classify, type DeployError, InterruptedError, type InterruptSignal} from '../errors.js'
import {OutputBlock} from '../output-block.js'
import {formatCommand} from '../process.js'
import type {SecretRegistry} from '../secrets.js'
import type {IoHost, StepRef} from './io-host.js'
import {Ledger, withLedger} from '../ledger.js'
import {startTrace, traceStep} from '../trace.js'
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

/** A step's run under way: started at its turn, or earlier (`Step.startsAfter`). */
interface StartedStep {
  started: number
  /** When its work ended (a step started ahead of its turn ends before its turn comes). */
  ended: number | undefined
  ledger: Ledger
  described: DescribedStep | undefined
  skipped: string | undefined
  failed: boolean
  error: unknown
  /** Host calls held until the step's turn (its output, its progress); undefined once it is shown. */
  held: Array<() => void> | undefined
  settled: Promise<void>
}

/**
 * Start a step's run inside its own ledger (what the boundaries record is what ran), described
 * immediately before. `held` starts it ahead of its turn: what it shows waits for the turn.
 */
function startStep<S extends EngineState>(
  step: Step<S>,
  run: PlanRun<S>,
  record: StepRecord,
  ref: StepRef,
  options: RunOptions,
  held: boolean,
): StartedStep {
  const {host, signal} = options
  const {secrets} = run.state
  const started: StartedStep = {
    started: performance.now(),
    ended: undefined,
    ledger: new Ledger(),
    described: undefined,
    skipped: undefined,
    failed: false,
    error: undefined,
    held: held ? [] : undefined,
    settled: Promise.resolve(),
  }
  const show = (call: () => void): void => {
    if (started.held === undefined) call()
    else started.held.push(call)
  }
  const io = {
    // A child's block was cleaned where it was read (redacting 500 MB twice shows).
    output: (output: string | OutputBlock) => {
      const block = typeof output === 'string' ? OutputBlock.ofText(secrets.redact(output)) : output
      show(() => host.stepOutput(ref, block))
    },
    // Held output is not written yet: nothing to wait for.
    outputReady: () => (started.held === undefined ? host.outputReady?.() : undefined),
    progress: (counts: StepProgress): void => {
      const elapsedMs = Math.round(performance.now() - started.started)
      record.progress = {...counts, elapsedMs}
      show(() => host.stepProgress(ref, progressText(counts, elapsedMs)))
    },
    skip: (reason: string) => {
      started.skipped = secrets.redact(reason)
    },
    signal,
  }
  started.settled = withLedger(started.ledger, async () => {
    started.described = describeStep(step, step.describe(run.state), secrets)
    await traceStep(step.id, () => step.run(run.state, io))
  }).then(
    () => {
      started.ended = performance.now()
    },
    (error: unknown) => {
      started.ended = performance.now()
      started.failed = true
      started.error = error
    },
  )
  return started
}

/**
 * Walk one target's plan: the runner is the only executor. Steps are shown and recorded one after
 * another, in the plan's order; a step with `startsAfter` may start its work ahead of its turn,
 * once that step has ended (issue 23: the login beside containerize), and at its turn the walk
 * waits for it. A failure takes the failing step's exit class; the first failure in the plan's
 * order decides. The steps after a failure are skipped, except one already under way, which is
 * recorded as it ended (it ran).
 */
async function walk<S extends EngineState>(
  plan: readonly Step<S>[],
  run: PlanRun<S>,
  options: RunOptions,
): Promise<void> {
  const {host, signal} = options
  const {secrets} = run.state
  const ahead = new Map<string, StartedStep>()
  const refOf = (step: Step<S>): StepRef => ({target: run.label, id: step.id, title: step.title})
  for (const [index, step] of plan.entries()) {
    const record = run.steps[index]!
    const ref = refOf(step)
    const early = ahead.get(step.id)
    if (early === undefined && (run.failure !== undefined || signal.aborted)) {
      record.status = 'skipped'
      host.stepEnded(ref, 'skipped', 0)
      continue
    }
    record.status = 'running'
    host.stepStarted(ref)
    const started = early ?? startStep(step, run, record, ref, options, false)
    for (const call of started.held ?? []) call()
    started.held = undefined
    await started.settled
    let failure: DeployError | undefined
    try {
      record.described = started.described
      if (started.failed) throw started.error
      if (signal.aborted) throw interruption(signal, step.id)
      record.status = started.skipped === undefined ? 'done' : 'skipped'
      if (started.skipped !== undefined) record.reason = started.skipped
    } catch (error) {
      record.status = signal.aborted ? 'interrupted' : 'failed'
      const cause = signal.aborted ? interruption(signal, step.id) : error
      failure = classify(cause, step.failure, {step: step.id, doing: step.title})
      run.failure ??= failure
    } finally {
      // The step's own work: for one started ahead of its turn, not the wait for its turn.
      record.durationMs = Math.round((started.ended ?? performance.now()) - started.started)
      record.ran = started.ledger.entries.map((entry) => secrets.redact(entry.call))
      const end = record.status === 'done' || record.status === 'skipped' ? record.status : undefined
      host.stepEnded(
        ref,
        end ?? (record.status === 'interrupted' ? 'interrupted' : 'failed'),
        record.durationMs,
        failure,
        record.reason,
      )
    }
    if (run.failure !== undefined || signal.aborted) continue
    // What waited for this step starts now, ahead of its turn.
    for (const [offset, later] of plan.slice(index + 1).entries())
      if (later.startsAfter === step.id && !ahead.has(later.id))
        ahead.set(
          later.id,
          startStep(later, run, run.steps[index + 1 + offset]!, refOf(later), options, true),
        )
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
  startTrace()
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
