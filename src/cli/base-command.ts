import {Command, Flags} from '@oclif/core'

import {classify, DeployError, ExitCode, MldeployError} from '../errors.js'
import {redactCredentialHeaders, type SecretRegistry} from '../secrets.js'

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

/**
 * One place that owns results, errors and exit codes for every command (as the Salesforce CLI's
 * SfCommand does): a failure prints one line (more with --verbose), keeps its documented exit
 * code with or without --json, and in --json mode stdout holds exactly one JSON object.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    verbose: Flags.boolean({
      description: 'Show the original error text (a child process output, an AWS SDK message) with errors.',
      default: false,
    }),
  }

  /** Set by commands that got far enough to have partial results worth reporting on failure. */
  protected partialResult: Record<string, unknown> | undefined

  /** Secrets the run learned: everything printed passes through them, results and errors alike. */
  protected secrets: SecretRegistry | undefined

  protected redact(text: string): string {
    return this.secrets === undefined ? redactCredentialHeaders(text) : this.secrets.redact(text)
  }

  /** Results and human text on stdout, redacted. */
  protected print(text: string): void {
    this.log(this.redact(text))
  }

  /** One line on stderr (oclif's warn wraps at the terminal width, which breaks log greps). */
  protected warnLine(message: string): void {
    this.logToStderr(this.redact(`Warning: ${message}`))
  }

  protected override logJson(json: unknown): void {
    // Redact the serialized form so no field can carry a secret out, whatever its shape.
    process.stdout.write(`${this.redact(JSON.stringify(json, null, 2))}\n`)
  }

  protected get verbose(): boolean {
    return this.argv.includes('--verbose')
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
      if (this.jsonEnabled()) {
        this.logJson(this.toErrorJson(err))
      } else {
        this.logToStderr(
          this.redact(
            `Error: ${err.oneLine}${err.detail !== undefined && !this.verbose ? ' (details: --verbose)' : ''}`,
          ),
        )
        if (this.verbose && err.detail) this.logToStderr(this.redact(err.detail))
      }
      return undefined
    }
    // oclif's own parse errors (unknown flag, missing argument, bad option) are usage errors:
    // exit 2, and one line like ours instead of oclif's multi-line block.
    const exit = err.oclif?.exit
    if (exit !== undefined && exit !== 0 && err.message) {
      process.exitCode = exit
      if (this.jsonEnabled()) this.logJson(this.toErrorJson(err))
      else
        this.logToStderr(
          this.redact(`Error: ${oneLineParseError(err.message)} See: ${this.config.bin} ${this.id} --help.`),
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
