import {randomUUID} from 'node:crypto'

import {afterEach, describe, expect, inject, it} from 'vitest'

import {AwsError} from '../../../../src/errors.js'
import {defaultLifecyclePolicy, lifecyclePolicyText} from '../../../../src/lifecycle-policy.js'
import {Ledger, withLedger} from '../../../../src/ledger.js'
import {SecretRegistry} from '../../../../src/secrets.js'
import {AwsClients, awsSettingsFor} from '../../../../src/systems/aws/index.js'
import {
  createImmutableRepository,
  createRepository,
  describeRepository,
  seedImage,
} from '../../../helpers/aws.js'
import {MOTO_ACCOUNT, MOTO_PASSWORD} from '../../../helpers/moto.js'
import {startStandIn, type StandIn} from '../../../helpers/stand-in.js'
import {rejectionOf} from '../../../helpers/rejection.js'

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

const awsFailure = (promise: Promise<unknown>): Promise<AwsError> => rejectionOf(promise, AwsError)

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

  it('lifecycle policy: none is undefined, a put one reads back, a missing repository is not-found', async () => {
    const name = unique('lifecycle')
    await createRepository(motoUrl, name)
    const client = aws()
    expect(await client.lifecyclePolicy(name, MOTO_ACCOUNT)).toBeUndefined()
    const text = lifecyclePolicyText(defaultLifecyclePolicy(['latest']))
    const ledger = new Ledger()
    await withLedger(ledger, () => client.putLifecyclePolicy(name, MOTO_ACCOUNT, text))
    expect(ledger.entries).toEqual([{kind: 'aws', call: 'aws:ecr:PutLifecyclePolicy'}])
    // moto stores the text as given and checks its shape (required keys, enums, countNumber >= 1),
    // but unlike ECR it accepts `tagged` without a tag list and an `any` rule before others, and it
    // never applies a policy: what the rules expire is tested against ECR's documented rules in
    // test/unit/lifecycle-policy.test.ts.
    expect(JSON.parse((await client.lifecyclePolicy(name, MOTO_ACCOUNT))!)).toEqual(JSON.parse(text))
    const missing = await awsFailure(client.lifecyclePolicy(unique('nowhere'), MOTO_ACCOUNT))
    expect(missing).toMatchObject({reason: 'not-found', operation: 'ecr:GetLifecyclePolicy'})
    const invalid = await awsFailure(client.putLifecyclePolicy(name, MOTO_ACCOUNT, '{"rules": [{}]}'))
    expect(invalid).toMatchObject({operation: 'ecr:PutLifecyclePolicy'})
    expect(invalid.message).toContain(`Attaching a lifecycle policy to ${name} failed`)
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

  it('tags without upload: one BatchGetImage for the manifest, a PutImage per tag; a second time is a no-op', async () => {
    const name = unique('retag')
    await createRepository(motoUrl, name)
    const digest = await seedImage(motoUrl, name, 'v1', true)
    const client = aws()
    const ledger = new Ledger()
    await withLedger(ledger, async () => {
      const {manifest, digests} = await client.tagPointers(name, [], digest)
      expect(digests.size).toBe(0)
      for (const tag of ['latest', 'prod']) await client.putManifest(name, digest, tag, manifest!)
    })
    expect(ledger.entries.map((entry) => entry.call)).toEqual([
      'aws:ecr:BatchGetImage',
      'aws:ecr:PutImage',
      'aws:ecr:PutImage',
    ])
    const found = await client.imagesOfTags(name, ['latest', 'prod', 'v1'])
    expect([...found.values()].map((facts) => facts.digest)).toEqual([digest, digest, digest])
    const {manifest} = await client.tagPointers(name, [], digest)
    await client.putManifest(name, digest, 'latest', manifest!)
  })

  it('the manifest of an image that is not there: not-found, naming the image', async () => {
    const name = unique('retag')
    await createRepository(motoUrl, name)
    const missing = `sha256:${'0'.repeat(64)}`
    const error = await awsFailure(aws().tagPointers(name, ['latest'], missing))
    expect(error).toMatchObject({reason: 'not-found', operation: 'ecr:BatchGetImage'})
    expect(error.message).toBe(`ECR has no image ${name}@${missing}.`)
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

describe('tags, digests and conflicts (moto)', () => {
  it('what tags point at, and the manifest: ONE BatchGetImage for the repository; absent tags left out', async () => {
    const name = unique('digests')
    await createRepository(motoUrl, name)
    const digest = await seedImage(motoUrl, name, 'v1', true)
    const other = await seedImage(motoUrl, name, 'old', true)
    const ledger = new Ledger()
    const found = await withLedger(ledger, () => aws().tagPointers(name, ['v1', 'nope', 'old'], digest))
    expect(found.digests).toEqual(
      new Map([
        ['v1', digest],
        ['old', other],
      ]),
    )
    expect(JSON.parse(found.manifest!.manifest)).toMatchObject({annotations: {seed: 'v1'}})
    expect(found.manifest!.mediaType).toBe('application/vnd.oci.image.manifest.v1+json')
    expect(ledger.entries.map((entry) => entry.call)).toEqual(['aws:ecr:BatchGetImage'])
    const error = await awsFailure(aws().tagPointers(unique('none'), ['v1']))
    expect(error).toMatchObject({reason: 'not-found', operation: 'ecr:BatchGetImage'})
    expect(error.message).toMatch(/^Reading none\/\w+:v1 \(BatchGetImage\) failed/)
  })

  it('moto names an image by its last tag: a tag the answer does not name is matched, or read alone', async () => {
    const name = unique('many')
    await createRepository(motoUrl, name)
    const digest = await seedImage(motoUrl, name, 'v1', true)
    const client = aws()
    const {manifest} = await client.tagPointers(name, [], digest)
    await client.putManifest(name, digest, 'latest', manifest!)
    // v1 and latest both name one image, which moto calls 'latest': one digest in the answer.
    const same = new Ledger()
    const one = await withLedger(same, () => client.tagPointers(name, ['v1', 'nope'], digest))
    expect(one.digests).toEqual(new Map([['v1', digest]]))
    expect(same.entries).toHaveLength(1)
    // Two images, the first named by another of its tags: that tag alone, one more call.
    const other = await seedImage(motoUrl, name, 'old', true)
    const two = new Ledger()
    const found = await withLedger(two, () => client.tagPointers(name, ['v1', 'old']))
    expect(found.digests).toEqual(
      new Map([
        ['old', other],
        ['v1', digest],
      ]),
    )
    expect(two.entries.map((entry) => entry.call)).toEqual(['aws:ecr:BatchGetImage', 'aws:ecr:BatchGetImage'])
  })

  it('the tags read back: ONE DescribeImages when all exist; a missing one makes each read alone', async () => {
    const name = unique('back')
    await createRepository(motoUrl, name)
    const digest = await seedImage(motoUrl, name, 'v1', true)
    const client = aws()
    const {manifest} = await client.tagPointers(name, [], digest)
    await client.putManifest(name, digest, 'latest', manifest!)
    const all = new Ledger()
    const found = await withLedger(all, () => client.imagesOfTags(name, ['latest', 'v1']))
    expect([...found.keys()].sort()).toEqual(['latest', 'v1'])
    expect(found.get('v1')).toMatchObject({digest, tags: expect.arrayContaining(['v1', 'latest'])})
    expect(all.entries.map((entry) => entry.call)).toEqual(['aws:ecr:DescribeImages'])
    const missing = new Ledger()
    const some = await withLedger(missing, () => client.imagesOfTags(name, ['latest', 'gone']))
    expect([...some.keys()]).toEqual(['latest'])
    expect(missing.entries.map((entry) => entry.call)).toEqual([
      'aws:ecr:DescribeImages',
      'aws:ecr:DescribeImages',
      'aws:ecr:DescribeImages',
    ])
  })

  it('reading in a missing repository names what it read', async () => {
    const name = unique('gone')
    const error = await awsFailure(aws().tagPointers(name, [], `sha256:${'1'.repeat(64)}`))
    expect(error.operation).toBe('ecr:BatchGetImage')
    expect(error.message).toMatch(
      new RegExp(`^Reading the manifest of ${name}@sha256:1{64} \\(BatchGetImage\\) failed`),
    )
  })

  it('a not-found repository says what ECR said in its detail', async () => {
    const name = unique('detail')
    const error = await awsFailure(aws().repository(name, MOTO_ACCOUNT, undefined))
    expect(error.detail).toContain(name)
  })
})

describe('ECR answers moto does not give (a stand-in speaking ECR JSON)', () => {
  let ecr: StandIn | undefined
  afterEach(async () => {
    await ecr?.close()
    ecr = undefined
  })

  /** Answers each ECR operation with `answers[operation]` (status, body; or by call count); records the requests. */
  type Answer = [number, unknown]
  async function standInEcr(answers: Record<string, Answer | ((count: number) => Answer)>): Promise<{
    client: AwsClients
    sent: Array<{operation: string; body: Record<string, unknown>}>
  }> {
    const sent: Array<{operation: string; body: Record<string, unknown>}> = []
    ecr = await startStandIn((request, response, text) => {
      const operation = String(request.headers['x-amz-target']).replace(/^.*\./, '')
      sent.push({operation, body: JSON.parse(text || '{}') as Record<string, unknown>})
      const answer = answers[operation] ?? [400, {__type: 'UnknownOperationException'}]
      const count = sent.filter((request) => request.operation === operation).length - 1
      const [status, body] = typeof answer === 'function' ? answer(count) : answer
      response.writeHead(status, {'content-type': 'application/x-amz-json-1.1'})
      response.end(JSON.stringify(body))
    })
    clients = new AwsClients(
      awsSettingsFor(
        {
          AWS_ENDPOINT_URL: ecr.url,
          AWS_MAX_ATTEMPTS: '1',
          AWS_ACCESS_KEY_ID: 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
        },
        {region: 'us-east-1'},
      ),
    )
    return {client: clients, sent}
  }

  const DIGEST = `sha256:${'a'.repeat(64)}`
  const image = {
    imageId: {imageDigest: DIGEST},
    imageManifest: '{"schemaVersion":2}',
    imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
  }

  it('PutImage puts the manifest back with its media type; a tag already on it is no error', async () => {
    const {client, sent} = await standInEcr({
      BatchGetImage: [200, {images: [image]}],
      PutImage: [400, {__type: 'ImageAlreadyExistsException', message: 'already'}],
    })
    await client.putManifest('r', DIGEST, 'latest', (await client.tagPointers('r', [], DIGEST)).manifest!)
    expect(sent.map((request) => request.operation)).toEqual(['BatchGetImage', 'PutImage'])
    expect(sent[1]!.body).toEqual({
      repositoryName: 'r',
      imageManifest: '{"schemaVersion":2}',
      imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
      imageTag: 'latest',
    })
  })

  it('a manifest without a media type is put back without one', async () => {
    const {client, sent} = await standInEcr({
      BatchGetImage: [200, {images: [{...image, imageManifestMediaType: undefined}]}],
      PutImage: [200, {image}],
    })
    await client.putManifest('r', DIGEST, 'latest', (await client.tagPointers('r', [], DIGEST)).manifest!)
    expect(sent[1]!.body).not.toHaveProperty('imageManifestMediaType')
  })

  it('ECR names each image by the tag asked for: one call matches them all; other failures fail', async () => {
    const OTHER = `sha256:${'b'.repeat(64)}`
    const {client, sent} = await standInEcr({
      BatchGetImage: (count) =>
        count === 0
          ? [
              200,
              {
                images: [
                  {...image, imageId: {imageDigest: OTHER, imageTag: 'latest'}},
                  {...image, imageId: {imageDigest: DIGEST, imageTag: 'prod'}},
                ],
                failures: [
                  {imageId: {imageTag: 'new'}, failureCode: 'ImageTagDoesNotExist', failureReason: 'no'},
                ],
              },
            ]
          : [
              200,
              {
                images: [],
                failures: [{imageId: {imageTag: 'x'}, failureCode: 'KmsError', failureReason: 'kms'}],
              },
            ],
    })
    const found = await client.tagPointers('r', ['latest', 'new', 'prod'])
    expect(found).toEqual({
      digests: new Map([
        ['latest', OTHER],
        ['prod', DIGEST],
      ]),
      manifest: undefined,
    })
    expect(sent).toHaveLength(1)
    expect(sent[0]!.body).toMatchObject({
      imageIds: [{imageTag: 'latest'}, {imageTag: 'new'}, {imageTag: 'prod'}],
    })
    const error = await awsFailure(client.tagPointers('r', ['x']))
    expect(error).toMatchObject({reason: 'failed', operation: 'ecr:BatchGetImage'})
    expect(error.message).toBe('Reading r:x (BatchGetImage): ECR answered KmsError (kms).')
  })

  it('a tag taken in an immutable repository is a conflict, with a hint', async () => {
    const {client} = await standInEcr({
      BatchGetImage: [200, {images: [image]}],
      PutImage: [
        400,
        {__type: 'ImageTagAlreadyExistsException', message: "The image tag 'v1' already exists"},
      ],
    })
    const error = await awsFailure(
      client.putManifest('r', DIGEST, 'v1', {manifest: '{}', mediaType: undefined}),
    )
    expect(error).toMatchObject({
      reason: 'conflict',
      operation: 'ecr:PutImage',
      message: 'Tag v1 already exists in the immutable repository r.',
      hint: 'Use another tag, or make the repository mutable.',
    })
    expect(error.detail).toContain("The image tag 'v1' already exists")
  })

  it('another PutImage failure names the image and the tag', async () => {
    const {client} = await standInEcr({
      BatchGetImage: [200, {images: [image]}],
      PutImage: [400, {__type: 'InvalidParameterException', message: 'bad manifest'}],
    })
    const error = await awsFailure(
      client.putManifest('r', DIGEST, 'v1', {manifest: '{}', mediaType: undefined}),
    )
    expect(error.operation).toBe('ecr:PutImage')
    expect(error.message).toMatch(new RegExp(`^Tagging r@${DIGEST} as v1 \\(PutImage\\) failed: `))
  })

  it('an image ECR describes without a size, time or tags', async () => {
    const {client} = await standInEcr({DescribeImages: [200, {imageDetails: [{imageDigest: DIGEST}]}]})
    expect(await client.imagesByTag('r', ['v1'])).toEqual(
      new Map([['v1', {digest: DIGEST, sizeBytes: null, pushedAt: null, tags: []}]]),
    )
  })

  it('the repository listing asks for maxResults and skips nameless entries', async () => {
    const {client, sent} = await standInEcr({
      DescribeRepositories: [200, {repositories: [{repositoryName: 'a'}, {}, {repositoryName: 'b'}]}],
    })
    expect(await client.repositoryNames(7)).toEqual(['a', 'b'])
    expect(sent[0]!.body).toEqual({maxResults: 7})
  })

  it('a failed listing or lookup names what it did', async () => {
    const {client} = await standInEcr({
      DescribeRepositories: [400, {__type: 'AccessDeniedException', message: 'no'}],
      CreateRepository: [400, {__type: 'AccessDeniedException', message: 'no'}],
    })
    expect((await awsFailure(client.repositoryNames(1))).message).toMatch(
      /^Listing ECR repositories \(DescribeRepositories\) failed: /,
    )
    const lookup = await awsFailure(client.repository('r', MOTO_ACCOUNT, undefined))
    expect(lookup).toMatchObject({reason: 'access-denied', operation: 'ecr:DescribeRepositories'})
    expect(lookup.message).toMatch(/^Checking ECR repository r failed: /)
  })

  it('a repository another run created meanwhile is read again, not an error', async () => {
    const {client, sent} = await standInEcr({
      DescribeRepositories: (count) =>
        count === 0
          ? [400, {__type: 'RepositoryNotFoundException', message: 'missing'}]
          : [200, {repositories: [{repositoryUri: 'u/r', imageTagMutability: 'IMMUTABLE'}]}],
      CreateRepository: [400, {__type: 'RepositoryAlreadyExistsException', message: 'exists'}],
    })
    expect(await client.repository('r', MOTO_ACCOUNT, {mutability: 'MUTABLE', scanOnPush: false})).toEqual({
      uri: 'u/r',
      mutability: 'IMMUTABLE',
      created: false,
    })
    expect(sent.map((request) => request.operation)).toEqual([
      'DescribeRepositories',
      'CreateRepository',
      'DescribeRepositories',
    ])
  })

  it('another failure to create names the repository', async () => {
    const {client} = await standInEcr({
      DescribeRepositories: [400, {__type: 'RepositoryNotFoundException', message: 'missing'}],
      CreateRepository: [400, {__type: 'LimitExceededException', message: 'too many'}],
    })
    const error = await awsFailure(
      client.repository('r', MOTO_ACCOUNT, {mutability: 'MUTABLE', scanOnPush: true}),
    )
    expect(error.operation).toBe('ecr:CreateRepository')
    expect(error.message).toMatch(/^Creating ECR repository r failed: /)
  })
})
