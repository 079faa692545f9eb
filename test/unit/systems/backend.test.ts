import {describe, expect, it} from 'vitest'

import {
  authEnv,
  BACKENDS,
  digestFromPushLine,
  firstImageId,
  imagesByLabelArgs,
  isBackend,
  isDigest,
  loginArgs,
  pushArgs,
  pushAsArgs,
  tagArgs,
} from '../../../src/systems/backend.js'

const DIGEST = `sha256:${'0a'.repeat(32)}`

describe('the container backend', () => {
  it('knows podman and docker only', () => {
    expect(BACKENDS).toEqual(['podman', 'docker'])
    expect(isBackend('podman')).toBe(true)
    expect(isBackend('docker')).toBe(true)
    expect(isBackend('buildah')).toBe(false)
  })

  it('logs in with the password on stdin, never in argv', () => {
    expect(loginArgs('r.example')).toEqual(['login', '--username', 'AWS', '--password-stdin', 'r.example'])
  })

  it('pushes: podman converts to the chosen format and writes the digest; docker prints it', () => {
    expect(pushArgs('podman', 'r/x:1', '/d/digest-0')).toEqual([
      'push',
      '--format',
      'v2s2',
      '--digestfile',
      '/d/digest-0',
      'r/x:1',
    ])
    expect(pushArgs('podman', 'r/x:1', '/d/digest-0', 'oci')).toContain('oci')
    expect(pushArgs('docker', 'r/x:1', '/d/digest-0', 'oci')).toEqual(['push', 'r/x:1'])
  })

  it('keeps each backend login in a private place', () => {
    expect(authEnv('podman', '/p')).toEqual({REGISTRY_AUTH_FILE: '/p/auth.json'})
    expect(authEnv('docker', '/p')).toEqual({DOCKER_CONFIG: '/p'})
  })

  it("reads docker's digest line, and only a full sha256 digest", () => {
    expect(digestFromPushLine(`v1: digest: ${DIGEST} size: 1234`)).toBe(DIGEST)
    expect(digestFromPushLine(`v1: digest:${DIGEST}`)).toBe(DIGEST)
    expect(digestFromPushLine('v1: digest: sha256:abc size: 1')).toBeUndefined()
    expect(digestFromPushLine(`predigest: ${DIGEST}`)).toBeUndefined()
    expect(digestFromPushLine('Pushed')).toBeUndefined()
    expect(isDigest(DIGEST)).toBe(true)
    expect(isDigest(`${DIGEST}0`)).toBe(false)
    expect(isDigest(` ${DIGEST}`)).toBe(false)
    expect(isDigest(DIGEST.toUpperCase())).toBe(false)
  })
})

describe('reuse: finding, naming and pushing an image that is already there', () => {
  it('lists local images by label, IDs by default', () => {
    expect(imagesByLabelArgs('org.mldeploy.content', 'sha256:abc')).toEqual([
      'images',
      '--filter',
      'label=org.mldeploy.content=sha256:abc',
      '--format',
      '{{.ID}}',
    ])
    expect(imagesByLabelArgs('k', 'v', '{{.Repository}}').at(-1)).toBe('{{.Repository}}')
  })

  it('tags and pushes under the new name: docker the tag it made, podman from source to destination', () => {
    expect(tagArgs('r/a:1', 'r/a:2')).toEqual(['tag', 'r/a:1', 'r/a:2'])
    expect(pushAsArgs('docker', 'r/a:1', 'r/a:2')).toEqual(['push', 'r/a:2'])
    expect(pushAsArgs('podman', 'r/a:1', 'r/a:2')).toEqual(['push', '--format', 'v2s2', 'r/a:1', 'r/a:2'])
    expect(pushAsArgs('podman', 'r/a:1', 'r/a:2', 'oci')).toEqual([
      'push',
      '--format',
      'oci',
      'r/a:1',
      'r/a:2',
    ])
  })

  it('takes the first whole image ID, trimmed, from images output', () => {
    expect(firstImageId(['', 'WARN something', '  0123456789ab  ', 'fedcba987654'])).toBe('0123456789ab')
    expect(firstImageId(['0123456789a', `x${'a'.repeat(12)}`, `${'a'.repeat(12)}x`, 'ABCDEF012345'])).toBe(
      undefined,
    )
    expect(firstImageId(['a'.repeat(64)])).toBe('a'.repeat(64))
    expect(firstImageId(['a'.repeat(65)])).toBeUndefined()
  })

  it('podman without a digest file pushes without --digestfile', () => {
    expect(pushArgs('podman', 'r/a:1', undefined)).toEqual(['push', '--format', 'v2s2', 'r/a:1'])
  })
})
