import {AwsError, type AwsFailure, errorMessage} from '../../errors.js'
import type {AwsSettings} from './settings.js'

export function errorName(error: unknown): string {
  return (error as {name?: string} | undefined)?.name ?? ''
}

function errorCode(error: unknown): string | undefined {
  return (error as {code?: string} | undefined)?.code
}

function httpStatus(error: unknown): number | undefined {
  return (error as {$metadata?: {httpStatusCode?: number}} | undefined)?.$metadata?.httpStatusCode
}

/**
 * What an endpoint sent that is not an AWS answer (a proxy's HTML 502 page, a body too big to
 * read): raised by the response middleware, turned into an AwsError by `toAwsError`.
 */
export class EndpointAnswerError extends Error {
  override readonly name = 'EndpointAnswerError'
  /** Read by the SDK's retry strategy: a 5xx page from a proxy may go away on another try. */
  readonly $metadata: {httpStatusCode: number}
  constructor(
    readonly problem: 'not-aws' | 'too-large',
    readonly status: number,
    readonly contentType: string,
    /** The first bytes of the body, as text (redacted by the caller before it is shown). */
    readonly start: string,
    readonly limitBytes: number,
  ) {
    super(
      problem === 'too-large'
        ? `the endpoint answered HTTP ${status} (${contentType || 'no content type'}) with more than ${formatBytes(limitBytes)}`
        : `the endpoint answered HTTP ${status} (${contentType || 'no content type'}), not an AWS response`,
    )
    this.$metadata = {httpStatusCode: status}
  }
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / (1024 * 1024))} MB` : `${bytes} bytes`
}

/** Node's network failure codes: the endpoint was not reached (or the connection broke). */
export const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
])

function where(settings: AwsSettings): string {
  return `region ${settings.region}${settings.profile === undefined ? '' : `, profile ${settings.profile}`}`
}

/**
 * One clear line for an SDK failure: what was being done (`doing`), why, where (region, profile),
 * and what to do. `redact` removes secrets the message may carry (an endpoint echoing headers).
 */
export function toAwsError(
  error: unknown,
  operation: string,
  doing: string,
  settings: AwsSettings,
  redact: (text: string) => string = (text) => text,
): AwsError {
  if (error instanceof AwsError) return error
  const name = errorName(error)
  const message = redact(errorMessage(error))
  const code = errorCode(error)
  const at = where(settings)
  const make = (reason: AwsFailure, text: string, hint?: string) =>
    new AwsError(reason, operation, redact(text), {
      ...(hint === undefined ? {} : {hint}),
      detail: message,
      cause: error,
    })

  if (error instanceof EndpointAnswerError) {
    const start = redact(error.start).replace(/\s+/g, ' ').trim()
    return make(
      error.problem === 'too-large' || error.status < 500 ? 'malformed' : 'failed',
      `${doing} failed: ${error.message}${start === '' ? '' : `: ${JSON.stringify(start)}`} (${at}).`,
      'Check AWS_ENDPOINT_URL and any proxy between here and AWS (HTTPS_PROXY).',
    )
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return make(
      'credentials-missing',
      `${doing} failed: no AWS credentials found (${at}).`,
      'Set AWS_PROFILE (and run aws sso login if it uses SSO), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --dry-run with --account-id.',
    )
  }
  if (/ExpiredToken|expired/i.test(name) || /security token .* expired/i.test(message)) {
    return make(
      'credentials-expired',
      `${doing} failed: the AWS credentials have expired (${at}).`,
      'Refresh them (aws sso login, or new session credentials) and run again.',
    )
  }
  const refused = `${doing} failed: AWS refused the request (${name}, ${at}).`
  const refusedHint = 'Check that the credentials belong to the right account and may use ECR.'
  if (/InvalidClientTokenId|SignatureDoesNotMatch|UnrecognizedClient|InvalidSignature/.test(name))
    return make('credentials-invalid', refused, refusedHint)
  if (/AccessDenied|UnauthorizedOperation|NotAuthorized/.test(name))
    // Name the permission: a role made for pushing often lacks exactly one read.
    return make(
      'access-denied',
      `${doing} failed: AWS refused ${operation} (${name}, ${at}).`,
      `The credentials need the ${operation} permission on this repository; check the role's policy, the account and --profile.`,
    )
  if ((code !== undefined && UNREACHABLE_CODES.has(code)) || name === 'TimeoutError') {
    return make(
      'unreachable',
      `${doing} failed: the AWS endpoint could not be reached (${code ?? name}).`,
      'Check the network, proxy and AWS_ENDPOINT_URL settings.',
    )
  }
  if (/Throttl|TooManyRequests|RequestLimitExceeded|SlowDown/.test(name)) {
    return make(
      'throttled',
      `${doing} failed: ${firstLine(message)} (${at}).`,
      'AWS is throttling the requests: wait a moment and run again, or raise AWS_MAX_ATTEMPTS.',
    )
  }
  if (/NotFound/.test(name)) return make('not-found', `${doing} failed: ${firstLine(message)} (${at}).`)
  if (/AlreadyExists/.test(name)) return make('conflict', `${doing} failed: ${firstLine(message)} (${at}).`)
  const status = httpStatus(error)
  // The SDK's "Unknown"/"UnknownError" names nothing: say at least what the endpoint answered.
  const text =
    status !== undefined && /^Unknown/i.test(firstLine(message))
      ? `the endpoint answered HTTP ${status} that the SDK could not read`
      : firstLine(message)
  return make('failed', `${doing} failed: ${text} (${at}).`)
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? ''
}
