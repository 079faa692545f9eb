import {createServer, type IncomingHttpHeaders, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterEach, describe, expect, it} from 'vitest'

import {httpFetch} from '../../../src/systems/http.js'

interface Seen {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

const servers: Server[] = []

/** A server on loopback answering each request with `answer`, recording what it got. */
async function serve(
  answer: (
    seen: Seen,
    respond: (status: number, headers?: Record<string, string>, body?: string) => void,
  ) => void,
): Promise<{origin: string; seen: Seen[]}> {
  const seen: Seen[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const one = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      }
      seen.push(one)
      answer(one, (status, headers = {}, body) => response.writeHead(status, headers).end(body))
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen}
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

describe('httpFetch (node:http, answered as fetch answers)', () => {
  it('sends the method, headers and body; answers with status, headers and the body', async () => {
    const {origin, seen} = await serve((_, respond) =>
      respond(
        201,
        {'content-type': 'application/json', 'docker-content-digest': 'sha256:abc'},
        '{"ok":true}',
      ),
    )
    const response = await httpFetch(`${origin}/v2/team/model/manifests/v1`, {
      method: 'PUT',
      headers: {authorization: 'Basic eDp5', 'content-type': 'application/json'},
      body: Buffer.from('{"schemaVersion":2}'),
    })
    expect([response.status, response.ok, response.headers.get('docker-content-digest')]).toEqual([
      201,
      true,
      'sha256:abc',
    ])
    expect(await response.json()).toEqual({ok: true})
    expect(seen).toMatchObject([
      {
        method: 'PUT',
        url: '/v2/team/model/manifests/v1',
        headers: {authorization: 'Basic eDp5', 'content-type': 'application/json', 'content-length': '19'},
        body: '{"schemaVersion":2}',
      },
    ])
  })

  it('a HEAD, a 204 and a 304 have no body', async () => {
    const {origin} = await serve((seen, respond) =>
      respond(Number(seen.url.slice(1)) || 200, {'docker-content-digest': 'sha256:d'}),
    )
    const head = await httpFetch(`${origin}/200`, {method: 'HEAD'})
    expect([head.status, head.body, head.headers.get('docker-content-digest')]).toEqual([
      200,
      null,
      'sha256:d',
    ])
    expect((await httpFetch(`${origin}/204`)).body).toBeNull()
    expect((await httpFetch(`${origin}/304`)).body).toBeNull()
  })

  it('follows a GET redirect; the credentials go along to the same origin only', async () => {
    const storage = await serve((_, respond) => respond(200, {}, 'blob bytes'))
    const registry = await serve((seen, respond) =>
      seen.url === '/here'
        ? respond(307, {location: '/there'})
        : seen.url === '/there'
          ? respond(302, {location: `${storage.origin}/signed?x=1`})
          : respond(404),
    )
    const response = await httpFetch(`${registry.origin}/here`, {headers: {authorization: 'Basic c2VjcmV0'}})
    expect([response.status, await response.text()]).toEqual([200, 'blob bytes'])
    expect(registry.seen.map((seen) => [seen.url, seen.headers.authorization])).toEqual([
      ['/here', 'Basic c2VjcmV0'],
      ['/there', 'Basic c2VjcmV0'],
    ])
    expect(storage.seen.map((seen) => [seen.url, seen.headers.authorization])).toEqual([
      ['/signed?x=1', undefined],
    ])
  })

  it('answers a redirect to a PUT as it is, and stops after 20 redirects', async () => {
    const {origin, seen} = await serve((one, respond) => respond(307, {location: `/again${one.url.length}`}))
    expect((await httpFetch(`${origin}/put`, {method: 'PUT', body: 'x'})).status).toBe(307)
    expect(seen).toHaveLength(1)
    expect((await httpFetch(`${origin}/get`)).status).toBe(307)
    expect(seen).toHaveLength(1 + 21)
  })

  it('streams the body: a reader can stop early without the rest being read into memory', async () => {
    const {origin} = await serve((_, respond) => respond(200, {}, 'x'.repeat(4 * 1024 * 1024)))
    const response = await httpFetch(`${origin}/big`)
    const reader = response.body!.getReader()
    const first = await reader.read()
    expect(first.value!.length).toBeLessThan(4 * 1024 * 1024)
    await reader.cancel()
  })

  it("a network failure rejects with Node's error and code; an abort with an AbortError", async () => {
    const {origin} = await serve((_, respond) => respond(200))
    const closed = origin
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve))
    const refused = await httpFetch(`${closed}/x`).catch((error: unknown) => error)
    expect((refused as {code?: string}).code).toBe('ECONNREFUSED')
    const silent = await serve(() => undefined)
    const aborted = await httpFetch(`${silent.origin}/x`, {signal: AbortSignal.timeout(50)}).catch(
      (error: unknown) => error,
    )
    expect((aborted as Error).name).toMatch(/AbortError|TimeoutError/)
  })
})
