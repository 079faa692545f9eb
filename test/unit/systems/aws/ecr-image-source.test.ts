import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import type {ECRClient} from '@aws-sdk/client-ecr'
import {afterEach, describe, expect, it} from 'vitest'

import {AwsError} from '../../../../src/errors.js'
import {EcrImageSource} from '../../../../src/systems/aws/index.js'
import {EndpointAnswerError} from '../../../../src/systems/aws/errors.js'
import {sha256Digest} from '../../../../src/systems/image-source.js'

/** An ECR client stand-in: answers by command name, records the inputs. */
function fakeClient(answers: Record<string, (input: Record<string, unknown>) => unknown>) {
  const sent: Array<{command: string; input: Record<string, unknown>}> = []
  const client = {
    send: async (command: {constructor: {name: string}; input: Record<string, unknown>}) => {
      const name = command.constructor.name
      sent.push({command: name, input: command.input})
      const answer = answers[name]
      if (answer === undefined) throw new Error(`unexpected ${name}`)
      return answer(command.input)
    },
  }
  return {client: client as unknown as ECRClient, sent}
}

const sdkError = (name: string, message = `${name} happened`) => Object.assign(new Error(message), {name})

async function awsFailure(promise: Promise<unknown>): Promise<AwsError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(AwsError)
  return error as AwsError
}

let server: Server | undefined
afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())))
  server = undefined
})

/** A presigned-URL stand-in: serves `body` with `status`. */
async function download(status: number, body: Buffer): Promise<string> {
  server = createServer((_, response) => response.writeHead(status).end(body))
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/layer?X-Amz-Signature=x`
}

const MANIFEST = '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}'

describe('reading an image through the ECR API', () => {
  it('a manifest by tag or by digest, in the account given', async () => {
    const {client, sent} = fakeClient({
      BatchGetImageCommand: () => ({
        images: [{imageManifest: MANIFEST, imageId: {imageDigest: 'sha256:served'}}],
      }),
    })
    const source = new EcrImageSource(client, 'team/model', '123456789012')
    expect(await source.manifest('v1')).toEqual({
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      digest: 'sha256:served',
      raw: Buffer.from(MANIFEST),
    })
    await source.manifest('sha256:abc')
    expect(sent.map((entry) => entry.input.imageIds)).toEqual([
      [{imageTag: 'v1'}],
      [{imageDigest: 'sha256:abc'}],
    ])
    expect(sent[0]!.input).toMatchObject({repositoryName: 'team/model', registryId: '123456789012'})
  })

  it('the media type ECR reports wins; the digest is computed when ECR gives none', async () => {
    const {client, sent} = fakeClient({
      BatchGetImageCommand: () => ({
        images: [{imageManifest: '{}', imageManifestMediaType: 'application/x'}],
      }),
    })
    const manifest = await new EcrImageSource(client, 'r').manifest('v1')
    expect(manifest).toMatchObject({mediaType: 'application/x', digest: sha256Digest(Buffer.from('{}'))})
    expect(sent[0]!.input.registryId).toBeUndefined()
    const unknown = fakeClient({BatchGetImageCommand: () => ({images: [{imageManifest: '{}'}]})})
    expect((await new EcrImageSource(unknown.client, 'r').manifest('v1')).mediaType).toBe('unknown')
  })

  it("a missing image is not-found, with ECR's reason; another failure is failed", async () => {
    const missing = fakeClient({
      BatchGetImageCommand: () => ({
        failures: [{failureCode: 'ImageNotFound', failureReason: 'Requested image not found'}],
      }),
    })
    const error = await awsFailure(new EcrImageSource(missing.client, 'r').manifest('v9'))
    expect(error).toMatchObject({reason: 'not-found', operation: 'ecr:BatchGetImage'})
    expect(error.message).toBe('r:v9 does not exist (Requested image not found).')
    const mismatch = fakeClient({
      BatchGetImageCommand: () => ({failures: [{failureCode: 'ImageTagDoesNotMatchDigest'}]}),
    })
    expect((await awsFailure(new EcrImageSource(mismatch.client, 'r').manifest('v9'))).message).toBe(
      'r:v9 does not exist.',
    )
    const other = fakeClient({BatchGetImageCommand: () => ({failures: [{failureCode: 'KmsError'}]})})
    expect((await awsFailure(new EcrImageSource(other.client, 'r').manifest('v9'))).reason).toBe('failed')
  })

  it.each([
    ['RepositoryNotFoundException', 'not-found'],
    ['ImageNotFoundException', 'not-found'],
    ['AccessDeniedException', 'access-denied'],
    ['CredentialsProviderError', 'credentials-missing'],
    ['ThrottlingException', 'throttled'],
    ['ServerException', 'failed'],
  ])('an SDK %s is %s', async (name, reason) => {
    const {client} = fakeClient({
      BatchGetImageCommand: () => {
        throw sdkError(name, `${name}: first line\nsecond line`)
      },
    })
    const error = await awsFailure(new EcrImageSource(client, 'r').manifest('v1'))
    expect(error.reason).toBe(reason)
    expect(error.message).toBe(`Reading the manifest of r:v1 (ecr:BatchGetImage) failed: ${name}: first line`)
    expect(error.detail).toContain('second line')
    if (reason === 'access-denied')
      expect(error.hint).toBe('Allow ecr:BatchGetImage (a read permission push-only roles often lack).')
    else expect(error.hint).toBeUndefined()
  })

  it.each([
    [
      'a refused connection',
      Object.assign(sdkError('Error', 'connect ECONNREFUSED 127.0.0.1:1'), {code: 'ECONNREFUSED'}),
      'unreachable',
    ],
    ['a request timeout', sdkError('TimeoutError'), 'unreachable'],
    ['TooManyRequestsException', sdkError('TooManyRequestsException'), 'throttled'],
    [
      "a proxy's HTML 403 page",
      new EndpointAnswerError('not-aws', 403, 'text/html', '<html>', 0),
      'malformed',
    ],
    ["a proxy's HTML 502 page", new EndpointAnswerError('not-aws', 502, 'text/html', '<html>', 0), 'failed'],
  ] as const)(
    '%s is %s (the check after the push tells these from a denied read)',
    async (_, thrown, reason) => {
      const {client} = fakeClient({
        BatchGetImageCommand: () => {
          throw thrown
        },
      })
      expect((await awsFailure(new EcrImageSource(client, 'r').manifest('v1'))).reason).toBe(reason)
    },
  )

  it('describes an image: tags sorted, size and time, nulls when absent', async () => {
    const {client} = fakeClient({
      DescribeImagesCommand: () => ({
        imageDetails: [
          {
            imageTags: ['v1', 'latest'],
            imageSizeInBytes: 42,
            imagePushedAt: new Date('2026-01-01T00:00:00Z'),
          },
        ],
      }),
    })
    expect(await new EcrImageSource(client, 'r').describe('sha256:x')).toEqual({
      tags: ['latest', 'v1'],
      sizeBytes: 42,
      pushedAt: '2026-01-01T00:00:00.000Z',
    })
    const empty = fakeClient({DescribeImagesCommand: () => ({imageDetails: []})})
    expect(await new EcrImageSource(empty.client, 'r').describe('sha256:x')).toEqual({
      tags: [],
      sizeBytes: null,
      pushedAt: null,
    })
    const denied = fakeClient({
      DescribeImagesCommand: () => {
        throw sdkError('AccessDeniedException')
      },
    })
    expect((await awsFailure(new EcrImageSource(denied.client, 'r').describe('sha256:x'))).operation).toBe(
      'ecr:DescribeImages',
    )
  })

  it('reads a config blob through its download URL, checking the digest', async () => {
    const config = Buffer.from('{"architecture":"amd64"}')
    const url = await download(200, config)
    const {client, sent} = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: url})})
    expect(await new EcrImageSource(client, 'r', '1').blob(sha256Digest(config))).toEqual(config)
    expect(sent[0]!.input).toEqual({repositoryName: 'r', layerDigest: sha256Digest(config), registryId: '1'})
    const wrong = await awsFailure(new EcrImageSource(client, 'r').blob(`sha256:${'0'.repeat(64)}`))
    expect(wrong).toMatchObject({reason: 'malformed'})
    expect(wrong.message).toContain('the bytes do not hash to the digest')
  })

  it.each([
    [403, 'access-denied'],
    [404, 'not-found'],
    [500, 'failed'],
  ] as const)('a download URL answering HTTP %i is %s', async (status, reason) => {
    const url = await download(status, Buffer.from('no'))
    const {client} = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: url})})
    const error = await awsFailure(new EcrImageSource(client, 'r').blob('sha256:x'))
    expect(error.reason).toBe(reason)
    expect(error.message).toBe(
      `Reading blob sha256:x of r (ecr:GetDownloadUrlForLayer): the download URL answered HTTP ${status}.`,
    )
  })

  it('no URL is malformed; an unreachable URL is unreachable', async () => {
    const none = fakeClient({GetDownloadUrlForLayerCommand: () => ({})})
    expect((await awsFailure(new EcrImageSource(none.client, 'r').blob('sha256:x'))).reason).toBe('malformed')
    const url = await download(200, Buffer.from(''))
    await new Promise<void>((resolve) => server!.close(() => resolve()))
    server = undefined
    const gone = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: url})})
    expect((await awsFailure(new EcrImageSource(gone.client, 'r').blob('sha256:x'))).reason).toBe(
      'unreachable',
    )
  })
})
