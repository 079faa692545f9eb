import {afterEach, describe, expect, it, vi} from 'vitest'

import {RegistryError} from '../../../src/errors.js'
import {Ledger, withLedger} from '../../../src/ledger.js'
import {MANIFEST_MEDIA_TYPES, MEDIA_TYPES} from '../../../src/systems/media-types.js'
import {
  manifestDigest,
  type RegistryAccess,
  registryCalls,
  registryScheme,
  retagManifest,
} from '../../../src/systems/registry-api.js'
import {startTinyRegistry, type TinyRegistry} from '../../helpers/tiny-registry.js'
import {rejectionOf} from '../../helpers/rejection.js'
import {http} from '../../helpers/http-hook.js'

vi.mock('../../../src/systems/http.js', async (real) =>
  (await import('../../helpers/http-hook.js')).hooked(real),
)

const CREDENTIALS = {username: 'AWS', password: 'registry-password-123'}
let registry: TinyRegistry | undefined
afterEach(async () => {
  await registry?.close()
  registry = undefined
})

async function access(): Promise<RegistryAccess> {
  registry = await startTinyRegistry(CREDENTIALS)
  return {scheme: 'http', host: registry.host, ...CREDENTIALS}
}

const failure = (promise: Promise<unknown>): Promise<RegistryError> => rejectionOf(promise, RegistryError)

describe('registryScheme', () => {
  it('an explicit scheme wins, in any case; loopback is http, anything else https', () => {
    expect(registryScheme('HTTP://registry.example.com')).toBe('http')
    expect(registryScheme('https://127.0.0.1:5000')).toBe('https')
    for (const host of [
      'localhost',
      'localhost:5000',
      '127.0.0.1',
      '127.1.2.3:5000',
      '127.10.200.30:5000',
      '[::1]:5000',
    ])
      expect(registryScheme(host), host).toBe('http')
    for (const host of ['registry.example.com', '10.0.0.1:5000', 'localhost.example.com', 'my-localhost', ''])
      expect(registryScheme(host), host).toBe('https')
    // Only a scheme at the start counts: `http://` inside a value is not a scheme.
    expect(registryScheme('registry.example.com/http://x')).toBe('https')
  })
})

describe('the registry API', () => {
  it('reads a digest with HEAD, basic auth and every manifest type accepted', async () => {
    const a = await access()
    const digest = registry!.put('team/model', 'v1', '{"a":1}')
    const ledger = new Ledger()
    expect(await withLedger(ledger, () => manifestDigest(a, 'team/model', 'v1'))).toBe(digest)
    // The ledger has the path as sent; a description names the reference with a placeholder.
    expect(ledger.entries).toEqual([{kind: 'http', call: 'http:HEAD /v2/team/model/manifests/v1'}])
    expect(registryCalls.headManifest('team/model')).toBe('http:HEAD /v2/team/model/manifests/<reference>')
    expect(registry!.requests).toEqual(['HEAD /v2/team/model/manifests/v1'])
    expect(MANIFEST_MEDIA_TYPES.length).toBeGreaterThan(1)
  })

  it('a missing tag has no digest', async () => {
    const a = await access()
    expect(await manifestDigest(a, 'team/model', 'nope')).toBeUndefined()
  })

  it('retags: the same manifest bytes and media type under the new tag', async () => {
    const a = await access()
    const body = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
    const digest = registry!.put('team/model', 'v1', body, 'application/vnd.oci.image.manifest.v1+json')
    const ledger = new Ledger()
    await withLedger(ledger, () => retagManifest(a, 'team/model', digest, 'latest'))
    expect(registry!.manifests.get('team/model:latest')).toEqual({
      body: Buffer.from(body),
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
    })
    expect(await manifestDigest(a, 'team/model', 'latest')).toBe(digest)
    expect(ledger.entries.map((entry) => entry.call)).toEqual([
      `http:GET /v2/team/model/manifests/${digest}`,
      'http:PUT /v2/team/model/manifests/latest',
    ])
    expect(registry!.requests.slice(0, 2)).toEqual([
      `GET /v2/team/model/manifests/${digest}`,
      'PUT /v2/team/model/manifests/latest',
    ])
  })

  it('retags a manifest the registry serves without a content type as the first accepted type', async () => {
    const a = await access()
    const digest = registry!.put('team/model', 'v1', '{"schemaVersion":2}')
    http.rewrite = async (input, init, realFetch) => {
      const response = await realFetch(input, init)
      if ((init?.method ?? 'GET') !== 'GET') return response
      // The same bytes, with no content-type header.
      return new Response(new Uint8Array(await response.arrayBuffer()), {status: response.status})
    }
    try {
      await retagManifest(a, 'team/model', digest, 'latest')
    } finally {
      http.rewrite = undefined
    }
    expect(registry!.manifests.get('team/model:latest')?.mediaType).toBe(MEDIA_TYPES.ociManifest)
  })

  it('wrong credentials: login-refused (HTTP 401), on reads and on tagging', async () => {
    const a = {...(await access()), password: 'wrong-password'}
    registry!.put('team/model', 'v1', '{}')
    const read = await failure(manifestDigest(a, 'team/model', 'v1'))
    expect(read.reason).toBe('login-refused')
    expect(read.message).toBe(
      `Reading team/model:v1 from ${registry!.host} failed: the registry refused the credentials (HTTP 401).`,
    )
    const tag = await failure(retagManifest(a, 'team/model', 'sha256:x', 'latest'))
    expect(tag.message).toBe(
      `Reading the manifest of team/model@sha256:x from ${registry!.host} failed: the registry refused the credentials (HTTP 401).`,
    )
  })

  it('a digest the registry does not have: HTTP 404 is "not-found", not retried', async () => {
    const a = await access()
    const error = await failure(retagManifest(a, 'team/model', 'sha256:none', 'latest'))
    expect(error.reason).toBe('not-found')
    expect(error.message).toContain('not found (HTTP 404).')
  })

  it.each([
    [403, 'denied', 'the registry denied the request (HTTP 403)'],
    [500, 'transient', 'HTTP 500'],
    [503, 'transient', 'HTTP 503'],
    [499, 'failed', 'HTTP 499'],
  ] as const)('HTTP %i: %s', async (status, reason, text) => {
    const a = await access()
    registry!.status = status
    const error = await failure(manifestDigest(a, 'team/model', 'v1'))
    expect(error.reason).toBe(reason)
    expect(error.message).toContain(text)
  })

  it('a refused PUT names the tagging', async () => {
    const a = await access()
    const digest = registry!.put('team/model', 'v1', '{}')
    // Reads pass, the write is refused: a registry that lets this user pull but not push.
    const original = registry!.status
    let calls = 0
    http.rewrite = async (input, init, realFetch) => {
      calls++
      if (init?.method === 'PUT') return new Response(null, {status: 403})
      return realFetch(input, init)
    }
    try {
      const error = await failure(retagManifest(a, 'team/model', digest, 'latest'))
      expect(error.reason).toBe('denied')
      expect(error.message).toBe(
        `Tagging team/model@${digest} as latest on ${registry!.host} failed: the registry denied the request (HTTP 403).`,
      )
    } finally {
      http.rewrite = undefined
    }
    expect(calls).toBe(2)
    expect(original).toBeUndefined()
  })

  it('a body nobody reads is cancelled: an error page, and the reply to a PUT that worked', async () => {
    const a = await access()
    const digest = registry!.put('team/model', 'v1', '{}')
    const cancelled: string[] = []
    /** An answer whose body says when it is cancelled (a socket left behind an unread body stays open). */
    const answer = (what: string, status: number): Response =>
      new Response(
        new ReadableStream({
          start: (controller) => controller.enqueue(new TextEncoder().encode(`${what} page`)),
          cancel: () => void cancelled.push(what),
        }),
        {status},
      )
    http.rewrite = async (input, init, realFetch) => {
      if (init?.method === 'PUT') return answer('put', 201)
      return String(input).includes('broken') ? answer('error', 500) : realFetch(input, init)
    }
    try {
      await retagManifest(a, 'team/model', digest, 'latest')
      expect((await failure(retagManifest(a, 'team/broken', digest, 'latest'))).reason).toBe('transient')
    } finally {
      http.rewrite = undefined
    }
    expect(cancelled).toEqual(['put', 'error'])
  })

  it('a registry that is not there: unreachable, naming where it looked', async () => {
    const a = await access()
    await registry!.close()
    const error = await failure(manifestDigest(a, 'team/model', 'v1'))
    expect(error.reason).toBe('unreachable')
    expect(error.message).toBe(
      `Reading team/model:v1 failed: the registry at http://${a.host} could not be reached (connection refused: nothing listens on that port).`,
    )
    registry = undefined
  })

  it('an abort (AbortError) is passed through as it is, not as unreachable', async () => {
    // The engine aborts with the signal's name as the reason: an abort all the same.
    const a = await access()
    for (const reason of [undefined, 'SIGINT']) {
      const controller = new AbortController()
      controller.abort(reason)
      const error = await manifestDigest(a, 'team/model', 'v1', controller.signal).catch(
        (caught: unknown) => caught,
      )
      expect(error).not.toBeInstanceOf(RegistryError)
      expect((error as Error).name).toBe('AbortError')
    }
  })
})
