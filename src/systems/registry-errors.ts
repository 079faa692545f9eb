import {RegistryError, type RegistryFailure} from '../errors.js'

/**
 * The registry's own failure texts (as podman and docker print them) turned into one line a user
 * can act on. The original text stays in the error's detail for --verbose and --json.
 */
interface KnownFailure {
  pattern: RegExp
  reason: RegistryFailure
  message: (match: RegExpExecArray) => string
  hint: string
}

const KNOWN: KnownFailure[] = [
  {
    pattern: /repository with name '([^']+)' does not exist in the registry with id '(\d+)'/i,
    reason: 'not-found',
    message: (m) => `ECR repository ${m[1]} does not exist in account ${m[2]}.`,
    hint: 'Create it in ECR or push to an existing one with --repository.',
  },
  {
    pattern: /name unknown/i,
    reason: 'not-found',
    message: () => 'The registry does not know this repository.',
    hint: 'Create the repository in ECR or fix --repository.',
  },
  {
    pattern: /authorization token has expired/i,
    reason: 'login-expired',
    message: () => 'The ECR login token has expired.',
    hint: 'Run mldeploy again: it fetches a fresh token.',
  },
  {
    pattern: /no basic auth credentials/i,
    reason: 'login-refused',
    message: () => 'The backend has no login for this registry host.',
    hint: 'The registry host must match the account and region of the login: check --region, --profile and --registry.',
  },
  {
    pattern: /tag invalid:.*image tag '([^']+)' already exists in the '([^']+)' repository.*immutable/i,
    reason: 'immutable-tag',
    message: (m) => `Tag ${m[1]} already exists in the immutable repository ${m[2]}.`,
    hint: 'Push under a new tag (--tag) or make the repository mutable.',
  },
  {
    pattern: /User: (\S+) is not authorized to perform: (\S+)/i,
    reason: 'denied',
    message: (m) => `${m[1]} is not allowed to ${m[2]}.`,
    hint: 'Ask for ECR push permissions (ecr:InitiateLayerUpload, ecr:PutImage...) on this repository.',
  },
  {
    pattern:
      /unauthorized: authentication required|unauthorized|401 Unauthorized|invalid username\/password/i,
    reason: 'login-refused',
    message: () => 'The registry refused the credentials.',
    hint: 'Check that the registry host belongs to the account of the token (--registry, --region, --profile).',
  },
  {
    pattern: /no such host/i,
    reason: 'unreachable',
    message: () => 'The registry host does not resolve.',
    hint: 'Check --registry, the region and the DNS/VPN settings.',
  },
  {
    // Network failures and server errors: worth another try after a pause.
    pattern:
      /connection reset|connection refused|broken pipe|unexpected EOF|\bEOF(?:\s|$)|i\/o timeout|TLS handshake timeout|timeout exceeded|\b(?:500|502|503|504)\b|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout|too many requests|\b429\b/i,
    reason: 'transient',
    message: () => 'The registry connection failed (network error or server error).',
    hint: 'Check the network and the registry, then run again.',
  },
  {
    pattern: /Cannot connect to the Docker daemon|Is the docker daemon running/i,
    reason: 'unreachable',
    message: () => 'The Docker daemon is not running.',
    hint: 'Start Docker (or DOCKER_HOST), or use --backend podman.',
  },
]

export function explainRegistryFailure(tail: readonly string[], doing: string): RegistryError | undefined {
  const text = tail.join('\n')
  for (const known of KNOWN) {
    const match = known.pattern.exec(text)
    if (match) {
      return new RegistryError(known.reason, `${doing} failed: ${known.message(match)}`, {
        hint: known.hint,
        detail: tail.slice(-12).join('\n'),
      })
    }
  }
  return undefined
}
