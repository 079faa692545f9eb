import type {IncomingMessage} from 'node:http'
import type {Readable} from 'node:stream'

/**
 * HTTP for the calls mldeploy makes itself (a registry's API, an ECR layer's download URL),
 * answered as fetch answers (a `Response`, its body a stream) but sent with node:http(s). Node's
 * fetch (undici) parses HTTP with a WebAssembly module that V8 compiles a second time, optimized,
 * on background threads once a few answers came: ~27 MB more memory at the end of a push and
 * ~0.1 s that Node waits for at exit (bench/RESULTS.md). The AWS SDK uses node:http too.
 */

/** What the callers send: a method, headers, a body (held in memory, or streamed: a blob copied), a signal. */
export interface HttpRequest {
  method?: string
  headers?: Record<string, string>
  /** A stream is sent as it is read (never buffered whole) and cannot be sent again: no redirect is followed. */
  body?: Buffer | string | Readable
  signal?: AbortSignal
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
/** fetch's own limit. */
const MAX_REDIRECTS = 20
/** fetch (undici) gives up on a server that says nothing for 300 s: so does this. */
const IDLE_TIMEOUT_MS = 300_000
const NO_BODY = new Set([204, 205, 304])

/**
 * One request, redirects followed as fetch follows them for a GET or a HEAD (the credentials go
 * to the same origin only). A network failure rejects with Node's error (its `code`: ECONNREFUSED,
 * ENOTFOUND, ECONNRESET, a TLS code); an abort with an AbortError.
 */
export async function httpFetch(target: string, request: HttpRequest = {}): Promise<Response> {
  const method = request.method ?? 'GET'
  let url = new URL(target)
  let headers = {...request.headers}
  for (let redirects = 0; ; redirects++) {
    const answer = await exchange(url, method, headers, request.body, request.signal)
    const status = answer.statusCode ?? 0
    const location = answer.headers.location
    const follow =
      REDIRECTS.has(status) &&
      location !== undefined &&
      (method === 'GET' || method === 'HEAD') &&
      redirects < MAX_REDIRECTS
    if (!follow) return toResponse(answer, method)
    answer.resume()
    const next = new URL(location, url)
    if (next.origin !== url.origin) {
      const {authorization: _dropped, ...rest} = headers
      headers = rest
    }
    url = next
  }
}

/**
 * An answer whose body is not read (an error page, a PUT's reply) is cancelled before the caller
 * moves on: its socket is closed now instead of staying open behind an unread stream.
 */
export async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined)
}

function exchange(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | string | Readable | undefined,
  signal: AbortSignal | undefined,
): Promise<IncomingMessage> {
  const {request} = process.getBuiltinModule(url.protocol === 'https:' ? 'node:https' : 'node:http')
  return new Promise((resolve, reject) => {
    const outgoing = request(url, {method, headers, ...(signal === undefined ? {} : {signal})}, resolve)
    outgoing.on('error', reject)
    outgoing.setTimeout(IDLE_TIMEOUT_MS, () =>
      outgoing.destroy(
        Object.assign(new Error(`the server sent nothing for ${IDLE_TIMEOUT_MS / 1000} s`), {
          code: 'ETIMEDOUT',
        }),
      ),
    )
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body))
      return void outgoing.end(body)
    // A failing body (the source of a copy) ends the request with the body's own error.
    body.on('error', (error) => outgoing.destroy(error))
    body.pipe(outgoing)
  })
}

function toResponse(answer: IncomingMessage, method: string): Response {
  const headers = new Headers()
  for (let i = 0; i + 1 < answer.rawHeaders.length; i += 2)
    headers.append(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!)
  const status = answer.statusCode ?? 0
  if (method === 'HEAD' || NO_BODY.has(status)) {
    answer.resume()
    return new Response(null, {status, statusText: answer.statusMessage ?? '', headers})
  }
  const {Readable} = process.getBuiltinModule('node:stream')
  return new Response(Readable.toWeb(answer) as ReadableStream<Uint8Array>, {
    status,
    statusText: answer.statusMessage ?? '',
    headers,
  })
}
