import {Command, Flags} from '@oclif/core'

import {
  classify,
  DeployError,
  ExitCode,
  InterruptedError,
  type InterruptSignal,
  MldeployError,
} from '../errors.js'
import type {PushConfig} from '../config/push-config.js'
import type {IoHost} from '../pipeline/io-host.js'
import type {WarningLog} from '../pipeline/warnings.js'
import {redactCredentialHeaders, type SecretRegistry} from '../secrets.js'
import {unknownFlagsMessage} from '../suggest.js'
import {annotationFor, inGithubActions} from './github-actions.js'
import {LineHost, QuietHost} from './line-host.js'
import {chooseRenderer, currentRendererEnvironment} from './renderer.js'
import {safeWriter, type Writer} from './writer.js'

/** What every failure looks like in --json: the class, its exit code and one line to act on. */
export interface JsonError {
  kind: string
  exitCode: number
  message: string
  hint?: string
  detail?: string
  /** What failed underneath: `aws:access-denied`, `registry:transient`, `child:exit`... */
  reason?: string
  /** The step that failed. */
  step?: string
}

const INTERRUPTS: InterruptSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/**
 * One place that owns output, results, errors, interrupts and exit codes for every command (as
 * the Salesforce CLI's SfCommand does): a failure prints one line (more with --verbose), keeps its
 * documented exit code with or without --json, and in --json mode stdout holds exactly one JSON
 * object on every ending, interrupts included. Progress and warnings go through one IoHost.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    // Replaces oclif's own --json ("Format output as json."): what it is, in the OUTPUT group.
    json: Flags.boolean({
      description: 'One JSON object on stdout; progress and warnings stay on stderr.',
      default: false,
      helpGroup: 'OUTPUT',
    }),
    verbose: Flags.boolean({
      description: 'Show the original error text (a child process output, an AWS SDK message) with errors.',
      default: false,
      helpGroup: 'OUTPUT',
    }),
    quiet: Flags.boolean({
      char: 'q',
      description: 'Only the result, warnings and errors: no progress.',
      default: false,
      helpGroup: 'OUTPUT',
    }),
  }

  /** Set by commands that got far enough to have partial results worth reporting on failure. */
  protected partialResult: Record<string, unknown> | undefined

  /** Secrets the run learned: everything printed passes through them, results and errors alike. */
  protected secrets: SecretRegistry | undefined

  /** The title of this command's GitHub Actions annotations. */
  protected annotationStep: string | undefined

  protected readonly stderr: Writer = safeWriter(process.stderr)
  private readonly stdout: Writer = safeWriter(process.stdout)
  private readonly interrupt = new AbortController()
  private onSignal: ((name: InterruptSignal) => void) | undefined
  private ioHost: IoHost | undefined

  /**
   * From the first moment, SIGINT, SIGTERM and SIGHUP (a closed terminal, a dropped SSH session)
   * abort `interruptSignal` instead of killing mldeploy: the running step stops its children,
   * private folders go, and the result still says what was done. Later signals are ignored
   * rather than killing the clean-up half-way.
   */
  public override async init(): Promise<void> {
    this.onSignal = (name) => {
      if (this.interrupt.signal.aborted) return
      this.host.note(`Received ${name}: stopping the running step and cleaning up...`)
      this.interrupt.abort(name)
    }
    for (const name of INTERRUPTS) process.on(name, this.onSignal)
    await super.init()
  }

  public override async finally(error: Error | undefined): Promise<unknown> {
    // After an interrupt the process is ending as interrupted: a second Ctrl-C now would kill it
    // by the signal while the result may still be flushing to a pipe, so it stays ignored.
    if (this.onSignal !== undefined && !this.interrupt.signal.aborted)
      for (const name of INTERRUPTS) process.removeListener(name, this.onSignal)
    return super.finally(error)
  }

  /** Aborted by an interrupt; `reason` is the signal's name. */
  protected get interruptSignal(): AbortSignal {
    return this.interrupt.signal
  }

  /** Ends the command with `failure`, `result` (what was done before it) still in --json. */
  protected failWith(failure: DeployError, result: object): never {
    this.partialResult = {...result}
    throw failure
  }

  /** If an interrupt came while `body` ran, the command ends as interrupted (129/130/143). */
  protected async interruptible<T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const result = await body(this.interrupt.signal)
    const name = this.interrupt.signal.reason as InterruptSignal | undefined
    if (this.interrupt.signal.aborted && name !== undefined) {
      this.partialResult ??= result as Record<string, unknown>
      throw new InterruptedError(name, `Interrupted by ${name}.`)
    }
    return result
  }

  /** The one output host of this command: a task list at a terminal, timestamped lines elsewhere. */
  protected get host(): IoHost {
    if (this.ioHost === undefined) {
      const renderer = chooseRenderer({...currentRendererEnvironment(this.jsonEnabled()), quiet: this.quiet})
      this.ioHost = renderer === 'silent' ? new QuietHost(this.stderr) : new LineHost(this.stderr)
    }
    return this.ioHost
  }

  /** The host for a run of steps (the animated task list where a person watches). */
  protected async runHost(concurrency: number): Promise<IoHost> {
    const renderer = chooseRenderer({...currentRendererEnvironment(this.jsonEnabled()), quiet: this.quiet})
    if (renderer !== 'default') return this.host
    const {ListrHost} = await import('./listr-host.js')
    return new ListrHost(process.stderr, this.stderr, concurrency)
  }

  /**
   * The start of one target's run (deploy, promote): its secrets redact everything from now on,
   * the warnings on where its settings come from are raised, and each warning is shown once, as it
   * is raised, on the run's host (a task list prints them after itself).
   */
  protected async startTargetRun(
    state: {secrets: SecretRegistry; warn(message: string): void; warningLog: WarningLog},
    located: PushConfig,
  ): Promise<IoHost> {
    this.secrets = state.secrets
    const {locatingWarnings} = await import('../project/warnings.js')
    for (const warning of await locatingWarnings(located, this.interruptSignal)) state.warn(warning)
    const host = await this.runHost(1)
    const warnings = this.warningPrinter()
    warnings.showOn(host)
    state.warningLog.showWith(warnings.show)
    return host
  }

  /** --quiet: the result, warnings and errors only (read before parsing, like --verbose). */
  protected get quiet(): boolean {
    return this.argv.includes('--quiet') || this.argv.includes('-q')
  }

  /** Colours on stdout: a terminal, and no NO_COLOR (https://no-color.org). */
  protected get colour(): boolean {
    return process.stdout.isTTY === true && process.env.NO_COLOR === undefined && !this.jsonEnabled()
  }

  protected redact(text: string): string {
    return this.secrets === undefined ? redactCredentialHeaders(text) : this.secrets.redact(text)
  }

  /** Results and human text on stdout, redacted. */
  protected print(text: string): void {
    this.stdout.write(`${this.redact(text)}\n`)
  }

  /** One line on stderr (oclif's warn wraps at the terminal width, which breaks log greps). */
  protected warnLine(message: string): void {
    this.host.warn(this.redact(message))
  }

  /**
   * Shows warnings on this command's host, each text once (several targets may raise the same);
   * `showOn` moves them to the host of a run of steps (the task list) when one starts.
   */
  protected warningPrinter(): {show: (message: string) => void; showOn: (host: IoHost) => void} {
    const shown = new Set<string>()
    let host = this.host
    return {
      show: (message) => {
        if (shown.has(message)) return
        shown.add(message)
        host.warn(this.redact(message))
      },
      showOn: (next) => {
        host = next
      },
    }
  }

  protected override logJson(json: unknown): void {
    // Redact the serialized form so no field can carry a secret out, whatever its shape.
    this.stdout.write(`${this.redact(JSON.stringify(json, null, 2))}\n`)
  }

  protected get verbose(): boolean {
    return this.argv.includes('--verbose')
  }

  /** This command's long flag names and aliases, without dashes: what a mistyped flag is matched against. */
  protected flagNames(): string[] {
    const flags: Record<string, {aliases?: string[]; allowNo?: boolean; type?: string}> = {
      ...this.ctor.baseFlags,
      ...this.ctor.flags,
    }
    const names = ['help']
    for (const [name, flag] of Object.entries(flags)) {
      names.push(name, ...(flag.aliases ?? []))
      if (flag.type === 'boolean' && flag.allowNo === true) names.push(`no-${name}`)
    }
    return names
  }

  protected override toErrorJson(
    err: unknown,
  ): {status: 'failed'; error: JsonError} & Record<string, unknown> {
    return {...this.partialResult, status: 'failed', error: toJsonError(err, this.verbose)}
  }

  protected override async catch(
    thrown: Error & {oclif?: {exit?: number}; exitCode?: number},
  ): Promise<unknown> {
    // A domain error outside any step (bad input while resolving settings) has no step class.
    const err = thrown instanceof MldeployError ? classify(thrown, 'internal') : thrown
    if (err instanceof DeployError) {
      process.exitCode = err.exitCode
      // Several failed targets: one annotation each, named after its target.
      if (inGithubActions(process.env))
        for (const each of err.targets ?? [err])
          this.stderr.write(`${this.redact(annotationFor(each, this.annotationStep ?? each.step))}\n`)
      if (this.jsonEnabled()) {
        this.logJson(this.toErrorJson(err))
      } else {
        this.stderr.write(
          `${this.redact(`Error: ${err.oneLine}${err.detail !== undefined && !this.verbose ? ' (details: --verbose)' : ''}`)}\n`,
        )
        if (this.verbose && err.detail) this.stderr.write(`${this.redact(err.detail)}\n`)
        // A person at a terminal sees the end of the failing child's output without --verbose.
        else if (err.detail && process.stderr.isTTY)
          this.stderr.write(`${this.redact(err.detail.split('\n').slice(-8).join('\n'))}\n`)
      }
      return undefined
    }
    // oclif's own parse errors (unknown flag, missing argument, bad option) are usage errors:
    // exit 2, and one line like ours instead of oclif's multi-line block.
    const exit = err.oclif?.exit
    // oclif's NonExistentFlagsError: say which flag was meant, as an unknown command does.
    const unknownFlags = (err as {flags?: unknown}).flags
    if (exit !== undefined && Array.isArray(unknownFlags) && err.message.startsWith('Nonexistent flag'))
      err.message = unknownFlagsMessage(unknownFlags as string[], this.flagNames())
    if (exit !== undefined && exit !== 0 && err.message) {
      process.exitCode = exit
      if (inGithubActions(process.env))
        this.stderr.write(
          `${this.redact(annotationFor({kind: 'usage', message: oneLineParseError(err.message)}, this.annotationStep && `${this.annotationStep} (usage)`))}\n`,
        )
      if (this.jsonEnabled()) this.logJson(this.toErrorJson(err))
      else
        this.stderr.write(
          `${this.redact(`Error: ${oneLineParseError(err.message)} See: ${this.config.bin} ${this.id} --help.`)}\n`,
        )
      return undefined
    }
    return super.catch(err)
  }
}

/** oclif's parse messages span lines ("Missing 1 required arg:\ntarget  ...\nSee more help..."). */
function oneLineParseError(message: string): string {
  const lines = message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('See more help'))
  // oclif appends a note on multi-value flags to every missing-argument error: not the point here.
  const note = lines.findIndex((line) => line.startsWith('Note:'))
  const text = (note === -1 ? lines : lines.slice(0, note)).join(' ').replace(/\s+/g, ' ')
  return /[.!?]$/.test(text) ? text : `${text}.`
}

function toJsonError(err: unknown, verbose: boolean): JsonError {
  if (err instanceof DeployError) {
    return {
      kind: err.kind,
      exitCode: err.exitCode,
      message: err.message,
      ...(err.hint === undefined ? {} : {hint: err.hint}),
      ...(err.detail === undefined ? {} : {detail: err.detail}),
      ...(err.reason === undefined ? {} : {reason: err.reason}),
      ...(err.step === undefined ? {} : {step: err.step}),
    }
  }
  const error = err as Error & {oclif?: {exit?: number}}
  const exit = error.oclif?.exit
  return {
    kind: exit === ExitCode.usage ? 'usage' : 'internal',
    exitCode: exit ?? ExitCode.internal,
    message: error.message === undefined ? String(err) : oneLineParseError(error.message),
    ...(verbose && error.stack ? {detail: error.stack} : {}),
  }
}
