import {readFileSync} from 'node:fs'
import {createServer as createTcpServer, type Socket} from 'node:net'
import path from 'node:path'

import {listenOnLoopback} from './fault-proxy.js'
import {startStandIn, type StandIn} from './stand-in.js'

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/mlflow')
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8')

/**
 * How a loopback server answers the VPN check's MLflow request: as a real MLflow does (recorded in
 * test/fixtures/mlflow), as MLflow's basic-auth app does without credentials, or as the things
 * that stand between a laptop and MLflow do when the VPN is off.
 */
/** A filtering proxy's block page, as one answers for any host it does not let through. */
export const PROXY_PAGE =
  '<html><head><title>Web access blocked</title></head>\n<body><h1>Access to this site is blocked</h1><p>Contact your administrator.</p></body></html>'

export type MlflowAnswer = 'mlflow' | 'mlflow-auth' | 'proxy-page' | 'proxy-auth' | 'plain-ok'

export async function startMlflowStandIn(kind: MlflowAnswer): Promise<StandIn> {
  return startStandIn((request, response) => {
    const search = request.url?.includes('/api/2.0/mlflow/experiments/search') === true
    switch (kind) {
      case 'mlflow':
        if (!search) {
          response.writeHead(404, {'content-type': 'text/html; charset=utf-8'})
          response.end('<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n')
          return
        }
        response.writeHead(200, {'content-type': 'application/json', server: 'uvicorn'})
        response.end(fixture('experiments-search.json'))
        return
      case 'mlflow-auth':
        response.writeHead(401, {
          'content-type': 'text/html; charset=utf-8',
          'www-authenticate': 'Basic realm="mlflow"',
        })
        response.end(
          'You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.',
        )
        return
      case 'proxy-page':
        response.writeHead(200, {'content-type': 'text/html'})
        response.end(PROXY_PAGE)
        return
      case 'proxy-auth':
        response.writeHead(407, {
          'content-type': 'text/html',
          'proxy-authenticate': 'Basic realm="corporate proxy"',
        })
        response.end('<html><body>Proxy Authentication Required</body></html>')
        return
      case 'plain-ok':
        response.writeHead(200, {'content-type': 'text/plain; charset=utf-8'})
        response.end('OK')
        return
    }
  })
}

/** A server that accepts connections and never answers: what a black-holing firewall looks like. */
export async function startSilentServer(): Promise<{url: string; close(): Promise<void>}> {
  const sockets = new Set<Socket>()
  const server = createTcpServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const port = await listenOnLoopback(server as unknown as Parameters<typeof listenOnLoopback>[0])
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
