import {createHash} from 'node:crypto'
import {readdirSync, readFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import path from 'node:path'

import {forward, listenOnLoopback} from './fault-proxy.js'

/**
 * The image config every image the fake tool pushes points at (test/fixtures/bin/fake-tool.js):
 * linux/amd64, no labels. moto stores manifests but no layers and has no GetDownloadUrlForLayer
 * (it answers HTTP 500), so the integration tests reach moto through `startEcrLayers`, which adds
 * what ECR does for that one operation: a download URL (a presigned S3 URL in AWS, served here).
 */
export const FAKE_CONFIG = readFileSync(
  path.resolve(import.meta.dirname, '../fixtures/ecr/image-config.json'),
)
export const FAKE_CONFIG_DIGEST = `sha256:${createHash('sha256').update(FAKE_CONFIG).digest('hex')}`

/**
 * Every config the fake tool may push, by digest: the one above, and (FAKE_IMAGE_CONFIG) others of
 * test/fixtures/ecr/, such as an image as the SageMaker adapter layer leaves it.
 */
const CONFIGS_DIR = path.resolve(import.meta.dirname, '../fixtures/ecr')
const CONFIGS = new Map<string, Buffer>(
  readdirSync(CONFIGS_DIR)
    .filter((name) => name.endsWith('.json'))
    .map((name) => {
      const bytes = readFileSync(path.join(CONFIGS_DIR, name))
      return [`sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes] as const
    }),
)

export interface EcrLayers {
  url: string
  close(): Promise<void>
}

/** moto behind a front that answers GetDownloadUrlForLayer for the fake config and serves it. */
export async function startEcrLayers(motoUrl: string): Promise<EcrLayers> {
  const moto = new URL(motoUrl)
  const address = {url: ''}
  const server: Server = createServer((incoming, outgoing) => {
    const layer = /^\/layers\/(sha256:[a-f0-9]{64})(?:\?.*)?$/.exec(incoming.url ?? '')
    if (incoming.method === 'GET' && layer !== null) {
      const config = CONFIGS.get(layer[1]!)
      if (config === undefined) return void outgoing.writeHead(404).end()
      return void outgoing.writeHead(200, {'content-type': 'application/octet-stream'}).end(config)
    }
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.on('end', () => {
      const body = Buffer.concat(chunks)
      const target = String(incoming.headers['x-amz-target'] ?? '')
      if (!target.endsWith('.GetDownloadUrlForLayer'))
        return void forward(incoming, outgoing, moto.hostname, moto.port).end(body)
      const {layerDigest} = JSON.parse(body.toString('utf8')) as {layerDigest?: string}
      const json = {'content-type': 'application/x-amz-json-1.1'}
      if (layerDigest === undefined || !CONFIGS.has(layerDigest))
        return void outgoing.writeHead(400, json).end(
          JSON.stringify({
            __type: 'LayersNotFoundException',
            message: `The layer ${layerDigest} does not exist.`,
          }),
        )
      outgoing.writeHead(200, json).end(
        JSON.stringify({
          downloadUrl: `${address.url}/layers/${layerDigest}?X-Amz-Signature=stand-in`,
          layerDigest,
        }),
      )
    })
  })
  address.url = `http://127.0.0.1:${await listenOnLoopback(server)}`
  return {url: address.url, close: () => new Promise((resolve) => server.close(() => resolve()))}
}
