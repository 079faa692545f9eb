import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type IncomingMessage, request, type Server} from 'node:http'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {Transform} from 'node:stream'

import {execa, type ResultPromise} from 'execa'

import {listenOnLoopback} from './fault-proxy.js'
import {freePort} from './moto.js'

/**
 * Debian's docker-registry (CNCF distribution 2.8) on a free loopback port with its own htpasswd
 * (user AWS, the password an ECR token of one moto account carries), config and storage in a
 * temp folder; stopped by its pid and the folder removed by `stop`.
 */
export interface RealRegistry {
  host: string
  password: string
  stop(): Promise<void>
}

export async function startDockerRegistry(password: string): Promise<RealRegistry> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mldeploy-test-registry-'))
  const port = await freePort()
  mkdirSync(path.join(dir, 'data'))
  // bcrypt: the only hash distribution's htpasswd auth accepts.
  const {stdout} = await execa('htpasswd', ['-Bbn', 'AWS', password])
  writeFileSync(path.join(dir, 'htpasswd'), `${stdout.trim()}\n`)
  const config = path.join(dir, 'config.yml')
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${dir}/data`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '  secret: mldeploy-test-registry',
      'auth:',
      '  htpasswd:',
      '    realm: mldeploy-test-registry',
      `    path: ${dir}/htpasswd`,
      '',
    ].join('\n'),
  )
  // distribution reads any REGISTRY_* variable as configuration: give it none.
  const child: ResultPromise = execa('docker-registry', ['serve', config], {
    env: {PATH: process.env.PATH ?? '/usr/bin:/bin'},
    extendEnv: false,
    stdio: 'ignore',
    reject: false,
  })
  const host = `127.0.0.1:${port}`
  const stop = async (): Promise<void> => {
    if (child.pid !== undefined && child.exitCode === null) child.kill('SIGTERM')
    await child
    rmSync(dir, {recursive: true, force: true})
  }
  const deadline = Date.now() + 20_000
  for (;;) {
    if (child.exitCode !== null) {
      await stop()
      throw new Error('docker-registry exited early')
    }
    // 401 without credentials: up, and enforcing its htpasswd.
    const status = await fetch(`http://${host}/v2/`).then(
      (response) => response.status,
      () => 0,
    )
    if (status === 401) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error('docker-registry did not start within 20 s')
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {host, password, stop}
}

export const sha256 = (bytes: Buffer | string): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

export const basicAuth = (password: string): string =>
  `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}`

/** Push one blob with plain HTTP (POST, then a monolithic PUT with the digest). */
export async function pushBlob(registry: RealRegistry, repository: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes)
  const authorization = basicAuth(registry.password)
  const started = await fetch(`http://${registry.host}/v2/${repository}/blobs/uploads/`, {
    method: 'POST',
    headers: {authorization},
  })
  if (started.status !== 202) throw new Error(`POST upload: HTTP ${started.status}`)
  const location = new URL(started.headers.get('location') ?? '', `http://${registry.host}`)
  location.searchParams.set('digest', digest)
  const put = await fetch(location, {
    method: 'PUT',
    headers: {authorization, 'content-type': 'application/octet-stream'},
    body: bytes,
  })
  if (put.status !== 201) throw new Error(`PUT blob: HTTP ${put.status} ${await put.text()}`)
  return digest
}

export async function pushManifest(
  registry: RealRegistry,
  repository: string,
  reference: string,
  body: string,
  mediaType: string,
): Promise<string> {
  const response = await fetch(`http://${registry.host}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: {authorization: basicAuth(registry.password), 'content-type': mediaType},
    body,
  })
  if (response.status !== 201)
    throw new Error(`PUT manifest: HTTP ${response.status} ${await response.text()}`)
  return response.headers.get('docker-content-digest') ?? sha256(body)
}

/** HEAD of a blob or manifest with the registry's own credentials: its status. */
export async function headStatus(registry: RealRegistry, pathname: string): Promise<number> {
  const response = await fetch(`http://${registry.host}${pathname}`, {
    method: 'HEAD',
    headers: {
      authorization: basicAuth(registry.password),
      accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json',
    },
  })
  return response.status
}

export async function manifestDigestOf(
  registry: RealRegistry,
  repository: string,
  reference: string,
): Promise<string | null> {
  const response = await fetch(`http://${registry.host}/v2/${repository}/manifests/${reference}`, {
    method: 'HEAD',
    headers: {
      authorization: basicAuth(registry.password),
      accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json',
    },
  })
  return response.status === 200 ? response.headers.get('docker-content-digest') : null
}

/**
 * A proxy in front of a registry on loopback that counts what goes through (blob uploads opened,
 * bytes PATCHed, uploads committed), can slow the PATCHed bytes down (`bytesPerSecond`, per
 * request) and refuse the commit of one digest (`refuse`).
 */
export interface RegistryProxy {
  host: string
  counts: {uploadsOpened: number; patchedBytes: number; committed: string[]; mounts: number}
  bytesPerSecond: number | undefined
  /** Refuse the commit of one digest with this status (`times` commits, else every one). */
  refuse: {digest: string; status: number; times?: number} | undefined
  reset(): void
  close(): Promise<void>
}

export async function startRegistryProxy(upstream: string): Promise<RegistryProxy> {
  const [hostname, port] = upstream.split(':') as [string, string]
  // Requests of an earlier generation (an interrupted run's bytes still in flight) are not counted after reset.
  let generation = 0
  const proxy: RegistryProxy = {
    host: '',
    counts: {uploadsOpened: 0, patchedBytes: 0, committed: [], mounts: 0},
    bytesPerSecond: undefined,
    refuse: undefined,
    reset() {
      generation++
      proxy.counts = {uploadsOpened: 0, patchedBytes: 0, committed: [], mounts: 0}
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
  const server: Server = createServer((incoming: IncomingMessage, outgoing) => {
    const born = generation
    const url = new URL(incoming.url ?? '/', 'http://proxy')
    const upload = /\/blobs\/uploads\//.test(url.pathname)
    const digest = url.searchParams.get('digest')
    const refuse = proxy.refuse
    if (
      incoming.method === 'PUT' &&
      upload &&
      digest !== null &&
      refuse?.digest === digest &&
      (refuse.times === undefined || refuse.times-- > 0)
    ) {
      incoming.resume()
      outgoing.writeHead(refuse.status, {'content-type': 'application/json'})
      outgoing.end(
        JSON.stringify({errors: [{code: 'DENIED', message: 'requested access to the resource is denied'}]}),
      )
      return
    }
    if (incoming.method === 'POST' && upload) {
      if (url.searchParams.has('mount')) proxy.counts.mounts++
      else proxy.counts.uploadsOpened++
    }
    const upstreamRequest = request(
      {host: hostname, port, method: incoming.method, path: incoming.url, headers: incoming.headers},
      (response) => {
        if (
          incoming.method === 'PUT' &&
          upload &&
          digest !== null &&
          response.statusCode === 201 &&
          born === generation
        )
          proxy.counts.committed.push(digest)
        outgoing.writeHead(response.statusCode ?? 502, response.headers)
        response.pipe(outgoing)
      },
    )
    upstreamRequest.on('error', () => outgoing.destroy())
    outgoing.on('close', () => upstreamRequest.destroy())
    if (incoming.method !== 'PATCH') return void incoming.pipe(upstreamRequest)
    const rate = proxy.bytesPerSecond
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        if (born === generation) proxy.counts.patchedBytes += chunk.length
        if (rate === undefined) return done(null, chunk)
        setTimeout(() => done(null, chunk), (chunk.length / rate) * 1000)
      },
    })
    incoming.pipe(counter).pipe(upstreamRequest)
  })
  const listening = await listenOnLoopback(server)
  proxy.host = `127.0.0.1:${listening}`
  return proxy
}
