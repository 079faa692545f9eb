import {RegistryError, type RegistryFailure} from '../errors.js'

/**
 * The registry's own failure texts (as podman and docker print them) turned into one line a user
 * can act on. The original text stays in the error's detail for --verbose and --json.
 */
interface KnownFailure {
  pattern: RegExp
  reason: RegistryFailure
  /** `host`: the registry host the text names, when it names one. */
  message: (match: RegExpExecArray, host: string | undefined) => string
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
    message: (m, host) =>
      `The registry${host ? ` ${host}` : ''} refused the credentials (${/^unauthorized$/i.test(m[0]) ? '401 Unauthorized' : m[0]}).`,
    hint: 'Check that the registry host belongs to the account of the token (--registry, --region, --profile).',
  },
  {
    pattern: /\b403 Forbidden\b|denied: requested access to the resource is denied/i,
    reason: 'denied',
    message: (m, host) => `The registry${host ? ` ${host}` : ''} denied the request (${m[0]}).`,
    hint: "The credentials may log in but not push here: check the repository and the role's push permissions.",
  },
  // The network cause, with the host (issue 16): what a user fixes differs for each.
  {
    // A name lookup that fails or times out is DNS, whatever words follow it.
    pattern:
      /lookup \S+?(?: on \S+)?: (no such host|server misbehaving|i\/o timeout|Temporary failure in name resolution)|no such host|Temporary failure in name resolution|Name or service not known|ENOTFOUND|EAI_AGAIN/i,
    reason: 'unreachable',
    message: (m, host) =>
      `The registry host${host ? ` ${host}` : ''} does not resolve (DNS: ${m[1] ?? m[0]}).`,
    hint: 'Check the host name (--registry, the region), the DNS settings and the VPN.',
  },
  {
    pattern:
      /(?:tls: failed to verify certificate: )?x509: ([^"(\n]*[^"(\s])|tls: ([^"\n]*[^"\s])|CERT_HAS_EXPIRED|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|ERR_TLS_CERT_ALTNAME_INVALID/,
    reason: 'unreachable',
    message: (m, host) =>
      `The TLS certificate of ${host ?? 'the registry'} is not accepted (${m[1] === undefined ? (m[2] === undefined ? m[0] : `tls: ${m[2]}`) : `x509: ${m[1]}`}).`,
    hint: "Give the backend the registry's CA (/etc/containers/certs.d/<host>/ca.crt for podman, /etc/docker/certs.d/<host>/ca.crt for docker; a TLS-inspecting proxy needs its CA too), or check that --registry names the right host.",
  },
  // Network failures and server errors: worth another try after a pause.
  {
    pattern: /connection refused|ECONNREFUSED/i,
    reason: 'transient',
    message: (_m, host) => `Nothing accepts connections at ${host ?? 'the registry'} (connection refused).`,
    hint: 'Check the host and port (--registry), the VPN or proxy, and that the registry is up, then run again.',
  },
  {
    pattern:
      /TLS handshake timeout|i\/o timeout|timeout exceeded|context deadline exceeded|ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT/i,
    reason: 'transient',
    message: (m, host) => `${host ?? 'The registry'} did not answer in time (${m[0]}).`,
    hint: 'Check the network path to the registry (VPN, proxy, firewall), then run again.',
  },
  {
    pattern: /connection reset(?: by peer)?|broken pipe|unexpected EOF|\bEOF(?=\s|$)|ECONNRESET/i,
    reason: 'transient',
    message: (m, host) => `The connection to ${host ?? 'the registry'} was cut (${m[0]}).`,
    hint: 'Check the network and any proxy between here and the registry, then run again.',
  },
  {
    pattern:
      /\b(?:500|502|503|504)\b(?: (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout))?|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout|too many requests|\b429\b(?: Too Many Requests)?/i,
    reason: 'transient',
    message: (m, host) => `${host ?? 'The registry'} answered with a server error (${m[0]}).`,
    hint: 'The registry is overloaded or failing: run again in a while.',
  },
  {
    pattern: /Cannot connect to the Docker daemon|Is the docker daemon running/i,
    reason: 'unreachable',
    message: () => 'The Docker daemon is not running.',
    hint: 'Start Docker (or DOCKER_HOST), or use --backend podman.',
  },
]

/** The registry host a podman/docker error names: the registry pinged, logged into, or dialled. */
export function registryHostIn(text: string): string | undefined {
  const named =
    /pinging container registry ([^\s:]+(?::\d+)?):/.exec(text) ??
    /(?:logging into|authenticating creds for) "([^"]+)"/.exec(text) ??
    /exists in ([^/\s]+)\//.exec(text) ??
    /login attempt to https?:\/\/([^/\s]+)/.exec(text) ??
    /(?:Get|Head|Patch|Put|Post) \\?"https?:\/\/([^/"\\]+)/.exec(text) ??
    /dial tcp: lookup ([^\s:]+)/.exec(text) ??
    /dial tcp ([^\s:]+:\d+): /.exec(text)
  return named?.[1]
}

export function explainRegistryFailure(tail: readonly string[], doing: string): RegistryError | undefined {
  const text = tail.join('\n')
  for (const known of KNOWN) {
    const match = known.pattern.exec(text)
    if (match) {
      return new RegistryError(
        known.reason,
        `${doing} failed: ${known.message(match, registryHostIn(text))}`,
        {
          hint: known.hint,
          detail: tail.slice(-12).join('\n'),
        },
      )
    }
  }
  return undefined
}
