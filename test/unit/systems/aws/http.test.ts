import {afterEach, describe, expect, inject, it, vi} from 'vitest'

import {AwsError} from '../../../../src/errors.js'
import {Ledger, withLedger} from '../../../../src/ledger.js'
import {SecretRegistry} from '../../../../src/secrets.js'
import {AwsClients, awsSettingsFor} from '../../../../src/systems/aws/index.js'
import {createRepository} from '../../../helpers/aws.js'
import {resetMoto} from '../../../helpers/moto.js'
import {echoHeadersAsAwsError, signaturesOf, startStandIn, type StandIn} from '../../../helpers/stand-in.js'
import {rejectionOf} from '../../../helpers/rejection.js'

const motoUrl = inject('motoUrl')
const KEYS = {AWS_ACCESS_KEY_ID: 'AKIDSTANDIN', AWS_SECRET_ACCESS_KEY: 'stand-in-secret-key'}

let standIn: StandIn | undefined
let clients: AwsClients | undefined
afterEach(async () => {
  clients?.close()
  await standIn?.close()
  standIn = undefined
  clients = undefined
})

function clientsFor(
  endpoint: string,
  extra: Record<string, string> = {},
  secrets?: SecretRegistry,
): AwsClients {
  clients = new AwsClients(
    awsSettingsFor(
      {AWS_ENDPOINT_URL: endpoint, AWS_MAX_ATTEMPTS: '1', ...KEYS, ...extra},
      {region: 'us-east-1'},
    ),
    secrets,
  )
  return clients
}

const failure = (promise: Promise<unknown>): Promise<AwsError> => rejectionOf(promise, AwsError)

describe('every call actually sent is recorded in the step ledger', () => {
  it('records aws:<service>:<Operation>, per attempt, only inside a ledger', async () => {
    await resetMoto(motoUrl)
    await createRepository(motoUrl, 'modela/v1')
    const aws = clientsFor(motoUrl)
    const ledger = new Ledger()
    await withLedger(ledger, async () => {
      await aws.identity()
      await aws.imagesByTag('modela/v1', ['latest', 'v1'])
      await aws.repository('modela/v1', '123456789012', undefined)
    })
    await aws.identity()
    expect(ledger.entries.map((entry) => `${entry.kind} ${entry.call}`).sort()).toEqual([
      'aws aws:ecr:DescribeImages',
      'aws aws:ecr:DescribeImages',
      'aws aws:ecr:DescribeRepositories',
      'aws aws:sts:GetCallerIdentity',
    ])
  })

  it('a missing repository is an AwsError not-found with the usual message', async () => {
    await resetMoto(motoUrl)
    const error = await failure(clientsFor(motoUrl).repository('nope/v1', '123456789012', undefined))
    expect(error).toMatchObject({reason: 'not-found', operation: 'ecr:DescribeRepositories'})
    expect(error.message).toBe(
      'ECR repository nope/v1 does not exist in account 123456789012, region us-east-1.',
    )
    expect(error.hint).toContain('--create-repository')
  })
})

describe('misbehaving endpoints', () => {
  it('an HTML 502 page is described (status, content type, first bytes), not "Unknown"', async () => {
    standIn = await startStandIn((_request, response) => {
      response.writeHead(502, {'content-type': 'text/html'})
      response.end(`<html><body><h1>502 Bad Gateway</h1>${'x'.repeat(1000)}</body></html>`)
    })
    const error = await failure(clientsFor(standIn.url).imagesByTag('modela/v1', ['latest']))
    expect(error).toMatchObject({reason: 'failed', operation: 'ecr:DescribeImages'})
    expect(error.message).toMatch(
      /^Describing modela\/v1:latest \(DescribeImages\) failed: the endpoint answered HTTP 502 \(text\/html\), not an AWS response: "<html><body><h1>502 Bad Gateway<\/h1>x+" \(region us-east-1\)\.$/,
    )
    expect(error.message.length).toBeLessThan(400)
    const sts = await failure(clientsFor(standIn.url).identity())
    expect(sts.message).toContain('HTTP 502 (text/html)')
  })

  it('a huge body is not read into memory: the call fails at the cap', async () => {
    let sent = 0
    standIn = await startStandIn((_request, response) => {
      response.writeHead(200, {'content-type': 'application/x-amz-json-1.1'})
      const chunk = Buffer.alloc(64 * 1024, ' ')
      response.write('{"imageDetails": [')
      // 200 MB, written lazily as the client reads: never allocated.
      const pump = (): void => {
        while (sent < 200 * 1024 * 1024) {
          sent += chunk.length
          if (!response.write(chunk)) {
            response.once('drain', pump)
            return
          }
        }
        response.end(']}')
      }
      response.on('close', () => response.removeAllListeners('drain'))
      pump()
    })
    const error = await failure(clientsFor(standIn.url).imagesByTag('modela/v1', ['latest']))
    expect(error).toMatchObject({reason: 'malformed', operation: 'ecr:DescribeImages'})
    expect(error.message).toContain(
      'failed: the endpoint answered HTTP 200 (application/x-amz-json-1.1) with more than 10 MiB: "{\\"imageDetails\\": [',
    )
    expect(sent).toBeLessThan(100 * 1024 * 1024)
  })

  it('a declared Content-Length over the cap fails before reading the body', async () => {
    standIn = await startStandIn((_request, response) => {
      response.writeHead(200, {'content-type': 'text/xml', 'content-length': String(500 * 1024 * 1024)})
      response.write('<GetCallerIdentityResponse>')
    })
    const error = await failure(clientsFor(standIn.url).identity())
    expect(error).toMatchObject({reason: 'malformed', operation: 'sts:GetCallerIdentity'})
    expect(error.message).toContain('with more than 10 MiB: "<GetCallerIdentityResponse>"')
  })

  it('an endpoint echoing the request headers shows neither the signature, the session token nor the key', async () => {
    standIn = await startStandIn(echoHeadersAsAwsError)
    const secrets = new SecretRegistry()
    const aws = clientsFor(standIn.url, {AWS_SESSION_TOKEN: 'stand-in-session-token'}, secrets)
    const errors = [await failure(aws.identity()), await failure(aws.imagesByTag('modela/v1', ['latest']))]
    const signatures = signaturesOf(standIn)
    expect(signatures).toHaveLength(2)
    for (const error of errors) {
      expect(error.reason).toBe('access-denied')
      for (const text of [error.message, error.detail ?? '', secrets.redact(JSON.stringify(error.detail))]) {
        expect(text).not.toContain('stand-in-session-token')
        expect(text).not.toContain('stand-in-secret-key')
        for (const signature of signatures) expect(text).not.toContain(signature)
      }
      // The echo itself is still there to read, minus its secrets.
      expect(error.detail).toContain('x-amz-security-token')
    }
    // The clients told the run's registry what they know.
    expect(secrets.redact('stand-in-session-token')).toBe('********')
  })
})

describe('close()', () => {
  it('aborts outstanding requests and refuses new ones', async () => {
    standIn = await startStandIn(() => {
      // Never answers.
    })
    const aws = clientsFor(standIn.url)
    const pending = failure(aws.identity())
    await new Promise((resolve) => setTimeout(resolve, 300))
    const started = Date.now()
    aws.close()
    const error = await pending
    expect(Date.now() - started).toBeLessThan(2000)
    expect(error.operation).toBe('sts:GetCallerIdentity')
    await failure(aws.imagesByTag('modela/v1', ['latest']))
  })
})

describe('timeouts', () => {
  it('a request that gets no answer fails at the request timeout, with no SDK warning on the console', async () => {
    standIn = await startStandIn(() => {
      // Never answers.
    })
    const warn = vi.spyOn(console, 'warn')
    const error = vi.spyOn(console, 'error')
    clients = new AwsClients(
      awsSettingsFor({AWS_ENDPOINT_URL: standIn.url, ...KEYS}, {region: 'us-east-1', quick: true}),
    )
    const started = Date.now()
    const failed = await failure(clients.identity())
    expect(Date.now() - started).toBeLessThan(8000)
    expect(failed.reason).toBe('unreachable')
    expect(warn).not.toHaveBeenCalled()
    expect(error).not.toHaveBeenCalled()
    warn.mockRestore()
    error.mockRestore()
  })
})
