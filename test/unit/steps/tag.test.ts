import {afterEach, describe, expect, it} from 'vitest'

import {AwsError, classify, ExitCode, RegistryError} from '../../../src/errors.js'
import {newRun, runPlans} from '../../../src/pipeline/engine.js'
import type {DeployState} from '../../../src/pipeline/state.js'
import type {Step} from '../../../src/pipeline/step.js'
import {registryAccess, tagStep, verifyStep} from '../../../src/steps/tag.js'
import {
  afterPreflight,
  DIGEST,
  PASSWORD,
  REGISTRY,
  type StepFixture,
  stepFixture,
} from '../../helpers/deploy-state.js'
import {RecordingHost, recordingIo} from '../../helpers/recording-host.js'
import {startTinyRegistry, type TinyRegistry} from '../../helpers/tiny-registry.js'

const tag = tagStep<DeployState>()
const verify = verifyStep<DeployState>()

/** After the push: the image is up under the bento version v1; latest and prod still to add. */
async function pushed(flags: Record<string, unknown> = {}): Promise<StepFixture> {
  const fixture = await afterPreflight(stepFixture({flags: {tag: ['latest', 'prod'], ...flags}}))
  fixture.state.bentoTag = 'iris_service:v1'
  fixture.state.digest = DIGEST
  fixture.aws.images.set('v1', {
    digest: DIGEST,
    sizeBytes: 4321,
    pushedAt: '2026-01-02T00:00:00.000Z',
    tags: ['v1'],
  })
  return fixture
}

async function failureOf(step: Step<DeployState>, state: DeployState) {
  const error = await step.run(state, recordingIo()).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error, 'the step failed').toBeDefined()
  return classify(error, step.failure, {step: step.id})
}

describe('the tag step, on ECR', () => {
  it('describes ONE BatchGetImage (what the tags point at, and the manifest), then a PutImage per other tag', async () => {
    const {state} = await pushed()
    expect(tag.describe(state)).toEqual({
      actions: [
        // Push says which tag moves from where; the same call reads the manifest (no check read it).
        {
          text: "The image's manifest, and what latest, prod point at now (to say which tag moves, from which digest): ECR BatchGetImage (one call)",
          calls: ['aws:ecr:BatchGetImage'],
        },
        {
          text: 'A tag the answer names no image for: ECR BatchGetImage of that tag alone',
          calls: ['aws:ecr:BatchGetImage'],
          when: 'the answer names an image by another of its tags and holds several images',
        },
        ...['latest', 'prod'].map((name) => ({
          text: `${REGISTRY}/modela/v1:${name} -> the image's digest: ECR PutImage of the manifest read above`,
          calls: ['aws:ecr:PutImage'],
        })),
      ],
      commands: [],
    })
    expect(tag).toMatchObject({id: 'tag', failure: 'push', title: 'Add the other tags (no upload)'})
    expect(tagStep('Point the tags').title).toBe('Point the tags')
  })

  it("with the check's manifest: the one BatchGetImage reads only the tags, PutImage puts the check's bytes", async () => {
    const {state, aws} = await pushed()
    const raw = Buffer.from('{"schemaVersion":2,"from":"the check"}')
    state.digestManifest = {digest: DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json', raw}
    aws.images.set('prod', {digest: 'sha256:old', sizeBytes: 1, pushedAt: null, tags: ['prod']})
    expect(tag.describe(state).actions.map((action) => [action.text, action.calls, action.when])).toEqual([
      [
        'What latest, prod point at now (to say which tag moves, from which digest): ECR BatchGetImage (one call)',
        ['aws:ecr:BatchGetImage'],
        undefined,
      ],
      [
        'A tag the answer names no image for: ECR BatchGetImage of that tag alone',
        ['aws:ecr:BatchGetImage'],
        'the answer names an image by another of its tags and holds several images',
      ],
      ...['latest', 'prod'].map((name) => [
        `${REGISTRY}/modela/v1:${name} -> the image's digest: ECR PutImage of the manifest the check read`,
        ['aws:ecr:PutImage'],
        undefined,
      ]),
    ])
    const io = recordingIo()
    await tag.run(state, io)
    expect(aws.calls).toEqual([
      'tagPointers modela/v1 latest,prod',
      `putManifest modela/v1 ${DIGEST} latest (the check's manifest)`,
      `putManifest modela/v1 ${DIGEST} prod (the check's manifest)`,
    ])
    expect(io.lines[1]).toBe(`${REGISTRY}/modela/v1:prod -> ${DIGEST} (moved from sha256:old)`)
    // A target that does not ask which tags move (promote) and knows the manifest reads nothing.
    const quiet: DeployState = Object.assign(Object.create(state) as DeployState, {
      tagsToPoint: () => ['latest'],
      onTagChange: undefined,
    })
    aws.calls.length = 0
    expect(tag.describe(quiet).actions.map((action) => action.calls)).toEqual([['aws:ecr:PutImage']])
    await tag.run(quiet, recordingIo())
    expect(aws.calls).toEqual([`putManifest modela/v1 ${DIGEST} latest (the check's manifest)`])
  })

  it('BatchGetImage denied and no manifest known: the tags go through the backend; DescribeImages says which move', async () => {
    const {state, aws} = await pushed()
    state.deny('ecr:BatchGetImage')
    const backend: string[] = []
    state.backendTagCommands = (name) => [{command: 'podman', args: ['push', `x:${name}`], cwd: '/'}]
    state.runBackendTag = async (name) => {
      backend.push(name)
    }
    expect(tag.describe(state)).toEqual({
      actions: [
        {
          text: 'What latest, prod point at now (to say which tag moves, from which digest): ECR DescribeImages',
          calls: ['aws:ecr:DescribeImages', 'aws:ecr:DescribeImages'],
        },
      ],
      commands: ['latest', 'prod'].map((name) => ({
        command: 'podman',
        args: ['push', `x:${name}`],
        cwd: '/',
      })),
    })
    await tag.run(state, recordingIo())
    expect(aws.calls).toEqual(['imagesByTag modela/v1 latest,prod'])
    expect(backend).toEqual(['latest', 'prod'])
    expect(state.tagChanges.map((each) => each.change)).toEqual(['created', 'created'])
  })

  it('BatchGetImage refused in the tag step itself: the backend tags instead, with a warning', async () => {
    const {state, aws} = await pushed()
    aws.digestsAnswer = new AwsError('access-denied', 'ecr:BatchGetImage', 'denied')
    const backend: string[] = []
    state.backendTagCommands = (name) => [{command: 'podman', args: ['push', `x:${name}`], cwd: '/'}]
    state.runBackendTag = async (name) => {
      backend.push(name)
    }
    expect(tag.describe(state).commands).toEqual(
      ['latest', 'prod'].map((name) => ({
        command: 'podman',
        args: ['push', `x:${name}`],
        cwd: '/',
        when: 'ecr:BatchGetImage is denied (a push-only role)',
      })),
    )
    const io = recordingIo()
    await tag.run(state, io)
    expect(backend).toEqual(['latest', 'prod'])
    expect(state.denied.has('ecr:BatchGetImage')).toBe(true)
    expect(state.warnings.join('\n')).toContain('pushed through the backend')
    expect(io.lines).toEqual([
      `${REGISTRY}/modela/v1:latest -> ${DIGEST}`,
      `${REGISTRY}/modela/v1:prod -> ${DIGEST}`,
    ])
  })

  it('says so when there is no other tag', async () => {
    const fixture = await afterPreflight(stepFixture({flags: {tag: ['v1']}}))
    fixture.state.bentoTag = 'svc:v1'
    expect(tag.describe(fixture.state).actions).toEqual([{text: 'no other tags', calls: []}])
  })

  it('points every other tag at the digest, without upload, and reports each', async () => {
    const {state, aws} = await pushed()
    const io = recordingIo()
    await tag.run(state, io)
    expect(aws.calls).toEqual([
      `tagPointers modela/v1 latest,prod + ${DIGEST}`,
      `putManifest modela/v1 ${DIGEST} latest`,
      `putManifest modela/v1 ${DIGEST} prod`,
    ])
    expect(state.pushed).toEqual([`${REGISTRY}/modela/v1:latest`, `${REGISTRY}/modela/v1:prod`])
    expect(io.lines).toEqual([
      `${REGISTRY}/modela/v1:latest -> ${DIGEST} (new tag)`,
      `${REGISTRY}/modela/v1:prod -> ${DIGEST} (new tag)`,
    ])
    expect(state.tagChanges.map((each) => each.change)).toEqual(['created', 'created'])
  })

  it('no image: check:no-image, class push (8)', async () => {
    const {state} = await pushed()
    state.digest = undefined
    expect(await failureOf(tag, state)).toMatchObject({kind: 'push', reason: 'check:no-image'})
    expect(await failureOf(verify, state)).toMatchObject({kind: 'push', reason: 'check:no-image'})
  })

  it('AccessDenied from PutImage is a push failure (8); what was tagged before is kept', async () => {
    const {state, aws} = await pushed()
    let calls = 0
    aws.retagAnswer = () => {
      if (++calls === 2) throw new AwsError('access-denied', 'ecr:PutImage', 'PutImage denied')
    }
    const error = await failureOf(tag, state)
    expect(error).toMatchObject({
      kind: 'push',
      exitCode: ExitCode.push,
      reason: 'aws:access-denied',
      step: 'tag',
    })
    expect(state.pushed).toEqual([`${REGISTRY}/modela/v1:latest`])
  })

  it('the registry refusing the token is an authentication failure (7) here too', async () => {
    const {state, aws} = await pushed()
    aws.retagAnswer = new RegistryError('login-refused', 'refused')
    expect(await failureOf(tag, state)).toMatchObject({kind: 'auth', exitCode: 7})
  })
})

describe('the verify step, on ECR', () => {
  it('reads every tag back with DescribeImages and records the upload size', async () => {
    const {state, aws} = await pushed()
    await tag.run(state, recordingIo())
    aws.calls.length = 0
    const io = recordingIo()
    await verify.run(state, io)
    expect(aws.calls).toEqual(['imagesOfTags modela/v1 latest,prod,v1'])
    expect(state.verified).toEqual(
      ['latest', 'prod', 'v1'].map((name) => ({
        tag: name,
        digest: DIGEST,
        reference: `${REGISTRY}/modela/v1:${name}`,
        byDigest: `${REGISTRY}/modela/v1@${DIGEST}`,
      })),
    )
    // The bento version's tag is the upload: its size and time are the image's.
    expect(state.sizeBytes).toBe(4321)
    expect(state.pushedAt).toBe('2026-01-02T00:00:00.000Z')
    expect(io.lines.at(-1)).toBe(`ok ${REGISTRY}/modela/v1:v1 = ${DIGEST}`)
    expect(verify.describe(state).actions).toEqual([
      {
        text: 'Every tag (latest, prod, v1) points at the image: ECR DescribeImages, one call',
        calls: ['aws:ecr:DescribeImages'],
      },
      {
        text: 'A tag not found: ECR DescribeImages of each tag alone, to say which',
        calls: ['aws:ecr:DescribeImages', 'aws:ecr:DescribeImages', 'aws:ecr:DescribeImages'],
        when: 'one of the tags is missing',
      },
      {
        text: 'Every tag (latest, prod, v1) points at the image: ECR BatchGetImage, one call (the manifest digests)',
        calls: ['aws:ecr:BatchGetImage'],
        when: 'ecr:DescribeImages is denied',
      },
      {
        text: 'A tag the answer names no image for: ECR BatchGetImage of that tag alone',
        calls: ['aws:ecr:BatchGetImage'],
        when: 'the answer names an image by another of its tags and holds several images',
      },
    ])
    expect(verify).toMatchObject({id: 'verify', failure: 'push'})
  })

  it('a tag that is missing or points elsewhere: check:tag-moved, class push (8)', async () => {
    const {state, aws} = await pushed()
    let error = await failureOf(verify, state)
    expect(error).toMatchObject({kind: 'push', reason: 'check:tag-moved'})
    expect(error.message).toBe(`Tag latest points at nothing, not at ${DIGEST}.`)
    aws.images.set('latest', {digest: 'sha256:other', sizeBytes: 1, pushedAt: null, tags: []})
    aws.images.set('prod', {digest: DIGEST, sizeBytes: 1, pushedAt: null, tags: []})
    error = await failureOf(verify, state)
    expect(error.message).toBe(`Tag latest points at sha256:other, not at ${DIGEST}.`)
    expect(state.verified).toEqual([])
  })

  it('sizes ECR does not report stay null', async () => {
    const {state, aws} = await pushed()
    for (const name of ['latest', 'prod', 'v1'])
      aws.images.set(name, {digest: DIGEST, sizeBytes: null, pushedAt: null, tags: []})
    await verify.run(state, recordingIo())
    expect(state.sizeBytes).toBeNull()
    expect(state.pushedAt).toBeNull()
  })

  it('DescribeImages denied: verify reads the digests with BatchGetImage instead (push-only roles)', async () => {
    const {state, aws} = await pushed()
    aws.imagesAnswer = new AwsError('access-denied', 'ecr:DescribeImages', 'denied')
    for (const name of ['latest', 'prod', 'v1'])
      aws.images.set(name, {digest: DIGEST, sizeBytes: null, pushedAt: null, tags: []})
    await verify.run(state, recordingIo())
    expect(aws.calls).toEqual([
      'imagesOfTags modela/v1 latest,prod,v1',
      'tagPointers modela/v1 latest,prod,v1',
    ])
    expect(state.verified.map((each) => each.tag)).toEqual(['latest', 'prod', 'v1'])
  })

  it('DescribeImages and BatchGetImage both denied: not verified, said so, not a failure (push-only roles)', async () => {
    const {state, aws} = await pushed()
    aws.imagesAnswer = new AwsError('access-denied', 'ecr:DescribeImages', 'denied')
    aws.digestsAnswer = new AwsError('access-denied', 'ecr:BatchGetImage', 'denied')
    await verify.run(state, recordingIo())
    expect(state.verified).toEqual([])
    expect(state.warnings.join('\n')).toContain('ecr:BatchGetImage')
  })

  it('another failure of the verify read is class push (8)', async () => {
    const {state, aws} = await pushed()
    aws.imagesAnswer = new AwsError('throttled', 'ecr:DescribeImages', 'Rate exceeded.')
    expect(await failureOf(verify, state)).toMatchObject({
      kind: 'push',
      reason: 'aws:throttled',
      step: 'verify',
    })
  })
})

describe('the tag and verify steps on another registry (--registry)', () => {
  let registry: TinyRegistry | undefined
  afterEach(async () => {
    await registry?.close()
    registry = undefined
  })

  async function onRegistry(): Promise<{fixture: StepFixture; registry: TinyRegistry}> {
    registry = await startTinyRegistry({username: 'AWS', password: PASSWORD})
    const fixture = await pushed({registry: registry.host})
    fixture.state.digest = registry.put('modela/v1', 'v1', '{"schemaVersion":2}')
    return {fixture, registry}
  }

  it('tags through the registry API (GET + PUT manifest) and verifies with HEAD', async () => {
    const {fixture, registry} = await onRegistry()
    const {state} = fixture
    expect(state.registryIsEcr).toBe(false)
    expect(tag.describe(state).actions[0]!.calls).toEqual(['http:HEAD /v2/modela/v1/manifests/<reference>'])
    expect(tag.describe(state).actions[1]).toEqual({
      text: `${registry.host}/modela/v1:latest -> the image's digest: registry API of ${registry.host} (GET + PUT manifest)`,
      calls: ['http:GET /v2/modela/v1/manifests/<reference>', 'http:PUT /v2/modela/v1/manifests/<reference>'],
    })
    expect(verify.describe(state).actions[0]!.calls).toEqual([
      'http:HEAD /v2/modela/v1/manifests/<reference>',
    ])
    const host = new RecordingHost()
    const run = newRun([tag, verify], state)
    await runPlans([tag, verify], [run], {host, signal: new AbortController().signal})
    expect(run.failure).toBeUndefined()
    expect(registry.manifests.get('modela/v1:latest')?.body.toString()).toBe('{"schemaVersion":2}')
    expect(registry.manifests.get('modela/v1:latest')?.mediaType).toBe(
      'application/vnd.docker.distribution.manifest.v2+json',
    )
    // The ledger has the paths as sent (the descriptions name the references with placeholders).
    expect(run.steps[0]!.ran).toEqual([
      'http:HEAD /v2/modela/v1/manifests/latest',
      'http:HEAD /v2/modela/v1/manifests/prod',
      expect.stringMatching(/^http:GET \/v2\/modela\/v1\/manifests\/sha256:[a-f0-9]{64}$/),
      'http:PUT /v2/modela/v1/manifests/latest',
      expect.stringMatching(/^http:GET \/v2\/modela\/v1\/manifests\/sha256:[a-f0-9]{64}$/),
      'http:PUT /v2/modela/v1/manifests/prod',
    ])
    expect(run.steps[1]!.ran).toEqual([
      'http:HEAD /v2/modela/v1/manifests/latest',
      'http:HEAD /v2/modela/v1/manifests/prod',
      'http:HEAD /v2/modela/v1/manifests/v1',
    ])
    expect(state.verified.map((entry) => entry.tag)).toEqual(['latest', 'prod', 'v1'])
    expect(state.sizeBytes).toBeNull()
    expect(fixture.aws.calls).toEqual([])
  })

  it('verify reads every tag at once: three HEADs in flight together, the answers in the tags order', async () => {
    const {fixture, registry} = await onRegistry()
    const {state} = fixture
    for (const name of ['latest', 'prod']) registry.put('modela/v1', name, '{"schemaVersion":2}')
    registry.headDelayMs = 200
    const io = recordingIo()
    await verify.run(state, io)
    expect(registry.maxHeadsInFlight).toBe(3)
    expect(state.verified.map((entry) => entry.tag)).toEqual(['latest', 'prod', 'v1'])
  })

  it('a tag missing on the registry fails the verification', async () => {
    const {fixture} = await onRegistry()
    const error = await failureOf(verify, fixture.state)
    expect(error.message).toBe(`Tag latest points at nothing, not at ${fixture.state.digest}.`)
  })

  it.each([
    [401, 'auth', 'registry:login-refused'],
    [403, 'push', 'registry:denied'],
    [500, 'push', 'registry:transient'],
    [400, 'push', 'registry:failed'],
  ] as const)('HTTP %i from the registry: class %s (%s)', async (status, kind, reason) => {
    const {fixture, registry} = await onRegistry()
    registry.status = status
    expect(await failureOf(tag, fixture.state)).toMatchObject({kind, reason})
    expect(await failureOf(verify, fixture.state)).toMatchObject({kind, reason})
  })

  it('needs the ECR token for the registry API: check:no-token otherwise', async () => {
    const {fixture} = await onRegistry()
    fixture.state.authorization = undefined
    expect(() => registryAccess(fixture.state)).toThrow('No ECR login token')
    expect(await failureOf(tag, fixture.state)).toMatchObject({reason: 'check:no-token'})
  })

  it('a registry that is not there: registry:unreachable, class push (8)', async () => {
    const {fixture, registry} = await onRegistry()
    await registry.close()
    expect(await failureOf(tag, fixture.state)).toMatchObject({kind: 'push', reason: 'registry:unreachable'})
  })

  describe('the words of the tag and verify steps', () => {
    it('titles, messages and hints', async () => {
      const {state, aws} = await pushed()
      expect(verify.title).toBe('Verify the tags')
      const digest = state.digest
      state.digest = undefined
      await expect(tag.run(state, recordingIo())).rejects.toThrow('There is no image to tag.')
      await expect(verify.run(state, recordingIo())).rejects.toThrow('There is no image to verify.')
      state.digest = digest
      aws.images.set('latest', {digest: 'sha256:other', sizeBytes: 1, pushedAt: null, tags: []})
      const error = await failureOf(verify, state)
      expect(error.hint).toBe(
        'Another push may have moved it at the same time; check the repository and run again.',
      )
    })

    it('describes the verification through another registry', async () => {
      const fixture = await afterPreflight(
        stepFixture({flags: {tag: ['latest'], registry: '127.0.0.1:5000'}}),
      )
      fixture.state.bentoTag = 'svc:v1'
      expect(verify.describe(fixture.state).actions[0]!.text).toBe(
        'Every tag (latest, v1) points at the image: registry API of 127.0.0.1:5000 (HEAD manifest of each, at once)',
      )
    })
  })
})
