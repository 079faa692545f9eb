import {afterEach, describe, expect, it, vi} from 'vitest'

import {RegistryError} from '../../../src/errors.js'
import {Ledger, withLedger} from '../../../src/ledger.js'
import {
  declaredMediaType,
  readCapped,
  RegistryImageSource,
  registryTagsOf,
} from '../../../src/systems/image-source.js'
import {sha256Digest} from '../../../src/sha256.js'
import type {RegistryAccess} from '../../../src/systems/registry-api.js'
import {startTinyRegistry, type TinyRegistry} from '../../helpers/tiny-registry.js'
import {rejectionOf} from '../../helpers/rejection.js'
import {http} from '../../helpers/http-hook.js'

vi.mock('../../../src/systems/http.js', async (real) =>
  (await import('../../helpers/http-hook.js')).hooked(real),
)

const CREDENTIALS = {username: 'AWS', password: 'registry-password-123'}
const MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
})
let registry: TinyRegistry | undefined
afterEach(async () => {
  await registry?.close()
  registry = undefined
})

async function source(): Promise<{
  access: RegistryAccess
  images: RegistryImageSource
  registry: TinyRegistry
}> {
  registry = await startTinyRegistry(CREDENTIALS)
  const access = {scheme: 'http', host: registry.host, ...CREDENTIALS}
  return {access, images: new RegistryImageSource(access, 'team/model'), registry}
}

const registryFailure = (promise: Promise<unknown>): Promise<RegistryError> =>
  rejectionOf(promise, RegistryError)

describe('reading an image from a registry', () => {
  it('reads a manifest by tag or digest, its digest checked, the media type from the body', async () => {
    const {images, registry} = await source()
    const digest = registry.put('team/model', 'v1', MANIFEST, 'text/plain')
    const ledger = new Ledger()
    const byTag = await withLedger(ledger, () => images.manifest('v1'))
    expect(byTag).toEqual({
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      digest,
      raw: Buffer.from(MANIFEST),
    })
    expect(ledger.entries).toEqual([{kind: 'http', call: 'http:GET /v2/team/model/manifests/v1'}])
    expect((await images.manifest(digest)).digest).toBe(digest)
  })

  it('asks for every manifest and index type, as real registries choose the format by it', async () => {
    const {images, registry} = await source()
    registry.put('team/model', 'v1', MANIFEST)
    const accepted: string[] = []
    http.rewrite = async (input, init, realFetch) => {
      accepted.push(new Headers(init?.headers).get('accept') ?? '')
      return realFetch(input, init)
    }
    try {
      await images.manifest('v1')
    } finally {
      http.rewrite = undefined
    }
    expect(accepted).toEqual([
      'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json',
    ])
  })

  it('takes the content type when the body names none', async () => {
    const {images, registry} = await source()
    registry.put(
      'team/model',
      'v1',
      '{"schemaVersion":2}',
      'application/vnd.oci.image.manifest.v1+json; charset=x',
    )
    expect((await images.manifest('v1')).mediaType).toBe('application/vnd.oci.image.manifest.v1+json')
  })

  it('a missing manifest is not-found; 401 login-refused; 403 denied; 5xx transient', async () => {
    const {images, registry} = await source()
    const missing = await registryFailure(images.manifest('nope'))
    expect(missing.reason).toBe('not-found')
    expect(missing.message).toBe(
      `Reading the manifest of team/model:nope from ${registry.host}: not found (HTTP 404).`,
    )
    for (const [status, reason] of [
      [401, 'login-refused'],
      [403, 'denied'],
      [502, 'transient'],
      [418, 'failed'],
    ] as const) {
      registry.status = status
      expect((await registryFailure(images.manifest('v1'))).reason, String(status)).toBe(reason)
    }
  })

  it('reads a blob and checks its digest', async () => {
    const {images, registry} = await source()
    const config = Buffer.from('{"architecture":"amd64"}')
    registry.blobs.set(sha256Digest(config), config)
    const wrong = `sha256:${'1'.repeat(64)}`
    registry.blobs.set(wrong, Buffer.from('other bytes'))
    expect(await images.blob(sha256Digest(config))).toEqual(config)
    const error = await registryFailure(images.blob(wrong))
    expect(error.reason).toBe('malformed')
    expect(error.message).toBe(
      `Reading blob ${wrong} of team/model from ${registry.host}: the bytes do not hash to the digest.`,
    )
    expect((await registryFailure(images.blob(`sha256:${'2'.repeat(64)}`))).reason).toBe('not-found')
  })

  it('lists the tags that point at a digest, sorted', async () => {
    const {access, registry} = await source()
    const digest = registry.put('team/model', 'v1', MANIFEST)
    registry.put('team/model', 'latest', MANIFEST)
    registry.put('team/model', 'old', '{"other":1}')
    const ledger = new Ledger()
    expect(await withLedger(ledger, () => registryTagsOf(access, 'team/model', digest))).toEqual([
      'latest',
      'v1',
    ])
    expect(ledger.entries[0]).toEqual({kind: 'http', call: 'http:GET /v2/team/model/tags/list'})
    registry.status = 401
    const refused = await registryFailure(registryTagsOf(access, 'team/model', digest))
    expect(refused.reason).toBe('login-refused')
    expect(refused.message).toBe(
      `Listing the tags of team/model on ${registry.host} failed: the registry refused the credentials (HTTP 401).`,
    )
  })

  it('bytes that do not match the digest the registry names, or the digest asked for, are malformed', async () => {
    const {images, registry} = await source()
    const digest = registry.put('team/model', 'v1', MANIFEST)
    const other = `sha256:${'3'.repeat(64)}`
    // A proxy that rewrites the digest header, then one that serves other bytes for a digest.
    let rewrite: (response: Response) => Response = (response) => response
    http.rewrite = async (input, init, realFetch) => rewrite(await realFetch(input, init))
    try {
      rewrite = (response) =>
        new Response(response.body, {
          status: response.status,
          headers: {'docker-content-digest': other},
        })
      expect((await registryFailure(images.manifest('v1'))).message).toBe(
        `Reading the manifest of team/model:v1 from ${registry.host}: the registry says ${other}, the bytes hash to ${digest}.`,
      )
      rewrite = (response) => new Response(response.body, {status: response.status})
      registry.put('team/model', other, MANIFEST)
      const mismatch = await registryFailure(images.manifest(other))
      expect(mismatch).toMatchObject({
        reason: 'malformed',
        message: `Reading the manifest of team/model:${other} from ${registry.host}: the bytes hash to ${digest}.`,
      })
    } finally {
      http.rewrite = undefined
    }
  })

  it('a registry with no tags lists none; at most 100 tags are looked at', async () => {
    const {access, registry} = await source()
    const digest = registry.put('team/model', 'v1', MANIFEST)
    let tags: unknown = null
    http.rewrite = async (input, init, realFetch) =>
      String(input).includes('/tags/list')
        ? new Response(JSON.stringify({name: 'team/model', tags}))
        : realFetch(input, init)
    try {
      expect(await registryTagsOf(access, 'team/model', digest)).toEqual([])
      tags = [...Array.from({length: 100}, (_, index) => `t${index}`), 'v1']
      // v1 is the 101st tag: it is not looked at.
      expect(await registryTagsOf(access, 'team/model', digest)).toEqual([])
    } finally {
      http.rewrite = undefined
    }
  })

  it('an unreachable registry is named', async () => {
    const {images, registry} = await source()
    await registry.close()
    const error = await registryFailure(images.manifest('v1'))
    expect(error.reason).toBe('unreachable')
    expect(error.message).toContain(`could not be reached (connection refused: nothing listens on that port)`)
  })
})

describe('bodies', () => {
  it('declaredMediaType reads the field, or nothing', () => {
    expect(declaredMediaType(Buffer.from('{"mediaType":"x"}'))).toBe('x')
    expect(declaredMediaType(Buffer.from('{"mediaType":3}'))).toBeUndefined()
    expect(declaredMediaType(Buffer.from('not json'))).toBeUndefined()
  })

  it('readCapped refuses a declared or an actual size over the cap', async () => {
    await expect(readCapped(new Response('12345'), 5, 'Body')).resolves.toEqual(Buffer.from('12345'))
    const declared = new Response('123456', {headers: {'content-length': '6'}})
    await expect(readCapped(declared, 5, 'Body')).rejects.toThrow('Body is 6 bytes, more than the 5 allowed.')
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array(4))
        controller.enqueue(new Uint8Array(4))
        controller.close()
      },
    })
    await expect(readCapped(new Response(stream), 5, 'Body')).rejects.toThrow(
      'Body is more than the 5 bytes allowed.',
    )
    await expect(readCapped(new Response(null), 5, 'Body')).resolves.toEqual(Buffer.alloc(0))
    // Exactly the cap is fine.
    const full = new Response('12345', {headers: {'content-length': '5'}})
    await expect(readCapped(full, 5, 'Body')).resolves.toEqual(Buffer.from('12345'))
  })
})
