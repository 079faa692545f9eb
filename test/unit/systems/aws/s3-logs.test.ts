import {createHash, randomUUID} from 'node:crypto'

import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs'
import {GetBucketLocationCommand, HeadObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {afterEach, describe, expect, inject, it} from 'vitest'

import {AwsError} from '../../../../src/errors.js'
import {Ledger, withLedger} from '../../../../src/ledger.js'
import {AwsClients, awsSettingsFor} from '../../../../src/systems/aws/index.js'
import {LogFollower} from '../../../../src/systems/aws/logs.js'
import {MAX_RESULT_BYTES, SourceBucket} from '../../../../src/systems/aws/s3.js'
import {startStandIn, type StandIn} from '../../../helpers/stand-in.js'
import {rejectionOf} from '../../../helpers/rejection.js'

// The CodeBuild carriers (--builder codebuild) against the shared moto: the source bucket (S3)
// and the build log (CloudWatch Logs). Every test uses a bucket or log group of its own.
const motoUrl = inject('motoUrl')
const KEYS = {AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing'}
const made: Array<{destroy(): void}> = []
let clients: AwsClients[] = []
afterEach(() => {
  for (const client of clients) client.close()
  for (const client of made.splice(0)) client.destroy()
  clients = []
})

function aws(region = 'us-east-1'): AwsClients {
  const client = new AwsClients(
    awsSettingsFor({AWS_ENDPOINT_URL: motoUrl, AWS_MAX_ATTEMPTS: '1', ...KEYS}, {region}),
  )
  clients.push(client)
  return client
}

/** The test's own SDK client, to look at what mldeploy left in moto. */
function raw<T extends {destroy(): void}>(client: T): T {
  made.push(client)
  return client
}
const rawConfig = (region = 'us-east-1') => ({
  endpoint: motoUrl,
  region,
  credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
})

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

const awsFailure = (promise: Promise<unknown>): Promise<AwsError> => rejectionOf(promise, AwsError)

describe('SourceBucket (S3)', () => {
  it('creates its bucket once, in us-east-1 without a location constraint, elsewhere with one', async () => {
    const east = new SourceBucket(aws(), unique('east'))
    expect(await east.exists()).toBe(false)
    await east.create()
    expect(await east.exists()).toBe(true)
    // A second create is no error: the bucket is already ours.
    await east.create()
    const west = new SourceBucket(aws('eu-west-1'), unique('west'))
    await west.create()
    const location = await raw(new S3Client({...rawConfig('eu-west-1'), forcePathStyle: true})).send(
      new GetBucketLocationCommand({Bucket: west.bucket}),
    )
    expect(location.LocationConstraint).toBe('eu-west-1')
  })

  it('puts an object with its content type, then has it and reads it back', async () => {
    const bucket = new SourceBucket(aws(), unique('objects'))
    await bucket.create()
    const zip = Buffer.from('PK fake zip')
    const ledger = new Ledger()
    await withLedger(ledger, async () => {
      expect(await bucket.has('source/abc.zip')).toBe(false)
      await bucket.put('source/abc.zip', zip, sha256(zip))
    })
    expect(ledger.entries.map((entry) => entry.call)).toEqual(['aws:s3:HeadObject', 'aws:s3:PutObject'])
    expect(await bucket.has('source/abc.zip')).toBe(true)
    const head = await raw(new S3Client({...rawConfig(), forcePathStyle: true})).send(
      new HeadObjectCommand({Bucket: bucket.bucket, Key: 'source/abc.zip'}),
    )
    expect(head.ContentType).toBe('application/zip')
    const result = Buffer.from('{"digest":"sha256:x"}\n')
    await bucket.put('results/run.json', result, sha256(result))
    expect(await bucket.text('results/run.json')).toBe('{"digest":"sha256:x"}\n')
    const resultHead = await raw(new S3Client({...rawConfig(), forcePathStyle: true})).send(
      new HeadObjectCommand({Bucket: bucket.bucket, Key: 'results/run.json'}),
    )
    expect(resultHead.ContentType).toBe('text/plain')
    expect(await bucket.text('results/missing.json')).toBeUndefined()
  })

  it('a result larger than a result can be is refused', async () => {
    const bucket = new SourceBucket(aws(), unique('large'))
    await bucket.create()
    // A JSON object, as results are: anything else under text/plain is refused earlier, as not AWS.
    const json = (size: number): Buffer => Buffer.from(`{"a":"${'a'.repeat(size - 8)}"}`)
    const big = json(MAX_RESULT_BYTES + 1)
    await bucket.put('results/big.json', big, sha256(big))
    const error = await awsFailure(bucket.text('results/big.json'))
    expect(error).toMatchObject({reason: 'malformed', operation: 's3:GetObject'})
    expect(error.message).toContain(`s3://${bucket.bucket}/results/big.json is larger than a result can be.`)
    const exactly = json(MAX_RESULT_BYTES)
    await bucket.put('results/exact.json', exactly, sha256(exactly))
    expect((await bucket.text('results/exact.json'))?.length).toBe(MAX_RESULT_BYTES)
  })

  it('a missing bucket: reading and uploading fail naming what they did; has() reads it as no object', async () => {
    const bucket = new SourceBucket(aws(), unique('missing'))
    // HeadObject gets a bare 404 without a body, the same as for a missing object.
    expect(await bucket.has('k')).toBe(false)
    const read = await awsFailure(bucket.text('k'))
    expect(read).toMatchObject({reason: 'failed', operation: 's3:GetObject'})
    expect(read.message).toMatch(
      new RegExp(`^Reading s3://${bucket.bucket}/k failed: The specified bucket does not exist`),
    )
    const put = await awsFailure(bucket.put('k', Buffer.from('x'), sha256(Buffer.from('x'))))
    expect(put).toMatchObject({reason: 'failed', operation: 's3:PutObject'})
    expect(put.message).toMatch(
      new RegExp(`^Uploading s3://${bucket.bucket}/k failed: The specified bucket does not exist`),
    )
  })
})

describe('LogFollower (CloudWatch Logs)', () => {
  async function logStream(): Promise<{
    group: string
    stream: string
    write(...messages: string[]): Promise<void>
  }> {
    const client = raw(new CloudWatchLogsClient(rawConfig()))
    const group = unique('/aws/codebuild/p')
    const stream = unique('build')
    await client.send(new CreateLogGroupCommand({logGroupName: group}))
    await client.send(new CreateLogStreamCommand({logGroupName: group, logStreamName: stream}))
    let time = Date.now()
    return {
      group,
      stream,
      write: async (...messages) => {
        await client.send(
          new PutLogEventsCommand({
            logGroupName: group,
            logStreamName: stream,
            logEvents: messages.map((message) => ({message, timestamp: time++})),
          }),
        )
      },
    }
  }

  it('a stream that does not exist yet has no lines', async () => {
    expect(await new LogFollower(aws(), unique('/none'), 'build').next()).toEqual([])
  })

  it('gives each event once, as lines, without the final newline', async () => {
    const log = await logStream()
    const follower = new LogFollower(aws(), log.group, log.stream)
    expect(await follower.next()).toEqual([])
    await log.write('[Container] phase one\n', 'two\r\nlines')
    expect(await follower.next()).toEqual(['[Container] phase one', 'two', 'lines'])
    expect(await follower.next()).toEqual([])
    await log.write('three')
    expect(await follower.next()).toEqual(['three'])
  })
})

describe('LogFollower paging (a CloudWatch Logs stand-in)', () => {
  let logs: StandIn | undefined
  afterEach(async () => {
    await logs?.close()
    logs = undefined
  })

  /** Answers GetLogEvents call n with `pages(n, body)`; records the request bodies. */
  async function follower(pages: (n: number, body: Record<string, unknown>) => [number, unknown]) {
    const sent: Array<Record<string, unknown>> = []
    logs = await startStandIn((_request, response, text) => {
      const body = JSON.parse(text || '{}') as Record<string, unknown>
      sent.push(body)
      const [status, answer] = pages(sent.length - 1, body)
      response.writeHead(status, {'content-type': 'application/x-amz-json-1.1'})
      response.end(JSON.stringify(answer))
    })
    // Only the logs endpoint is the stand-in: the service name must be cloudwatch_logs.
    const client = new AwsClients(
      awsSettingsFor(
        {
          AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
          AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.url,
          AWS_MAX_ATTEMPTS: '1',
          ...KEYS,
        },
        {region: 'us-east-1'},
      ),
    )
    clients.push(client)
    return {follow: new LogFollower(client, 'g', 's'), sent}
  }
  const event = (message?: string) => (message === undefined ? {timestamp: 1} : {timestamp: 1, message})

  it('reads page after page until the token stops moving, and starts from it the next time', async () => {
    const {follow, sent} = await follower((n) =>
      n === 0
        ? [200, {events: [event('a')], nextForwardToken: 'f/1'}]
        : n === 1
          ? [200, {events: [event('b\r\nc\n'), event()], nextForwardToken: 'f/2'}]
          : [200, {events: [], nextForwardToken: 'f/2'}],
    )
    expect(await follow.next()).toEqual(['a', 'b', 'c'])
    expect(sent.map((body) => body.nextToken)).toEqual([undefined, 'f/1', 'f/2'])
    expect(sent[0]).toEqual({logGroupName: 'g', logStreamName: 's', startFromHead: true})
    await follow.next()
    expect(sent.at(-1)!.nextToken).toBe('f/2')
  })

  it('stops at a page that gives the same token back, or none', async () => {
    const same = await follower((n) =>
      n === 0
        ? [200, {events: [event('a')], nextForwardToken: 'f/1'}]
        : [200, {events: [event('late')], nextForwardToken: 'f/1'}],
    )
    expect(await same.follow.next()).toEqual(['a', 'late'])
    expect(same.sent).toHaveLength(2)
    await logs!.close()
    const none = await follower((n) =>
      n === 0 ? [200, {events: [event('x')], nextForwardToken: 'f/9'}] : [200, {events: [event('y')]}],
    )
    expect(await none.follow.next()).toEqual(['x', 'y'])
    await none.follow.next()
    // Without a new token the old one is kept.
    expect(none.sent.at(-1)!.nextToken).toBe('f/9')
  })

  it('reads at most 50 pages at a time', async () => {
    const {follow, sent} = await follower((n) => [
      200,
      {events: [event(`line ${n}`)], nextForwardToken: `f/${n}`},
    ])
    expect(await follow.next()).toHaveLength(50)
    expect(sent).toHaveLength(50)
  })

  it('a failure other than a missing stream names the log', async () => {
    const {follow} = await follower(() => [400, {__type: 'AccessDeniedException', message: 'no'}])
    const error = await awsFailure(follow.next())
    expect(error.operation).toBe('logs:GetLogEvents')
    expect(error.message).toMatch(/^Reading the build log g\/s failed: /)
  })
})
