import {AwsError, type AwsFailure, errorMessage} from '../../errors.js'
import type {AwsSettings} from './settings.js'
import {formatBytes} from '../../bytes.js'

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
  const cached = cachedCredentialsFailure(message, settings)
  // The profile is in the sentence already.
  if (cached !== undefined)
    return make(cached.reason, `${doing} failed: ${cached.text} (region ${settings.region}).`, cached.hint)
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
      expiredHint(settings),
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

/** The profile the SDK reads when none is named. */
const profileName = (settings: AwsSettings): string => settings.profile ?? 'default'

/** Session keys in the environment are renewed where they came from; a profile's, by its login. */
function expiredHint(settings: AwsSettings): string {
  if (settings.credentials?.sessionToken !== undefined)
    return 'Get new session credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and run again.'
  const profile = profileName(settings)
  return `Refresh profile ${profile}'s credentials (aws sso login --profile ${profile} if it uses SSO) and run again.`
}

/**
 * The SDK's words for cached credentials that ran out or were never there, checked on the local
 * cache before any request: an SSO session (legacy profile: "has expired"; sso-session profile:
 * "Token is expired", or "Cannot refresh" when the cache holds no refresh token), an SSO cache
 * file that is missing, and a credential_process that answered an Expiration in the past (the
 * chain reports that one only through its log: see `AwsSession`).
 */
const SSO_EXPIRED =
  /SSO session associated with this profile has expired|Token is expired\. To refresh this SSO session|in SSO Token\. Cannot refresh/
const SSO_MISSING =
  /SSO session associated with this profile is invalid|SSO session token associated with profile=\S+ was not found or is invalid/
const PROCESS_EXPIRED = /credential_process returned expired credentials/

function cachedCredentialsFailure(
  message: string,
  settings: AwsSettings,
): {reason: AwsFailure; text: string; hint: string} | undefined {
  const profile = profileName(settings)
  const login = `Run aws sso login --profile ${profile}, then run again.`
  if (SSO_EXPIRED.test(message))
    return {
      reason: 'credentials-expired',
      text: `the AWS SSO session of profile ${profile} has expired`,
      hint: login,
    }
  if (SSO_MISSING.test(message))
    return {
      reason: 'credentials-missing',
      text: `profile ${profile} has no AWS SSO session on this machine (not logged in, or logged out)`,
      hint: login,
    }
  if (PROCESS_EXPIRED.test(message))
    return {
      reason: 'credentials-expired',
      text: `the credentials that profile ${profile}'s credential_process returned have expired`,
      hint: 'Renew what its credential_process reads (its own login or cache), then run again.',
    }
  return undefined
}

/**
 * The default chain's failure with the reason it only logged: a profile's credential_process that
 * answered expired credentials lets the chain go on, which ends in "Could not load credentials
 * from any providers". `logged` is what the chain said on its debug log.
 */
export function withChainReason(error: unknown, logged: readonly string[]): unknown {
  if (!/Could not load credentials from any providers/.test(errorMessage(error))) return error
  const reason = logged.find((line) => PROCESS_EXPIRED.test(line) || SSO_EXPIRED.test(line))
  if (reason === undefined) return error
  const said = reason.replace(/^@smithy\/property-provider (->|\(!\)) /, '')
  return Object.assign(new Error(said, {cause: error}), {name: 'CredentialsProviderError'})
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? ''
}
