import {createHash} from 'node:crypto'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {Readable} from 'node:stream'

import {afterEach, describe, expect, it} from 'vitest'

import {RegistryError, UsageError} from '../../../src/errors.js'
import {parseDestination, validateRoleArn} from '../../../src/images.js'
import type {ImageManifest} from '../../../src/systems/image-source.js'
import {
  type CopySource,
  readImageTree,
  SourceBlobError,
  uploadBlob,
} from '../../../src/systems/registry-copy.js'
import {rejectionOf} from '../../helpers/rejection.js'

const digestOf = (bytes: Buffer | string): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

function manifest(body: object, mediaType: string): ImageManifest {
  const raw = Buffer.from(JSON.stringify(body))
  return {raw, digest: digestOf(raw), mediaType}
}

const blob = (name: string, size: number) => ({
  mediaType: 'application/vnd.oci.image.layer.v1.tar',
  digest: digestOf(name),
  size,
})

describe('readImageTree', () => {
  it('an index: its children first (each once), then the index; blobs once each, foreign layers aside', async () => {
    const shared = blob('shared', 10)
    const foreign = {...blob('foreign', 5), urls: ['https://example.com/layer']}
    const amd = manifest(
      {schemaVersion: 2, config: blob('config-amd', 1), layers: [shared, blob('amd', 20), foreign]},
      'application/vnd.oci.image.manifest.v1+json',
    )
    const arm = manifest(
      {schemaVersion: 2, config: blob('config-arm', 2), layers: [shared, blob('arm', 30)]},
      'application/vnd.oci.image.manifest.v1+json',
    )
    const children = [amd, arm, amd].map((each) => ({
      mediaType: each.mediaType,
      digest: each.digest,
      size: each.raw.length,
    }))
    const index = manifest({schemaVersion: 2, manifests: children}, 'application/vnd.oci.image.index.v1+json')
    const byDigest = new Map([amd, arm, index].map((each) => [each.digest, each]))
    const asked: string[] = []
    const source: CopySource = {
      manifest: async (reference) => {
        asked.push(reference)
        const found = byDigest.get(reference)
        if (found === undefined) throw new RegistryError('not-found', reference)
        return found
      },
      openBlob: async () => {
        throw new Error('not read while planning')
      },
    }
    const tree = await readImageTree(source, index.digest, 'src/repo')
    expect(tree.manifests.map((each) => each.digest)).toEqual([amd.digest, arm.digest, index.digest])
    expect(asked).toEqual([index.digest, amd.digest, arm.digest])
    expect(tree.blobs.map((each) => each.size)).toEqual([1, 10, 20, 2, 30])
    expect(tree.foreign.map((each) => each.digest)).toEqual([foreign.digest])
  })

  it('a manifest naming a blob without a digest or size is refused, naming the manifest', async () => {
    const bad = manifest(
      {schemaVersion: 2, config: {digest: 'sha256:nothex', size: 3}, layers: []},
      'application/vnd.oci.image.manifest.v1+json',
    )
    const source: CopySource = {
      manifest: async () => bad,
      openBlob: async () => ({body: Readable.from([]), size: 0}),
    }
    const error = await rejectionOf(readImageTree(source, 'candidate', 'src/repo'), RegistryError)
    expect(error.reason).toBe('malformed')
    expect(error.message).toContain(
      `The manifest ${bad.digest} names a blob without a sha256 digest and a size`,
    )
  })
})

/** An upload endpoint that records each request (method, url, body bytes). */
async function startUploads(): Promise<{
  base: string
  seen: Array<{method: string; url: string; bytes: number}>
  server: Server
}> {
  const seen: Array<{method: string; url: string; bytes: number}> = []
  const server = createServer((request, response) => {
    let bytes = 0
    request.on('data', (chunk: Buffer) => (bytes += chunk.length))
    request.on('error', () => undefined)
    request.on('end', () => {
      seen.push({method: request.method ?? '', url: request.url ?? '', bytes})
      if (request.method === 'PATCH')
        return void response.writeHead(202, {location: '/v2/dst/blobs/uploads/u1?state=after-patch'}).end()
      if (request.method === 'PUT') return void response.writeHead(201).end()
      response.writeHead(404).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {base: `127.0.0.1:${port}`, seen, server}
}

describe('uploadBlob', () => {
  let server: Server | undefined
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve))
    server = undefined
  })

  it('streams the bytes (PATCH), then commits with the digest (PUT) at the location the PATCH named', async () => {
    const uploads = await startUploads()
    server = uploads.server
    const access = {scheme: 'http', host: uploads.base, username: 'AWS', password: 'pw'}
    const bytes = Buffer.alloc(300_000, 7)
    const expected = {digest: digestOf(bytes), size: bytes.length, mediaType: 'x'}
    let counted = 0
    const sent = await uploadBlob(
      access,
      'dst',
      `http://${uploads.base}/v2/dst/blobs/uploads/u1`,
      expected,
      {body: Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)]), size: bytes.length},
      undefined,
      (n) => (counted += n),
    )
    expect(sent).toBe(bytes.length)
    expect(counted).toBe(bytes.length)
    expect(uploads.seen.map((each) => each.method)).toEqual(['PATCH', 'PUT'])
    expect(uploads.seen[0]!.bytes).toBe(bytes.length)
    expect(uploads.seen[1]!.url).toBe(
      `/v2/dst/blobs/uploads/u1?state=after-patch&digest=${encodeURIComponent(expected.digest)}`,
    )
  })

  it('bytes that do not hash to the digest are never committed: a SourceBlobError, no PUT', async () => {
    const uploads = await startUploads()
    server = uploads.server
    const access = {scheme: 'http', host: uploads.base, username: 'AWS', password: 'pw'}
    const expected = {digest: digestOf('the real bytes'), size: 14, mediaType: 'x'}
    const error = await rejectionOf(
      uploadBlob(access, 'dst', `http://${uploads.base}/v2/dst/blobs/uploads/u1`, expected, {
        body: Readable.from([Buffer.from('other bytes!!!')]),
        size: 14,
      }),
      SourceBlobError,
    )
    expect(error.message).toContain(`not the 14 bytes the manifest names: nothing was committed`)
    expect(uploads.seen.map((each) => each.method)).toEqual(['PATCH'])
  })

  it('a source that sends fewer or more bytes than the manifest names fails at once, nothing committed', async () => {
    const uploads = await startUploads()
    server = uploads.server
    const access = {scheme: 'http', host: uploads.base, username: 'AWS', password: 'pw'}
    const expected = {digest: digestOf('x'.repeat(1000)), size: 1000, mediaType: 'x'}
    const upload = `http://${uploads.base}/v2/dst/blobs/uploads/u1`
    const short = await rejectionOf(
      uploadBlob(access, 'dst', upload, expected, {body: Readable.from([Buffer.alloc(10)]), size: 10}),
      SourceBlobError,
    )
    expect(short.message).toContain('ended after 10 of the 1000 bytes the manifest names')
    const long = await rejectionOf(
      uploadBlob(access, 'dst', upload, expected, {body: Readable.from([Buffer.alloc(1001)]), size: 1001}),
      SourceBlobError,
    )
    expect(long.message).toContain('is longer than the 1000 bytes the manifest names')
    expect(uploads.seen.filter((each) => each.method === 'PUT')).toEqual([])
  })

  it("a source stream that breaks midway is the source's failure, and nothing is committed", async () => {
    const uploads = await startUploads()
    server = uploads.server
    const access = {scheme: 'http', host: uploads.base, username: 'AWS', password: 'pw'}
    const expected = {digest: digestOf('x'.repeat(1000)), size: 1000, mediaType: 'x'}
    const body = new Readable({
      read() {
        this.push(Buffer.alloc(100, 1))
        this.destroy(Object.assign(new Error('read ECONNRESET'), {code: 'ECONNRESET'}))
      },
    })
    const error = await rejectionOf(
      uploadBlob(access, 'dst', `http://${uploads.base}/v2/dst/blobs/uploads/u1`, expected, {
        body,
        size: 1000,
      }),
      SourceBlobError,
    )
    expect(error.message).toMatch(/broke off after \d+ of 1000 bytes \(read ECONNRESET\)/)
    expect(uploads.seen.filter((each) => each.method === 'PUT')).toEqual([])
  })
})

describe('parseDestination and validateRoleArn', () => {
  it('an ECR host names its account and region; a repository after the host is kept', () => {
    expect(parseDestination('210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/model', 'x')).toEqual({
      host: '210987654321.dkr.ecr.eu-west-1.amazonaws.com',
      repository: 'team/model',
      ecr: {account: '210987654321', region: 'eu-west-1'},
    })
    expect(
      parseDestination('https://210987654321.dkr.ecr-fips.us-gov-west-1.amazonaws.com/', 'x').ecr,
    ).toEqual({
      account: '210987654321',
      region: 'us-gov-west-1',
    })
    expect(parseDestination('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn', 'x').ecr?.region).toBe(
      'cn-north-1',
    )
  })

  it('another host (a port, no ECR) has no account; its repository is optional', () => {
    expect(parseDestination('127.0.0.1:5000/modela/v1', 'x')).toEqual({
      host: '127.0.0.1:5000',
      repository: 'modela/v1',
      ecr: undefined,
    })
    expect(parseDestination('registry.example.com', 'x').repository).toBeUndefined()
  })

  it('bad input is a usage error naming the setting', () => {
    expect(() => parseDestination('127.0.0.1:5000/Bad Name', '--to-registry')).toThrow(UsageError)
    expect(() => parseDestination('127.0.0.1:5000/Bad', '--to-registry')).toThrow(
      /--to-registry: the repository "Bad"/,
    )
    expect(() => parseDestination('not a host', '--to-registry')).toThrow(
      /--to-registry "not a host" is not a registry host/,
    )
    expect(validateRoleArn('arn:aws:iam::210987654321:role/path/promote', 'x')).toBe(
      'arn:aws:iam::210987654321:role/path/promote',
    )
    expect(() => validateRoleArn('arn:aws:iam::2109:role/x', '--to-role-arn')).toThrow(
      /--to-role-arn .* is not an IAM role ARN/,
    )
  })
})
