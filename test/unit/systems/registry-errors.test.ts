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
  ['Error: unauthorized: authentication required', 'login-refused', 'The registry refused the credentials.'],
  [
    'Error response from daemon: Get "https://x/v2/": 401 Unauthorized',
    'login-refused',
    'The registry refused the credentials.',
  ],
  [
    'Error: logging into "x": invalid username/password',
    'login-refused',
    'The registry refused the credentials.',
  ],
  ['dial tcp: lookup nowhere.example: no such host', 'unreachable', 'The registry host does not resolve.'],
  [
    'read: connection reset by peer',
    'transient',
    'The registry connection failed (network error or server error).',
  ],
  [
    'dial tcp 127.0.0.1:5000: connect: connection refused',
    'transient',
    'The registry connection failed (network error or server error).',
  ],
  ['write: broken pipe', 'transient', 'The registry connection failed (network error or server error).'],
  ['unexpected EOF', 'transient', 'The registry connection failed (network error or server error).'],
  ['Patch "https://x": EOF', 'transient', 'The registry connection failed (network error or server error).'],
  [
    'net/http: TLS handshake timeout',
    'transient',
    'The registry connection failed (network error or server error).',
  ],
  [
    'received unexpected HTTP status: 502 Bad Gateway',
    'transient',
    'The registry connection failed (network error or server error).',
  ],
  ['too many requests', 'transient', 'The registry connection failed (network error or server error).'],
  ['HTTP 429', 'transient', 'The registry connection failed (network error or server error).'],
  ['i/o timeout', 'transient', 'The registry connection failed (network error or server error).'],
  ['503 Service Unavailable', 'transient', 'The registry connection failed (network error or server error).'],
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
