import {randomUUID} from 'node:crypto'

import {afterEach, describe, expect, inject, it} from 'vitest'

import {AwsError} from '../../../../src/errors.js'
import {Ledger, withLedger} from '../../../../src/pipeline/ledger.js'
import {SecretRegistry} from '../../../../src/secrets.js'
import {AwsClients, awsSettingsFor} from '../../../../src/systems/aws/index.js'
import {
  createImmutableRepository,
  createRepository,
  describeRepository,
  seedImage,
} from '../../../helpers/aws.js'
import {MOTO_ACCOUNT, MOTO_PASSWORD} from '../../../helpers/moto.js'

// The real SDK against the shared moto: every test uses repositories of its own (no reset, so
// the files that run at the same time are not disturbed).
const motoUrl = inject('motoUrl')
let clients: AwsClients | undefined
afterEach(() => {
  clients?.close()
  clients = undefined
})

function aws(secrets?: SecretRegistry): AwsClients {
  clients = new AwsClients(
    awsSettingsFor(
      {
        AWS_ENDPOINT_URL: motoUrl,
        AWS_MAX_ATTEMPTS: '1',
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
      },
      {region: 'us-east-1'},
    ),
    secrets,
  )
  return clients
}

const unique = (prefix: string): string => `${prefix}/${randomUUID().slice(0, 8)}`

async function awsFailure(promise: Promise<unknown>): Promise<AwsError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(AwsError)
  return error as AwsError
}

describe('AwsClients against moto (ECR and STS)', () => {
  it('reads the identity', async () => {
    const ledger = new Ledger()
    const identity = await withLedger(ledger, () => aws().identity())
    expect(identity.account).toBe(MOTO_ACCOUNT)
    expect(identity.arn).toContain(MOTO_ACCOUNT)
    expect(ledger.entries).toEqual([{kind: 'aws', call: 'aws:sts:GetCallerIdentity'}])
  })

  it('describes an existing repository: its URI and tag mutability', async () => {
    const mutable = unique('mutable')
    const immutable = unique('immutable')
    await createRepository(motoUrl, mutable)
    await createImmutableRepository(motoUrl, immutable)
    const client = aws()
    expect(await client.repository(mutable, MOTO_ACCOUNT, undefined)).toEqual({
      uri: expect.stringMatching(
        new RegExp(`${MOTO_ACCOUNT}\\.dkr\\.ecr\\.us-east-1\\.amazonaws\\.com/${mutable}$`),
      ),
      mutability: 'MUTABLE',
      created: false,
    })
    expect((await client.repository(immutable, MOTO_ACCOUNT, undefined)).mutability).toBe('IMMUTABLE')
  })

  it('a missing repository is not-found, naming account and region, unless asked to create it', async () => {
    const name = unique('missing')
    const client = aws()
    const error = await awsFailure(client.repository(name, MOTO_ACCOUNT, undefined))
    expect(error).toMatchObject({reason: 'not-found', operation: 'ecr:DescribeRepositories'})
    expect(error.message).toBe(
      `ECR repository ${name} does not exist in account ${MOTO_ACCOUNT}, region us-east-1.`,
    )
    expect(error.hint).toContain('--create-repository')
    const created = await client.repository(name, MOTO_ACCOUNT, {mutability: 'IMMUTABLE', scanOnPush: true})
    expect(created).toMatchObject({mutability: 'IMMUTABLE', created: true})
    expect(created.uri).toMatch(new RegExp(`/${name}$`))
    const described = await describeRepository(motoUrl, name)
    expect(described?.imageTagMutability).toBe('IMMUTABLE')
    expect(described?.imageScanningConfiguration?.scanOnPush).toBe(true)
    // Found the next time, not created again.
    expect(
      (await client.repository(name, MOTO_ACCOUNT, {mutability: 'MUTABLE', scanOnPush: false})).created,
    ).toBe(false)
  })

  it('images by tag: digest, size, time and tags; absent tags left out', async () => {
    const name = unique('images')
    await createRepository(motoUrl, name)
    const digest = await seedImage(motoUrl, name, 'v1', true)
    const found = await aws().imagesByTag(name, ['v1', 'nope'])
    expect([...found.keys()]).toEqual(['v1'])
    expect(found.get('v1')).toMatchObject({digest, tags: ['v1']})
    expect(found.get('v1')?.pushedAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    const error = await awsFailure(aws().imagesByTag(unique('none'), ['v1']))
    expect(error).toMatchObject({reason: 'not-found', operation: 'ecr:DescribeImages'})
  })

  it('retags without upload: the new tag points at the same digest; a second time is a no-op', async () => {
    const name = unique('retag')
    await createRepository(motoUrl, name)
    const digest = await seedImage(motoUrl, name, 'v1', true)
    const client = aws()
    const ledger = new Ledger()
    await withLedger(ledger, () => client.retag(name, digest, 'latest'))
    expect(ledger.entries.map((entry) => entry.call)).toEqual(['aws:ecr:BatchGetImage', 'aws:ecr:PutImage'])
    expect((await client.imagesByTag(name, ['latest'])).get('latest')?.digest).toBe(digest)
    await client.retag(name, digest, 'latest')
  })

  it('retagging an image that is not there: not-found, naming image and tag', async () => {
    const name = unique('retag')
    await createRepository(motoUrl, name)
    const missing = `sha256:${'0'.repeat(64)}`
    const error = await awsFailure(aws().retag(name, missing, 'latest'))
    expect(error.reason).toBe('not-found')
    expect(error.operation).toBe('ecr:BatchGetImage')
  })

  it('the login token: decoded, registered as a secret, the registry as a bare host', async () => {
    const secrets = new SecretRegistry()
    const authorization = await aws().authorization(secrets)
    expect(authorization.username).toBe('AWS')
    expect(authorization.password).toBe(MOTO_PASSWORD)
    expect(authorization.registry).not.toMatch(/^https?:/)
    expect(authorization.registry).toContain('.dkr.ecr.')
    expect(secrets.redact(`x ${MOTO_PASSWORD} y`)).toBe('x ******** y')
    const raw = Buffer.from(`AWS:${MOTO_PASSWORD}`).toString('base64')
    expect(secrets.redact(raw)).toBe('********')
  })

  it('lists repository names', async () => {
    const name = unique('listed')
    await createRepository(motoUrl, name)
    expect(await aws().repositoryNames(1000)).toContain(name)
  })

  it('after close(), calls fail at once', async () => {
    const client = aws()
    client.close()
    await awsFailure(client.identity())
  })
})
