import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import type {ECRClient} from '@aws-sdk/client-ecr'
import {afterEach, describe, expect, it} from 'vitest'

import {AwsError} from '../../../../src/errors.js'
import {Ledger, withLedger} from '../../../../src/ledger.js'
import {EcrImageSource} from '../../../../src/systems/aws/index.js'
import {EndpointAnswerError} from '../../../../src/systems/aws/errors.js'
import {sha256Digest} from '../../../../src/sha256.js'
import {rejectionOf} from '../../../helpers/rejection.js'

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

/** Where the failures say they happened. */
const SETTINGS = {region: 'eu-west-1', profile: 'team'}

const sdkError = (name: string, message = `${name} happened`) => Object.assign(new Error(message), {name})

const awsFailure = (promise: Promise<unknown>): Promise<AwsError> => rejectionOf(promise, AwsError)

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
    const source = new EcrImageSource(client, 'team/model', SETTINGS, '123456789012')
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
    const manifest = await new EcrImageSource(client, 'r', SETTINGS).manifest('v1')
    expect(manifest).toMatchObject({mediaType: 'application/x', digest: sha256Digest(Buffer.from('{}'))})
    expect(sent[0]!.input.registryId).toBeUndefined()
    const unknown = fakeClient({BatchGetImageCommand: () => ({images: [{imageManifest: '{}'}]})})
    expect((await new EcrImageSource(unknown.client, 'r', SETTINGS).manifest('v1')).mediaType).toBe('unknown')
  })

  it("a missing image is not-found, with ECR's reason; another failure is failed", async () => {
    const missing = fakeClient({
      BatchGetImageCommand: () => ({
        failures: [{failureCode: 'ImageNotFound', failureReason: 'Requested image not found'}],
      }),
    })
    const error = await awsFailure(new EcrImageSource(missing.client, 'r', SETTINGS).manifest('v9'))
    expect(error).toMatchObject({reason: 'not-found', operation: 'ecr:BatchGetImage'})
    expect(error.message).toBe('r:v9 does not exist (Requested image not found).')
    const mismatch = fakeClient({
      BatchGetImageCommand: () => ({failures: [{failureCode: 'ImageTagDoesNotMatchDigest'}]}),
    })
    expect(
      (await awsFailure(new EcrImageSource(mismatch.client, 'r', SETTINGS).manifest('v9'))).message,
    ).toBe('r:v9 does not exist.')
    const other = fakeClient({BatchGetImageCommand: () => ({failures: [{failureCode: 'KmsError'}]})})
    expect((await awsFailure(new EcrImageSource(other.client, 'r', SETTINGS).manifest('v9'))).reason).toBe(
      'failed',
    )
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
    const error = await awsFailure(new EcrImageSource(client, 'r', SETTINGS).manifest('v1'))
    expect(error.reason).toBe(reason)
    // Said as every AWS call says it (toAwsError), with where it happened.
    expect(error.message).toMatch(/^Reading the manifest of r:v1 \(ecr:BatchGetImage\) failed: /)
    expect(error.message).toContain('region eu-west-1, profile team')
    expect(error.detail).toContain('second line')
    if (reason === 'access-denied') {
      expect(error.message).toContain('AWS refused ecr:BatchGetImage')
      expect(error.hint).toContain('need the ecr:BatchGetImage permission')
    }
  })

  it('an expired SSO session is said as such, with the login to run (not as missing credentials)', async () => {
    const {client} = fakeClient({
      BatchGetImageCommand: () => {
        throw sdkError(
          'CredentialsProviderError',
          'The SSO session associated with this profile has expired or is otherwise invalid. To refresh this SSO session run aws sso login with the corresponding profile.',
        )
      },
    })
    const error = await awsFailure(new EcrImageSource(client, 'r', SETTINGS).manifest('v1'))
    expect(error.reason).toBe('credentials-expired')
    expect(error.message).toContain('the AWS SSO session of profile team has expired')
    expect(error.hint).toBe('Run aws sso login --profile team, then run again.')
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
      expect((await awsFailure(new EcrImageSource(client, 'r', SETTINGS).manifest('v1'))).reason).toBe(reason)
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
    expect(await new EcrImageSource(client, 'r', SETTINGS).describe('sha256:x')).toEqual({
      tags: ['latest', 'v1'],
      sizeBytes: 42,
      pushedAt: '2026-01-01T00:00:00.000Z',
    })
    const empty = fakeClient({DescribeImagesCommand: () => ({imageDetails: []})})
    expect(await new EcrImageSource(empty.client, 'r', SETTINGS).describe('sha256:x')).toEqual({
      tags: [],
      sizeBytes: null,
      pushedAt: null,
    })
    const denied = fakeClient({
      DescribeImagesCommand: () => {
        throw sdkError('AccessDeniedException')
      },
    })
    expect(
      (await awsFailure(new EcrImageSource(denied.client, 'r', SETTINGS).describe('sha256:x'))).operation,
    ).toBe('ecr:DescribeImages')
  })

  it('reads a config blob through its download URL, checking the digest', async () => {
    const config = Buffer.from('{"architecture":"amd64"}')
    const url = await download(200, config)
    const {client, sent} = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: url})})
    expect(await new EcrImageSource(client, 'r', SETTINGS, '1').blob(sha256Digest(config))).toEqual(config)
    expect(sent[0]!.input).toEqual({repositoryName: 'r', layerDigest: sha256Digest(config), registryId: '1'})
    const wrong = await awsFailure(new EcrImageSource(client, 'r', SETTINGS).blob(`sha256:${'0'.repeat(64)}`))
    expect(wrong).toMatchObject({reason: 'malformed'})
    expect(wrong.message).toContain('the bytes do not hash to the digest')
  })

  it('opens a layer of any size as a stream through its download URL (for a copy: nothing read up front)', async () => {
    const layer = Buffer.alloc(9 * 1024 * 1024, 3)
    const url = await download(200, layer)
    const {client} = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: url})})
    const opened = await new EcrImageSource(client, 'r', SETTINGS).openBlob(sha256Digest(layer))
    const chunks: Buffer[] = []
    for await (const chunk of opened.body) chunks.push(chunk as Buffer)
    expect(chunks.length).toBeGreaterThan(1)
    expect(Buffer.concat(chunks).equals(layer)).toBe(true)
    const gone = await download(404, Buffer.from('no'))
    const missing = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: gone})})
    expect(
      (await awsFailure(new EcrImageSource(missing.client, 'r', SETTINGS).openBlob('sha256:x'))).reason,
    ).toBe('not-found')
  })

  it.each([
    [403, 'access-denied'],
    [404, 'not-found'],
    [500, 'failed'],
  ] as const)('a download URL answering HTTP %i is %s', async (status, reason) => {
    const url = await download(status, Buffer.from('no'))
    const {client} = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: url})})
    const error = await awsFailure(new EcrImageSource(client, 'r', SETTINGS).blob('sha256:x'))
    expect(error.reason).toBe(reason)
    expect(error.message).toBe(
      `Reading blob sha256:x of r (ecr:GetDownloadUrlForLayer): the download URL answered HTTP ${status}.`,
    )
  })

  it('no URL is malformed; an unreachable URL is unreachable', async () => {
    const none = fakeClient({GetDownloadUrlForLayerCommand: () => ({})})
    expect((await awsFailure(new EcrImageSource(none.client, 'r', SETTINGS).blob('sha256:x'))).reason).toBe(
      'malformed',
    )
    const url = await download(200, Buffer.from(''))
    await new Promise<void>((resolve) => server!.close(() => resolve()))
    server = undefined
    const gone = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: url})})
    expect((await awsFailure(new EcrImageSource(gone.client, 'r', SETTINGS).blob('sha256:x'))).reason).toBe(
      'unreachable',
    )
  })
})

describe('what EcrImageSource sends and makes of odd answers', () => {
  /** Like fakeClient, also recording the options of each call (the abort signal). */
  function recordingClient(answers: Record<string, (input: Record<string, unknown>) => unknown>) {
    const calls: Array<{command: string; input: Record<string, unknown>; options: unknown}> = []
    const client = {
      send: async (
        command: {constructor: {name: string}; input: Record<string, unknown>},
        options: unknown,
      ) => {
        calls.push({command: command.constructor.name, input: command.input, options})
        return answers[command.constructor.name]!(command.input)
      },
    }
    return {client: client as unknown as ECRClient, calls}
  }

  it("names the account only when given, and passes the caller's signal on", async () => {
    const config = Buffer.from('{"architecture":"amd64"}')
    const url = await download(200, config)
    const {client, calls} = recordingClient({
      BatchGetImageCommand: () => ({images: [{imageManifest: MANIFEST}]}),
      DescribeImagesCommand: () => ({imageDetails: [{imageTags: ['v1']}]}),
      GetDownloadUrlForLayerCommand: () => ({downloadUrl: url}),
    })
    const signal = new AbortController().signal
    const own = new EcrImageSource(client, 'r', SETTINGS)
    await own.manifest('v1', signal)
    await own.describe('sha256:d', signal)
    await own.blob(sha256Digest(config), signal)
    expect(calls.map((call) => call.options)).toEqual([
      {abortSignal: signal},
      {abortSignal: signal},
      {abortSignal: signal},
    ])
    expect(calls.map((call) => 'registryId' in call.input)).toEqual([false, false, false])
    expect(calls[1]!.input).toStrictEqual({repositoryName: 'r', imageIds: [{imageDigest: 'sha256:d'}]})
    const other = new EcrImageSource(client, 'r', SETTINGS, '210987654321')
    await other.manifest('v1')
    await other.describe('sha256:d')
    await other.blob(sha256Digest(config))
    expect(calls.slice(3).map((call) => call.options)).toEqual([{}, {}, {}])
    expect(calls.slice(3).map((call) => call.input.registryId)).toEqual([
      '210987654321',
      '210987654321',
      '210987654321',
    ])
  })

  it('an answer without images or failures is failed; a digest mismatch is not-found', async () => {
    for (const [answer, reason, message] of [
      [{}, 'failed', 'r:v9 does not exist.'],
      [{failures: [{}]}, 'failed', 'r:v9 does not exist.'],
      [{failures: [{failureCode: 'ImageTagDoesNotMatchDigest'}]}, 'not-found', 'r:v9 does not exist.'],
      [{images: [{}]}, 'failed', 'r:v9 does not exist.'],
    ] as const) {
      const {client} = fakeClient({BatchGetImageCommand: () => answer})
      const error = await awsFailure(new EcrImageSource(client, 'r', SETTINGS).manifest('v9'))
      expect({reason: error.reason, message: error.message}, JSON.stringify(answer)).toEqual({
        reason,
        message,
      })
    }
  })

  it('refuses a manifest over 4 MiB', async () => {
    const big = `{"pad":"${'x'.repeat(4 * 1024 * 1024 - 10)}"}`
    expect(Buffer.byteLength(big)).toBe(4 * 1024 * 1024)
    const {client} = fakeClient({
      BatchGetImageCommand: (input) => ({
        images: [
          {
            imageManifest:
              (input.imageIds as Array<{imageTag: string}>)[0]!.imageTag === 'v1' ? big : `${big} `,
          },
        ],
      }),
    })
    expect((await new EcrImageSource(client, 'r', SETTINGS).manifest('v1')).raw.length).toBe(4 * 1024 * 1024)
    const error = await awsFailure(new EcrImageSource(client, 'r', SETTINGS).manifest('v2'))
    expect(error).toMatchObject({
      reason: 'malformed',
      operation: 'ecr:BatchGetImage',
      message: 'Reading the manifest of r:v2 (ecr:BatchGetImage): the manifest is too large.',
    })
  })

  it('describes an image ECR says nothing about, and names a failed description', async () => {
    const {client} = fakeClient({
      DescribeImagesCommand: (input) => {
        if (input.imageIds === undefined) throw new Error('no image ids')
        return {}
      },
    })
    expect(await new EcrImageSource(client, 'r', SETTINGS).describe('sha256:x')).toEqual({
      tags: [],
      sizeBytes: null,
      pushedAt: null,
    })
    const failing = fakeClient({
      DescribeImagesCommand: () => {
        throw sdkError('ServerException', 'boom')
      },
    })
    const error = await awsFailure(new EcrImageSource(failing.client, 'r', SETTINGS).describe('sha256:x'))
    expect(error.message).toBe('Describing r@sha256:x failed: boom (region eu-west-1, profile team).')
  })

  it('a blob: the download is recorded without its signature; its failures name the operation', async () => {
    const config = Buffer.from('{"os":"linux"}')
    const url = await download(200, config)
    const {client} = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: url})})
    const ledger = new Ledger()
    await withLedger(ledger, () => new EcrImageSource(client, 'r', SETTINGS).blob(sha256Digest(config)))
    expect(ledger.entries).toEqual([{kind: 'http', call: 'http:GET /layer'}])
    const none = fakeClient({GetDownloadUrlForLayerCommand: () => ({})})
    expect(await awsFailure(new EcrImageSource(none.client, 'r', SETTINGS).blob('sha256:x'))).toMatchObject({
      operation: 'ecr:GetDownloadUrlForLayer',
      message: 'Reading blob sha256:x of r (ecr:GetDownloadUrlForLayer): ECR returned no download URL.',
    })
    const denied = fakeClient({
      GetDownloadUrlForLayerCommand: () => {
        throw sdkError('LayerInaccessibleException')
      },
    })
    expect(await awsFailure(new EcrImageSource(denied.client, 'r', SETTINGS).blob('sha256:x'))).toMatchObject(
      {
        reason: 'not-found',
        operation: 'ecr:GetDownloadUrlForLayer',
      },
    )
    // Bytes that do not hash to the digest asked for.
    const mismatch = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: url})})
    expect(
      (await awsFailure(new EcrImageSource(mismatch.client, 'r', SETTINGS).blob('sha256:x'))).operation,
    ).toBe('ecr:GetDownloadUrlForLayer')
  })

  it('an unreachable download URL says so, with the cause; an aborted download stays an abort', async () => {
    const url = await download(200, Buffer.from(''))
    await new Promise<void>((resolve) => server!.close(() => resolve()))
    server = undefined
    const gone = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: url})})
    const error = await awsFailure(new EcrImageSource(gone.client, 'r', SETTINGS).blob('sha256:x'))
    expect(error).toMatchObject({
      reason: 'unreachable',
      operation: 'ecr:GetDownloadUrlForLayer',
      message:
        'Reading blob sha256:x of r (ecr:GetDownloadUrlForLayer): the download URL could not be reached.',
    })
    expect(error.detail).toMatch(/ECONNREFUSED/)
    const slow = await download(200, Buffer.from('late'))
    const waiting = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: slow})})
    const aborted = await new EcrImageSource(waiting.client, 'r', SETTINGS)
      .blob('sha256:x', AbortSignal.abort())
      .catch((caught: unknown) => caught)
    expect(aborted).not.toBeInstanceOf(AwsError)
    expect((aborted as Error).name).toBe('AbortError')
  })

  it('a blob over the cap names the blob', async () => {
    server = createServer((_, response) =>
      response.writeHead(200, {'content-length': String(9 * 1024 * 1024)}).end(),
    )
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/layer`
    const {client} = fakeClient({GetDownloadUrlForLayerCommand: () => ({downloadUrl: url})})
    await expect(new EcrImageSource(client, 'r', SETTINGS).blob('sha256:x')).rejects.toThrow(
      'Blob sha256:x is 9437184 bytes, more than the 8388608 allowed.',
    )
  })

  it('maps each kind of SDK failure', async () => {
    const cases: Array<[unknown, string]> = [
      [sdkError('LayersNotFoundException'), 'not-found'],
      [sdkError('LayerInaccessibleException'), 'not-found'],
      [Object.assign(sdkError('Error', 'odd'), {code: 'EPROTO'}), 'failed'],
      [Object.assign(sdkError('Error', 'reset'), {code: 'ECONNRESET'}), 'unreachable'],
      [new EndpointAnswerError('not-aws', 500, 'text/html', '<html>', 0), 'failed'],
      [new EndpointAnswerError('not-aws', 499, 'text/html', '<html>', 0), 'malformed'],
      ['a plain string', 'failed'],
    ]
    for (const [thrown, reason] of cases) {
      const {client} = fakeClient({
        BatchGetImageCommand: () => {
          throw thrown
        },
      })
      const error = await awsFailure(new EcrImageSource(client, 'r', SETTINGS).manifest('v1'))
      expect(error.reason, String((thrown as Error).message ?? thrown)).toBe(reason)
    }
  })
})
