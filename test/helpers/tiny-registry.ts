import {createHash} from 'node:crypto'
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

/**
 * A registry's manifest API on loopback, in the test process: GET/HEAD/PUT
 * /v2/<repository>/manifests/<tag|digest> with basic auth, enough for the tag and verify steps
 * when they push to a registry other than ECR's API. `status` forces an answer (401, 403, 500).
 */
export interface TinyRegistry {
  host: string
  /** `<repository>:<reference>` -> manifest body and media type. */
  manifests: Map<string, {body: Buffer; mediaType: string}>
  /** Blobs by digest (an image config). */
  blobs: Map<string, Buffer>
  requests: string[]
  status: number | undefined
  /** Forces the answer to blob reads only (a role that may read manifests, not layers). */
  blobStatus: number | undefined
  /** Holds each manifest HEAD this long before answering, to see reads that overlap. */
  headDelayMs: number
  /** The most manifest HEADs in flight at one moment. */
  maxHeadsInFlight: number
  put(repository: string, tag: string, body: string, mediaType?: string): string
  close(): Promise<void>
}

export const digestOf = (body: Buffer | string): string =>
  `sha256:${createHash('sha256').update(body).digest('hex')}`

export async function startTinyRegistry(credentials: {
  username: string
  password: string
}): Promise<TinyRegistry> {
  const manifests = new Map<string, {body: Buffer; mediaType: string}>()
  const blobs = new Map<string, Buffer>()
  const requests: string[] = []
  const expected = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
  const store = (repository: string, tag: string, body: Buffer, mediaType: string): string => {
    const digest = digestOf(body)
    manifests.set(`${repository}:${tag}`, {body, mediaType})
    manifests.set(`${repository}:${digest}`, {body, mediaType})
    return digest
  }
  // The object the test holds: the handler reads what the test sets on it (status, delays).
  const registry: TinyRegistry = {
    host: '',
    manifests,
    blobs,
    requests,
    status: undefined,
    blobStatus: undefined,
    headDelayMs: 0,
    maxHeadsInFlight: 0,
    put: (repository, tag, body, mediaType = 'application/vnd.docker.distribution.manifest.v2+json') =>
      store(repository, tag, Buffer.from(body), mediaType),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
  let headsInFlight = 0
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    requests.push(`${request.method} ${request.url}`)
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    if (registry.status !== undefined) return void response.writeHead(registry.status).end()
    if (request.headers.authorization !== expected) return void response.writeHead(401).end()
    const blob = /^\/v2\/.+\/blobs\/([^/]+)$/.exec(request.url ?? '')
    if (blob !== null) {
      if (registry.blobStatus !== undefined) return void response.writeHead(registry.blobStatus).end()
      const found = blobs.get(blob[1]!)
      return void (found === undefined ? response.writeHead(404).end() : response.writeHead(200).end(found))
    }
    const list = /^\/v2\/(.+)\/tags\/list(?:\?.*)?$/.exec(request.url ?? '')
    if (list !== null) {
      const prefix = `${list[1]}:`
      const tags = [...manifests.keys()]
        .filter((key) => key.startsWith(prefix) && !key.slice(prefix.length).startsWith('sha256:'))
        .map((key) => key.slice(prefix.length))
      return void response
        .writeHead(200, {'content-type': 'application/json'})
        .end(JSON.stringify({name: list[1], tags}))
    }
    const match = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(request.url ?? '')
    if (match === null) return void response.writeHead(404).end()
    const [, repository, reference] = match as unknown as [string, string, string]
    if (request.method === 'PUT') {
      const digest = store(
        repository,
        reference,
        Buffer.concat(chunks),
        request.headers['content-type'] ?? '',
      )
      return void response.writeHead(201, {'docker-content-digest': digest}).end()
    }
    if (request.method === 'HEAD' && registry.headDelayMs > 0) {
      registry.maxHeadsInFlight = Math.max(registry.maxHeadsInFlight, ++headsInFlight)
      await new Promise((resolve) => setTimeout(resolve, registry.headDelayMs))
      headsInFlight--
    }
    const found = manifests.get(`${repository}:${reference}`)
    if (found === undefined) return void response.writeHead(404).end()
    response.writeHead(200, {'content-type': found.mediaType, 'docker-content-digest': digestOf(found.body)})
    response.end(request.method === 'HEAD' ? undefined : found.body)
  }
  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.writeHead(500).end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  registry.host = `127.0.0.1:${port}`
  return registry
}
