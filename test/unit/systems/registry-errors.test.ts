import {describe, expect, it} from 'vitest'

import {explainRegistryFailure} from '../../../src/systems/registry-errors.js'

/** What each known registry text becomes: its reason and the one line shown. */
const CASES: Array<[string, string, string]> = [
  [
    "name unknown: The repository with name 'modela/v1' does not exist in the registry with id '123456789012'",
    'not-found',
    'ECR repository modela/v1 does not exist in account 123456789012.',
  ],
  [
    'name unknown: repository name not known to registry',
    'not-found',
    'The registry does not know this repository.',
  ],
  [
    'denied: Your authorization token has expired. Reauthenticate and try again.',
    'login-expired',
    'The ECR login token has expired.',
  ],
  ['no basic auth credentials', 'login-refused', 'The backend has no login for this registry host.'],
  [
    "tag invalid: The image tag 'latest' already exists in the 'modela/v1' repository and cannot be overwritten because the repository is immutable.",
    'immutable-tag',
    'Tag latest already exists in the immutable repository modela/v1.',
  ],
  [
    'denied: User: arn:aws:iam::1:user/ci is not authorized to perform: ecr:InitiateLayerUpload on resource: x',
    'denied',
    'arn:aws:iam::1:user/ci is not allowed to ecr:InitiateLayerUpload.',
  ],
  [
    'Error: unauthorized: authentication required',
    'login-refused',
    'The registry refused the credentials (unauthorized: authentication required).',
  ],
  [
    'Error response from daemon: Get "https://x/v2/": 401 Unauthorized',
    'login-refused',
    'The registry x refused the credentials (401 Unauthorized).',
  ],
  [
    'Error: logging into "x": invalid username/password',
    'login-refused',
    'The registry x refused the credentials (invalid username/password).',
  ],
  [
    'Error: reading manifest: Get "https://r.example/v2/a/manifests/b": 403 Forbidden',
    'denied',
    'The registry r.example denied the request (403 Forbidden).',
  ],
  [
    'dial tcp: lookup nowhere.example: no such host',
    'unreachable',
    'The registry host nowhere.example does not resolve (DNS: no such host).',
  ],
  [
    'dial tcp: lookup nowhere.example on 10.0.0.2:53: i/o timeout',
    'unreachable',
    'The registry host nowhere.example does not resolve (DNS: i/o timeout).',
  ],
  [
    'dial tcp: lookup nowhere.example: Temporary failure in name resolution',
    'unreachable',
    'The registry host nowhere.example does not resolve (DNS: Temporary failure in name resolution).',
  ],
  [
    'Get "https://r.example/v2/": x509: certificate has expired or is not yet valid: current time 2026-11-27',
    'unreachable',
    'The TLS certificate of r.example is not accepted (x509: certificate has expired or is not yet valid: current time 2026-11-27).',
  ],
  [
    'Get "https://r.example/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority',
    'unreachable',
    'The TLS certificate of r.example is not accepted (x509: certificate signed by unknown authority).',
  ],
  [
    'read: connection reset by peer',
    'transient',
    'The connection to the registry was cut (connection reset by peer).',
  ],
  [
    'dial tcp 127.0.0.1:5000: connect: connection refused',
    'transient',
    'Nothing accepts connections at 127.0.0.1:5000 (connection refused).',
  ],
  ['write: broken pipe', 'transient', 'The connection to the registry was cut (broken pipe).'],
  ['unexpected EOF', 'transient', 'The connection to the registry was cut (unexpected EOF).'],
  ['Patch "https://x": EOF', 'transient', 'The connection to x was cut (EOF).'],
  [
    'net/http: TLS handshake timeout',
    'transient',
    'The registry did not answer in time (TLS handshake timeout).',
  ],
  [
    'received unexpected HTTP status: 502 Bad Gateway',
    'transient',
    'The registry answered with a server error (502 Bad Gateway).',
  ],
  ['too many requests', 'transient', 'The registry answered with a server error (too many requests).'],
  ['HTTP 429', 'transient', 'The registry answered with a server error (429).'],
  ['i/o timeout', 'transient', 'The registry did not answer in time (i/o timeout).'],
  [
    '503 Service Unavailable',
    'transient',
    'The registry answered with a server error (503 Service Unavailable).',
  ],
  [
    'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?',
    'unreachable',
    'The Docker daemon is not running.',
  ],
]

describe('registry failure texts', () => {
  it.each(CASES)('%s -> %s', (text, reason, message) => {
    const error = explainRegistryFailure(['some progress', text], 'Pushing x')
    expect(error).toMatchObject({domain: 'registry', reason, message: `Pushing x failed: ${message}`})
    expect(error?.hint).toEqual(expect.any(String))
    expect(error?.detail).toBe(`some progress\n${text}`)
  })

  it('keeps only the last 12 lines as the detail', () => {
    const tail = [...Array.from({length: 20}, (_, i) => `line ${i}`), 'connection reset by peer']
    expect(explainRegistryFailure(tail, 'x')?.detail?.split('\n')).toEqual(tail.slice(-12))
  })

  it('the first known text in the list wins (a missing repository over the 401 that follows it)', () => {
    const error = explainRegistryFailure(['unauthorized', 'name unknown'], 'x')
    expect(error?.reason).toBe('not-found')
  })

  it('words that only contain a code or EOF are not network failures', () => {
    for (const text of ['layer 5003 done', 'GEOFF pushed', 'something failed']) {
      expect(explainRegistryFailure([text], 'x'), text).toBeUndefined()
    }
  })
})
