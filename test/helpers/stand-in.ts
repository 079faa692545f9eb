import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'

import {listenOnLoopback} from './fault-proxy.js'

export interface StandIn {
  url: string
  /** The headers of every request received, in order. */
  requests: IncomingMessage['headers'][]
  close(): Promise<void>
}

/** A loopback HTTP server answering every request with `answer`: misbehaving AWS endpoints. */
export async function startStandIn(
  answer: (request: IncomingMessage, response: ServerResponse, body: string) => void,
): Promise<StandIn> {
  const requests: IncomingMessage['headers'][] = []
  const server: Server = createServer((request, response) => {
    requests.push(request.headers)
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => answer(request, response, Buffer.concat(chunks).toString()))
  })
  const port = await listenOnLoopback(server)
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** An AWS-shaped error whose message echoes the request headers (JSON for ECR, XML for STS). */
export function echoHeadersAsAwsError(request: IncomingMessage, response: ServerResponse): void {
  const echoed = JSON.stringify(request.headers)
  if (request.headers['x-amz-target'] !== undefined) {
    response.writeHead(400, {'content-type': 'application/x-amz-json-1.1'})
    response.end(JSON.stringify({__type: 'AccessDeniedException', message: `denied; you sent ${echoed}`}))
    return
  }
  const escaped = echoed.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  response.writeHead(403, {'content-type': 'text/xml'})
  response.end(
    `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>denied; you sent ${escaped}</Message></Error><RequestId>1</RequestId></ErrorResponse>`,
  )
}

/** The SigV4 signatures of the requests a stand-in received. */
export function signaturesOf(standIn: StandIn): string[] {
  return standIn.requests.flatMap(
    (headers) => /Signature=([0-9a-f]+)/.exec(String(headers.authorization))?.[1] ?? [],
  )
}
