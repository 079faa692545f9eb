import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {parseBuildTag} from '../../../src/systems/bentoml.js'
import {exitClassOf} from '../../../src/errors.js'
import {explainRegistryFailure} from '../../../src/systems/registry-errors.js'

// Real outputs captured from bentoml 1.4.40, podman 4.3.1 and docker 28 on this machine
// (test/fixtures/*/README.md says how each was made).
const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures')
const read = (file: string): string => readFileSync(path.join(FIXTURES, file), 'utf8')

describe('tag parsing on real bentoml build output', () => {
  it.each([
    ['bentoml/build-plain.stdout.txt', 'iris_v1:mqlrppxjt6nucax4'],
    ['bentoml/build-wide.stdout.txt', 'iris_v1:nq56wqhjt6gjgax4'],
    ['bentoml/build-o-tag.stdout.txt', 'iris_v1:pntc3chjt63gwax4'],
    [
      'bentoml/build-longname-plain.stdout.txt',
      'iris-classifier-production-south-america-east-v1:7rz762hjt63baax4',
    ],
    [
      'bentoml/build-longname-wide.stdout.txt',
      'iris-classifier-production-south-america-east-v1:avgoufhjuczeuax4',
    ],
    [
      'bentoml/build-maxname-plain.stdout.txt',
      'iris-classifier-production-south-america-east-v1-canary-release:crxymcxjucwvcax4',
    ],
  ])('%s gives %s', (file, tag) => {
    expect(parseBuildTag(read(file))).toBe(tag)
  })

  it('reads the tag split across ANSI colour spans (FORCE_COLOR)', () => {
    const output = read('bentoml/build-color.stdout.txt')
    expect(output).toContain('\u001b[')
    expect(parseBuildTag(output)).toMatch(/^iris_v1:[a-z2-7]{16}$/)
  })

  it.each([
    'bentoml/build-quiet.stdout.txt',
    'bentoml/build-failed.stdout.txt',
    'bentoml/build-failed-o-tag.stdout.txt',
  ])('finds no tag in %s', (file) => {
    expect(parseBuildTag(read(file))).toBeUndefined()
  })
})

describe('registry errors on real podman and docker output', () => {
  const lines = (file: string): string[] => read(file).split('\n')

  it('a wrong password at login', () => {
    const error = explainRegistryFailure(
      lines('engines/podman-login-wrong-password.stderr.txt'),
      'podman login',
    )
    expect(error?.message).toBe(
      'podman login failed: The registry 127.0.0.1:47001 refused the credentials (invalid username/password).',
    )
    expect(error?.reason).toBe('login-refused')
    expect(exitClassOf(error, 'push')).toBe('auth')
  })

  it('a push without a login, podman and docker', () => {
    const podman = explainRegistryFailure(lines('engines/podman-push-no-login.stderr.txt'), 'Pushing x')
    expect(podman?.message).toBe(
      'Pushing x failed: The registry 127.0.0.1:47001 refused the credentials (unauthorized: authentication required).',
    )
    expect(podman?.reason).toBe('login-refused')
    const docker = explainRegistryFailure(lines('engines/docker-push-no-login.stderr.txt'), 'Pushing x')
    expect(docker?.message).toBe('Pushing x failed: The backend has no login for this registry host.')
    expect(docker?.reason).toBe('login-refused')
    expect(exitClassOf(docker, 'push')).toBe('auth')
  })

  it('a connection reset in the middle of a push is transient (retried)', () => {
    const error = explainRegistryFailure(lines('engines/podman-push-reset.stderr.txt'), 'Pushing x')
    expect(error?.message).toBe('Pushing x failed: The connection to 127.0.0.1:41459 was cut (EOF).')
    expect(error?.reason).toBe('transient')
    expect(exitClassOf(error, 'push')).toBe('push')
  })

  // Captured from real podman/docker (test/fixtures/engines/README.md): the host and the cause.
  it.each([
    ['podman-login-refused', 'transient', 'Nothing accepts connections at 127.0.0.1:1 (connection refused).'],
    ['podman-push-refused', 'transient', 'Nothing accepts connections at 127.0.0.1:1 (connection refused).'],
    ['docker-login-refused', 'transient', 'Nothing accepts connections at 127.0.0.1:1 (connection refused).'],
    [
      'podman-login-no-such-host',
      'unreachable',
      'The registry host nonexistent-host.invalid does not resolve (DNS: no such host).',
    ],
    [
      'podman-push-no-such-host',
      'unreachable',
      'The registry host nonexistent-host.invalid does not resolve (DNS: no such host).',
    ],
    [
      'docker-login-no-such-host',
      'unreachable',
      'The registry host nonexistent-host.invalid does not resolve (DNS: no such host).',
    ],
    [
      'podman-login-unknown-authority',
      'unreachable',
      'The TLS certificate of 127.0.0.1:47519 is not accepted (x509: certificate signed by unknown authority).',
    ],
    [
      'podman-push-unknown-authority',
      'unreachable',
      'The TLS certificate of 127.0.0.1:47519 is not accepted (x509: certificate signed by unknown authority).',
    ],
    [
      'podman-login-no-ip-san',
      'unreachable',
      "The TLS certificate of 127.0.0.1:47519 is not accepted (x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs).",
    ],
    [
      'podman-login-handshake-timeout',
      'transient',
      '127.0.0.1:47518 did not answer in time (TLS handshake timeout).',
    ],
  ])('%s: %s, "%s"', (file, reason, message) => {
    const error = explainRegistryFailure(lines(`engines/${file}.stderr.txt`), 'podman login')
    expect(error?.reason).toBe(reason)
    expect(error?.message).toBe(`podman login failed: ${message}`)
    expect(error?.message).not.toContain('The registry connection failed')
  })
})
