/**
 * One error type for everything mldeploy reports on purpose. The exit code says which class of
 * failure it was (documented in the README); the hint says what to do about it.
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
  interruptedSigint: 130,
  interruptedSigterm: 143,
} as const

export type ExitCodeName = keyof typeof ExitCode
export type ExitCodeValue = (typeof ExitCode)[ExitCodeName]

export interface DeployErrorOptions {
  /** What the user can do about it: one short sentence. */
  hint?: string
  /** Original text (a child's stderr tail, an SDK message), shown with --verbose and in --json. */
  detail?: string
  cause?: unknown
  /** A transient failure that is safe to try again (network resets, 5xx). */
  retryable?: boolean
  /** The registry says the login token expired: a fresh login may fix it. */
  loginExpired?: boolean
}

export class DeployError extends Error {
  readonly exitCode: ExitCodeValue
  readonly kind: ExitCodeName
  readonly hint?: string
  readonly detail?: string
  readonly retryable: boolean
  readonly loginExpired: boolean

  constructor(kind: ExitCodeName, message: string, options: DeployErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'DeployError'
    this.kind = kind
    this.exitCode = ExitCode[kind]
    this.hint = options.hint
    this.detail = options.detail
    this.retryable = options.retryable ?? false
    this.loginExpired = options.loginExpired ?? false
  }

  /** The one line a user sees: what went wrong, then what to do. */
  get oneLine(): string {
    return this.hint ? `${this.message} ${this.hint}` : this.message
  }
}

export const usageError = (message: string, hint?: string): DeployError =>
  new DeployError('usage', message, hint === undefined ? {} : {hint})

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
