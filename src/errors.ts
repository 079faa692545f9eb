/**
 * Errors in two layers. Outside systems (`src/systems/*`) and checks throw *domain* errors that say
 * what went wrong (AWS refused, the registry reset the connection, a child exited 1) and never
 * choose an exit code. The engine turns a failure into a `DeployError` whose exit class is the
 * failing step's (see `classify`, and the README's table), so the same AccessDenied is a
 * preflight failure in the preflight and a push failure in the tag step.
 */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  preflight: 3,
  import: 4,
  build: 5,
  containerize: 6,
  auth: 7,
  push: 8,
  /** Issue 25: the scan gate did not pass the image (a finding at or above --max-severity, or no verdict). */
  scan: 9,
  /** Issue 24: the local contract run (--check-serving): the image did not serve as SageMaker asks. */
  serving: 10,
  /** Issue 24: SageMaker did not bring the endpoint to InService (failed, rolled back, timed out, refused). */
  deploy: 11,
  interruptedSighup: 129,
  interruptedSigint: 130,
  interruptedSigterm: 143,
} as const

export type ExitCodeName = keyof typeof ExitCode
export type ExitCodeValue = (typeof ExitCode)[ExitCodeName]

export interface ErrorOptions {
  /** What the user can do about it: one short sentence. */
  hint?: string
  /** Original text (a child's output tail, an SDK message), shown with --verbose and in --json. */
  detail?: string
  cause?: unknown
}

/** Every error mldeploy raises on purpose: one line to read, a hint, the original text. */
export abstract class MldeployError extends Error {
  /** Which system or kind of check failed; with `reason`, what `--json` reports as `reason`. */
  abstract readonly domain: string
  abstract readonly reason: string
  readonly hint?: string
  readonly detail?: string

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.hint = options.hint
    this.detail = options.detail
  }

  /** The one line a user sees: what went wrong, then what to do. */
  get oneLine(): string {
    return this.hint ? `${this.message} ${this.hint}` : this.message
  }
}

/** Bad input: a flag, a target, a .env line. Always exit 2, whatever runs. */
export class UsageError extends MldeployError {
  readonly domain = 'usage'
  readonly reason = 'invalid'
}

export type AwsFailure =
  | 'credentials-missing'
  | 'credentials-expired'
  | 'credentials-invalid'
  | 'access-denied'
  | 'not-found'
  | 'conflict'
  | 'throttled'
  | 'unreachable'
  | 'malformed'
  | 'failed'

/** An AWS API call failed. `operation` is `service:Action`, e.g. `ecr:PutImage`. */
export class AwsError extends MldeployError {
  readonly domain = 'aws'
  constructor(
    readonly reason: AwsFailure,
    readonly operation: string,
    message: string,
    options: ErrorOptions = {},
  ) {
    super(message, options)
  }
}

export type RegistryFailure =
  /** A network reset or a 5xx: another try may work. */
  | 'transient'
  /** The login token expired: one fresh login may fix it. */
  | 'login-expired'
  /** The registry refused the login or the token (401, bad password, no login for the host). */
  | 'login-refused'
  /** Logged in, but not allowed (a missing push permission). */
  | 'denied'
  | 'not-found'
  | 'immutable-tag'
  | 'unreachable'
  | 'malformed'
  | 'failed'

/** The registry (through podman/docker or its HTTP API) said no. */
export class RegistryError extends MldeployError {
  readonly domain = 'registry'
  constructor(
    readonly reason: RegistryFailure,
    message: string,
    options: ErrorOptions = {},
  ) {
    super(message, options)
  }
}

export type ChildFailure = 'exit' | 'signal' | 'timeout' | 'missing' | 'canceled'

/** A child process did not succeed. */
export class ChildError extends MldeployError {
  readonly domain = 'child'
  constructor(
    readonly reason: ChildFailure,
    message: string,
    options: ErrorOptions & {exitCode?: number; signal?: string} = {},
  ) {
    super(message, options)
    this.exitCode = options.exitCode
    this.signal = options.signal
  }
  readonly exitCode: number | undefined
  readonly signal: string | undefined
}

/**
 * A check's verdict: the VPN is off, a tag is taken, the account is another, a tool is missing,
 * a tag points elsewhere after the run. The step that ran the check gives the exit class.
 */
export class CheckError extends MldeployError {
  readonly domain = 'check'
  constructor(
    readonly reason: string,
    message: string,
    options: ErrorOptions = {},
  ) {
    super(message, options)
  }
}

/** The machine mldeploy runs on is in the way (temp folder missing, unwritable, full). */
export class EnvironmentError extends MldeployError {
  readonly domain = 'environment'
  constructor(
    readonly reason: string,
    message: string,
    options: ErrorOptions = {},
  ) {
    super(message, options)
  }
}

export type InterruptSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP'

export class InterruptedError extends MldeployError {
  readonly domain = 'interrupted'
  constructor(
    readonly reason: InterruptSignal,
    message: string,
  ) {
    super(message)
  }
}

const INTERRUPT_CLASS: Record<InterruptSignal, ExitCodeName> = {
  SIGHUP: 'interruptedSighup',
  SIGINT: 'interruptedSigint',
  SIGTERM: 'interruptedSigterm',
}

export interface DeployErrorOptions extends ErrorOptions {
  /** `<domain>:<reason>` of the error this one classifies, e.g. `aws:access-denied`. */
  reason?: string
  /** The step that failed, when a step did. */
  step?: string
  /** Several targets failed: each one's failure, named after it (one GitHub annotation each). */
  targets?: readonly DeployError[]
}

/** A failure as it is reported: its exit class, chosen by the engine (or by bad input). */
export class DeployError extends Error {
  readonly exitCode: ExitCodeValue
  readonly kind: ExitCodeName
  readonly hint?: string
  readonly detail?: string
  readonly reason?: string
  readonly step?: string
  readonly targets?: readonly DeployError[]

  constructor(kind: ExitCodeName, message: string, options: DeployErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'DeployError'
    this.kind = kind
    this.exitCode = ExitCode[kind]
    this.hint = options.hint
    this.detail = options.detail
    this.reason = options.reason
    this.step = options.step
    this.targets = options.targets
  }

  /** The same failure in other words: its class, hint, reason and step, unless `options` replace them. */
  restated(message: string, options: DeployErrorOptions = {}): DeployError {
    const {hint, reason, step} = this
    return new DeployError(this.kind, message, {
      ...(hint === undefined ? {} : {hint}),
      ...(reason === undefined ? {} : {reason}),
      ...(step === undefined ? {} : {step}),
      ...options,
    })
  }

  /** The one line a user sees: what went wrong, then what to do. */
  get oneLine(): string {
    return this.hint ? `${this.message} ${this.hint}` : this.message
  }

  /** The `error` object of a failed result in --json (no detail: that is --verbose's). */
  toResultError(): ResultError {
    const {kind, exitCode, message, hint, reason, step} = this
    return {
      kind,
      exitCode,
      message,
      ...(hint === undefined ? {} : {hint}),
      ...(reason === undefined ? {} : {reason}),
      ...(step === undefined ? {} : {step}),
    }
  }
}

export interface ResultError {
  kind: ExitCodeName
  exitCode: ExitCodeValue
  message: string
  hint?: string
  reason?: string
  step?: string
}

/**
 * The exit class of a failure: the failing step's, except for bad input (2), interrupts
 * (129/130/143), a machine in the way (3), and the registry refusing the login or its token,
 * which is an authentication failure (7) wherever it happens. The README's table lists every row.
 */
export function exitClassOf(error: unknown, stepClass: ExitCodeName): ExitCodeName {
  if (error instanceof DeployError) return error.kind
  if (error instanceof UsageError) return 'usage'
  if (error instanceof InterruptedError) return INTERRUPT_CLASS[error.reason]
  if (error instanceof EnvironmentError) return 'preflight'
  // An expired token that reaches here survived the one fresh login the push step makes.
  if (
    error instanceof RegistryError &&
    (error.reason === 'login-refused' || error.reason === 'login-expired')
  )
    return 'auth'
  return stepClass
}

/** A failure as a `DeployError` of the right class; `doing` prefixes errors that are not ours. */
export function classify(
  error: unknown,
  stepClass: ExitCodeName,
  context: {step?: string; doing?: string} = {},
): DeployError {
  if (error instanceof DeployError) return error
  const kind = exitClassOf(error, stepClass)
  const step = context.step === undefined ? {} : {step: context.step}
  if (error instanceof MldeployError) {
    return new DeployError(kind, error.message, {
      ...(error.hint === undefined ? {} : {hint: error.hint}),
      ...(error.detail === undefined ? {} : {detail: error.detail}),
      reason: `${error.domain}:${error.reason}`,
      ...step,
      cause: error,
    })
  }
  const text = errorMessage(error)
  return new DeployError(kind, context.doing === undefined ? text : `${context.doing} failed: ${text}`, {
    reason: 'internal:unexpected',
    ...step,
    cause: error,
  })
}

export const usageError = (message: string, hint?: string): UsageError =>
  new UsageError(message, hint === undefined ? {} : {hint})

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
