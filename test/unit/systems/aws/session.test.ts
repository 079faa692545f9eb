import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterEach, describe, expect, inject, it, vi} from 'vitest'

import {AwsError} from '../../../../src/errors.js'
import {Ledger, withLedger} from '../../../../src/ledger.js'
import {SecretRegistry} from '../../../../src/secrets.js'
import {AwsClients, awsSettingsFor, decodeAuthorizationToken} from '../../../../src/systems/aws/index.js'
import {expiredCredentialsHome} from '../../../helpers/aws.js'
import {tempDir} from '../../../helpers/cli.js'
import {startStandIn, type StandIn} from '../../../helpers/stand-in.js'
import {rejectionOf} from '../../../helpers/rejection.js'

// The session itself: credentials from a profile, per-service endpoints, attempts, the caller's
// signal, and ECR's login token in every shape it can come in (a stand-in speaks ECR's JSON).
const motoUrl = inject('motoUrl')
const KEYS = {AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing'}
/** Nothing listens here: a call sent to it fails. */
const DEAD = 'http://127.0.0.1:9'

let standIn: StandIn | undefined
let clients: AwsClients[] = []
afterEach(async () => {
  for (const client of clients) client.close()
  clients = []
  await standIn?.close()
  standIn = undefined
})

function aws(env: Record<string, string>, secrets?: SecretRegistry): AwsClients {
  const client = new AwsClients(awsSettingsFor(env, {region: 'us-east-1'}), secrets)
  clients.push(client)
  return client
}

const failure = (promise: Promise<unknown>): Promise<AwsError> => rejectionOf(promise, AwsError)

/** An ECR stand-in answering GetAuthorizationToken with `data` (JSON 1.1). */
async function ecrAnswering(data: unknown): Promise<string> {
  standIn = await startStandIn((_request, response) => {
    response.writeHead(200, {'content-type': 'application/x-amz-json-1.1'})
    response.end(JSON.stringify(data))
  })
  return standIn.url
}

const token = (text: string): string => Buffer.from(text).toString('base64')

describe('credentials and endpoints', () => {
  it("without keys, the profile's keys from the credentials file; its secret becomes known", async () => {
    const home = tempDir('awscreds')
    const credentials = path.join(home, 'credentials')
    writeFileSync(
      credentials,
      '[team]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret-key-123\n',
    )
    const later = new SecretRegistry()
    const client = aws({
      HOME: home,
      AWS_ENDPOINT_URL: motoUrl,
      AWS_MAX_ATTEMPTS: '1',
      AWS_PROFILE: 'team',
      AWS_SHARED_CREDENTIALS_FILE: credentials,
      AWS_CONFIG_FILE: path.join(home, 'config'),
    })
    client.shareSecretsWith(later)
    expect((await client.identity()).account).toMatch(/^\d{12}$/)
    // Asked twice: the same chain, the same answer.
    expect((await client.identity()).account).toMatch(/^\d{12}$/)
    expect(later.redact('profile-secret-key-123')).toBe('********')
    const missing = aws({
      HOME: home,
      AWS_ENDPOINT_URL: motoUrl,
      AWS_MAX_ATTEMPTS: '1',
      AWS_PROFILE: 'nobody',
      AWS_SHARED_CREDENTIALS_FILE: credentials,
      AWS_CONFIG_FILE: path.join(home, 'config'),
      AWS_EC2_METADATA_DISABLED: 'true',
    })
    expect((await failure(missing.identity())).reason).toBe('credentials-missing')
  })

  it('static keys: their secret is known to the registry given at once', () => {
    const secrets = new SecretRegistry()
    aws({AWS_ACCESS_KEY_ID: 'AKIDSTATIC', AWS_SECRET_ACCESS_KEY: 'static-secret-key-456'}, secrets)
    expect(secrets.redact('AKIDSTATIC static-secret-key-456')).toBe('AKIDSTATIC ********')
  })

  it("each service's own endpoint variable wins over the general one", async () => {
    const client = aws({
      ...KEYS,
      AWS_ENDPOINT_URL: DEAD,
      AWS_ENDPOINT_URL_STS: motoUrl,
      AWS_MAX_ATTEMPTS: '1',
    })
    expect((await client.identity()).account).toMatch(/^\d{12}$/)
    expect((await failure(client.repositoryNames(1))).reason).toBe('unreachable')
    const ecr = aws({...KEYS, AWS_ENDPOINT_URL: DEAD, AWS_ENDPOINT_URL_ECR: motoUrl, AWS_MAX_ATTEMPTS: '1'})
    expect(await ecr.repositoryNames(1)).toEqual(expect.any(Array))
    expect((await failure(ecr.identity())).reason).toBe('unreachable')
  })

  it('sends AWS_MAX_ATTEMPTS attempts, 3 without it, 1 for a quick run', async () => {
    standIn = await startStandIn((_request, response) => {
      response.writeHead(503, {'content-type': 'application/x-amz-json-1.1'})
      response.end('{"__type":"ServiceUnavailableException","message":"try later"}')
    })
    const attempts = async (extra: Record<string, string>, quick = false): Promise<number> => {
      const client = new AwsClients(
        awsSettingsFor({...KEYS, AWS_ENDPOINT_URL: standIn!.url, ...extra}, {region: 'us-east-1', quick}),
      )
      clients.push(client)
      const ledger = new Ledger()
      await withLedger(ledger, () => failure(client.repositoryNames(1)))
      return ledger.entries.length
    }
    expect(await attempts({AWS_MAX_ATTEMPTS: '2'})).toBe(2)
    expect(await attempts({})).toBe(3)
    expect(await attempts({AWS_MAX_ATTEMPTS: '5'}, true)).toBe(1)
  })

  it("the caller's signal ends a call", async () => {
    const client = aws({...KEYS, AWS_ENDPOINT_URL: motoUrl, AWS_MAX_ATTEMPTS: '1'})
    const error = await client.identity(AbortSignal.abort()).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(Error)
    // The same client still answers a call without that signal.
    expect((await client.identity()).account).toMatch(/^\d{12}$/)
  })
})

describe('the identity', () => {
  /** An STS stand-in answering GetCallerIdentity with these result fields (XML). */
  async function stsAnswering(fields: string): Promise<string> {
    standIn = await startStandIn((_request, response) => {
      response.writeHead(200, {'content-type': 'text/xml'})
      response.end(
        `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>${fields}</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
      )
    })
    return standIn.url
  }

  it('an account without an ARN has an empty ARN', async () => {
    const url = await stsAnswering('<Account>210987654321</Account>')
    expect(await aws({...KEYS, AWS_ENDPOINT_URL: url}).identity()).toStrictEqual({
      account: '210987654321',
      arn: '',
    })
  })

  it('an answer without an account is a failure that says so', async () => {
    const url = await stsAnswering('<Arn>arn:aws:iam::1:user/x</Arn>')
    const error = await failure(aws({...KEYS, AWS_ENDPOINT_URL: url}).identity())
    expect(error).toMatchObject({operation: 'sts:GetCallerIdentity'})
    expect(error.message).toBe(
      'Reading the AWS identity (STS GetCallerIdentity) failed: GetCallerIdentity returned no account (region us-east-1).',
    )
  })
})

describe('the ECR login token', () => {
  it('the registry host, the decoded password and the expiry', async () => {
    const url = await ecrAnswering({
      authorizationData: [
        {
          authorizationToken: token('AWS:pass-word-123'),
          proxyEndpoint: 'https://123456789012.dkr.ecr.us-east-1.amazonaws.com',
          expiresAt: 1_800_000_000,
        },
      ],
    })
    const secrets = new SecretRegistry()
    expect(await aws({...KEYS, AWS_ENDPOINT_URL: url}).authorization(secrets)).toStrictEqual({
      username: 'AWS',
      password: 'pass-word-123',
      registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
      expiresAt: new Date(1_800_000_000_000),
    })
    expect(secrets.redact('pass-word-123')).toBe('********')
  })

  it('without an expiry there is none', async () => {
    const url = await ecrAnswering({
      authorizationData: [
        {authorizationToken: token('AWS:pass-word-123'), proxyEndpoint: 'https://r.example'},
      ],
    })
    expect(await aws({...KEYS, AWS_ENDPOINT_URL: url}).authorization(new SecretRegistry())).toStrictEqual({
      username: 'AWS',
      password: 'pass-word-123',
      registry: 'r.example',
    })
  })

  it.each([
    ['no authorization data', {}],
    ['an empty list', {authorizationData: []}],
    ['no token', {authorizationData: [{proxyEndpoint: 'https://r.example'}]}],
    ['no endpoint', {authorizationData: [{authorizationToken: token('AWS:pass-word-123')}]}],
  ])('%s is malformed, with a hint', async (_, data) => {
    const url = await ecrAnswering(data)
    const error = await failure(aws({...KEYS, AWS_ENDPOINT_URL: url}).authorization(new SecretRegistry()))
    expect(error).toMatchObject({
      reason: 'malformed',
      operation: 'ecr:GetAuthorizationToken',
      message: 'ECR returned no authorization data.',
      hint: 'Check that the credentials may call ecr:GetAuthorizationToken.',
    })
  })

  it('a refused token request names what it did', async () => {
    standIn = await startStandIn((_request, response) => {
      response.writeHead(400, {'content-type': 'application/x-amz-json-1.1'})
      response.end('{"__type":"AccessDeniedException","message":"not allowed"}')
    })
    const error = await failure(
      aws({...KEYS, AWS_ENDPOINT_URL: standIn.url}).authorization(new SecretRegistry()),
    )
    expect(error.operation).toBe('ecr:GetAuthorizationToken')
    expect(error.message).toMatch(/^Getting an ECR login token \(GetAuthorizationToken\) failed: /)
  })

  it('refuses a token with an empty user or an empty password', () => {
    for (const text of [':password', 'AWS:', 'no-colon']) {
      let error: unknown
      try {
        decodeAuthorizationToken(token(text))
      } catch (caught) {
        error = caught
      }
      expect(error, text).toMatchObject({
        reason: 'malformed',
        message: 'The ECR authorization token is not of the form user:password.',
        hint: 'This is unexpected from ECR; check --registry and the AWS endpoint settings.',
      })
    }
    expect(decodeAuthorizationToken(token('A:b'))).toEqual({username: 'A', password: 'b'})
  })
})

describe('cached credentials that ran out, found by the real SDK on disk', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  /** The SDK looks for its SSO cache under process.env.HOME. */
  async function identityFailure(profile: string): Promise<AwsError> {
    const home = tempDir('sso')
    const {configFile} = expiredCredentialsHome(home)
    vi.stubEnv('HOME', home)
    const client = aws({
      AWS_ENDPOINT_URL: DEAD,
      AWS_MAX_ATTEMPTS: '1',
      AWS_PROFILE: profile,
      AWS_CONFIG_FILE: configFile,
      AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    })
    return failure(client.identity())
  }

  it.each(['sso-new', 'sso-legacy'])(
    '%s: the SSO session expired, and how to log in again',
    async (profile) => {
      const error = await identityFailure(profile)
      expect(error).toMatchObject({
        reason: 'credentials-expired',
        message: `Reading the AWS identity (STS GetCallerIdentity) failed: the AWS SSO session of profile ${profile} has expired (region us-east-1).`,
        hint: `Run aws sso login --profile ${profile}, then run again.`,
      })
    },
  )

  it('an SSO profile never logged in on this machine', async () => {
    expect(await identityFailure('sso-gone')).toMatchObject({
      reason: 'credentials-missing',
      hint: 'Run aws sso login --profile sso-gone, then run again.',
    })
  })

  it('a credential_process answering an Expiration in the past (which the chain only logs)', async () => {
    const error = await identityFailure('process')
    expect(error).toMatchObject({
      reason: 'credentials-expired',
      message: expect.stringContaining(
        "the credentials that profile process's credential_process returned have expired",
      ),
    })
    expect(error.detail).toBe('Profile process credential_process returned expired credentials.')
  })
})
