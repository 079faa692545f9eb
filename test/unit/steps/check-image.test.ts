import {readFileSync} from 'node:fs'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {AwsError, classify, ExitCode} from '../../../src/errors.js'
import type {DeployState} from '../../../src/pipeline/state.js'
import {checkImageStep} from '../../../src/steps/check-image.js'
import {type ImageSource} from '../../../src/systems/image-source.js'
import {sha256Digest} from '../../../src/sha256.js'
import {MEDIA_TYPES} from '../../../src/systems/media-types.js'
import {afterPreflight, PASSWORD, type StepFixture, stepFixture} from '../../helpers/deploy-state.js'
import {recordingIo} from '../../helpers/recording-host.js'
import {startTinyRegistry, type TinyRegistry} from '../../helpers/tiny-registry.js'

// The check after the upload (issue 12 §2): a read the role may not make is a warning unless a
// --deploy-target asks for the check; every other failed read fails the step (exit 8). The image
// is a real one (the manifest and BentoML config podman pushed on the local stack); ECR's API is an
// ImageSource stand-in (its SDK side is tested in test/unit/systems/aws/ecr-image-source.test.ts),
// the registry API a real HTTP server on loopback (test/helpers/tiny-registry.ts).
const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/images')
const MANIFEST = readFileSync(path.join(FIXTURES, 'podman-v2s2.manifest.json'))
const CONFIG = readFileSync(path.join(FIXTURES, 'bentoml-image.config.json'))
const DIGEST = sha256Digest(MANIFEST)

/** ECR's API as the check reads it: the manifest, then the config blob; either may throw. */
function ecrSource(failures: {manifest?: Error; blob?: Error} = {}): ImageSource & {reads: string[]} {
  const reads: string[] = []
  return {
    reads,
    async manifest(reference) {
      reads.push(`manifest ${reference}`)
      if (failures.manifest !== undefined) throw failures.manifest
      return {mediaType: MEDIA_TYPES.dockerManifest, digest: DIGEST, raw: MANIFEST}
    },
    async blob(digest) {
      reads.push(`blob ${digest}`)
      if (failures.blob !== undefined) throw failures.blob
      return CONFIG
    },
  }
}

async function pushedToEcr(flags: Record<string, unknown> = {}): Promise<StepFixture> {
  const fixture = await afterPreflight(stepFixture({flags}))
  fixture.state.bentoTag = 'iris_service:v1'
  fixture.state.digest = DIGEST
  return fixture
}

async function failureOf(state: DeployState) {
  const error = await checkImageStep.run(state, recordingIo()).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error, 'the step failed').toBeDefined()
  return classify(error, checkImageStep.failure, {step: checkImageStep.id})
}

const denied = (operation: string): AwsError =>
  new AwsError('access-denied', operation, `${operation} failed: AccessDeniedException`, {
    hint: `Allow ${operation}.`,
  })

describe('the check step, on ECR', () => {
  it('reads the manifest and its config and checks the format: no warning', async () => {
    const {state, aws} = await pushedToEcr()
    const source = ecrSource()
    aws.imageSourceAnswer = source
    const io = recordingIo()
    await checkImageStep.run(state, io)
    expect(aws.calls).toEqual(['imageSource modela/v1 123456789012'])
    expect(source.reads).toEqual([`manifest ${DIGEST}`, `blob ${sha256Digest(CONFIG)}`])
    expect(state.image).toMatchObject({kind: 'docker-v2', architecture: 'amd64', layers: 13})
    expect(io.lines[0]).toMatch(
      /^application\/vnd\.docker\.distribution\.manifest\.v2\+json, linux\/amd64, 13 layers/,
    )
    expect(io.lines[1]).toMatch(/^ok {3}/)
    expect(state.imageRules.map((rule) => rule.ok)).toEqual([true])
    expect(state.warnings).toEqual([])
  })

  it.each([
    ['manifest', 'ecr:BatchGetImage'],
    ['blob', 'ecr:GetDownloadUrlForLayer'],
  ] as const)(
    'a denied %s read without a deploy target is a warning naming %s; the step passes',
    async (read, permission) => {
      const {state, aws} = await pushedToEcr()
      aws.imageSourceAnswer = ecrSource({[read]: denied(permission)})
      await checkImageStep.run(state, recordingIo())
      expect(state.warnings).toEqual([
        `${permission} is denied: the pushed image was not read back, so its format (--image-format docker) was not checked. Allow ${permission} to check it.`,
      ])
      expect(state.image).toBeUndefined()
      expect(state.denied.has(permission)).toBe(true)
    },
  )

  it.each([
    ['manifest', 'ecr:BatchGetImage', 'manifest'],
    ['blob', 'ecr:GetDownloadUrlForLayer', 'config (labels, platform)'],
  ] as const)(
    'a denied %s read with --deploy-target sagemaker fails the step (8), naming %s',
    async (read, permission, what) => {
      const {state, aws} = await pushedToEcr({'deploy-target': 'sagemaker'})
      aws.imageSourceAnswer = ecrSource({[read]: denied(permission)})
      const failure = await failureOf(state)
      expect(failure).toMatchObject({kind: 'push', exitCode: ExitCode.push, reason: 'aws:access-denied'})
      expect(failure.message).toBe(
        `The pushed image could not be checked: reading its ${what} failed: ${permission} failed: AccessDeniedException`,
      )
      expect(failure.hint).toBe(
        `--deploy-target sagemaker needs ${permission} to check the image before it is deployed: allow it on the repository, or push without --deploy-target.`,
      )
      expect(state.warnings).toEqual([])
    },
  )

  it.each([
    ['unreachable', 'Check the network, --registry and AWS_ENDPOINT_URL'],
    ['not-found', 'The registry does not have what it just accepted'],
    ['malformed', 'The registry answered with something that is not the image pushed'],
    ['throttled', 'AWS kept throttling after the retries'],
    ['credentials-expired', 'Refresh the credentials.'],
    ['failed', undefined],
  ] as const)(
    'any other failed read (%s) fails the step (8) with a clear line, without a deploy target too',
    async (reason, hint) => {
      const {state, aws} = await pushedToEcr()
      const own = reason === 'credentials-expired' ? {hint: 'Refresh the credentials.'} : {}
      aws.imageSourceAnswer = ecrSource({
        blob: new AwsError(reason, 'ecr:GetDownloadUrlForLayer', 'Reading blob x failed: why', own),
      })
      const failure = await failureOf(state)
      expect(failure).toMatchObject({kind: 'push', exitCode: 8, reason: `aws:${reason}`, step: 'check'})
      expect(failure.message).toBe(
        'The pushed image could not be checked: reading its config (labels, platform) failed: Reading blob x failed: why',
      )
      if (hint === undefined) expect(failure.hint).toBeUndefined()
      else expect(failure.hint).toContain(hint)
      expect(state.warnings).toEqual([])
    },
  )

  it('an interrupt during the read is the interrupt, not a warning', async () => {
    const {state, aws} = await pushedToEcr()
    const controller = new AbortController()
    const abort = new Error('aborted')
    aws.imageSourceAnswer = {
      manifest: async () => {
        controller.abort('SIGINT')
        throw abort
      },
      blob: async () => CONFIG,
    }
    await expect(checkImageStep.run(state, recordingIo(controller.signal))).rejects.toBe(abort)
    expect(state.warnings).toEqual([])
  })

  it('no digest: check:no-image (8)', async () => {
    const {state} = await pushedToEcr()
    state.digest = undefined
    expect(await failureOf(state)).toMatchObject({kind: 'push', reason: 'check:no-image'})
  })
})

describe('the check step, on another registry (--registry)', () => {
  let registry: TinyRegistry | undefined
  afterEach(async () => {
    await registry?.close()
    registry = undefined
  })

  async function onRegistry(flags: Record<string, unknown> = {}): Promise<StepFixture> {
    registry = await startTinyRegistry({username: 'AWS', password: PASSWORD})
    const fixture = await pushedToEcr({registry: registry.host, ...flags})
    registry.put('modela/v1', 'v1', MANIFEST.toString('utf8'))
    registry.blobs.set(sha256Digest(CONFIG), CONFIG)
    return fixture
  }

  it('reads the manifest and the config through the registry API', async () => {
    const {state} = await onRegistry()
    await checkImageStep.run(state, recordingIo())
    expect(registry!.requests).toEqual([
      `GET /v2/modela/v1/manifests/${DIGEST}`,
      `GET /v2/modela/v1/blobs/${sha256Digest(CONFIG)}`,
    ])
    expect(state.image).toMatchObject({layers: 13})
    expect(state.warnings).toEqual([])
  })

  it('a 403 to the manifest read is ecr:BatchGetImage denied: a warning', async () => {
    const {state} = await onRegistry()
    registry!.status = 403
    await checkImageStep.run(state, recordingIo())
    expect(state.warnings).toEqual([
      expect.stringMatching(/^ecr:BatchGetImage is denied: the pushed image was not read back/),
    ])
  })

  it('a 403 to the config read is ecr:GetDownloadUrlForLayer denied: a warning, exit 8 with --deploy-target', async () => {
    const lenient = await onRegistry()
    registry!.blobStatus = 403
    await checkImageStep.run(lenient.state, recordingIo())
    expect(lenient.state.warnings).toEqual([expect.stringMatching(/^ecr:GetDownloadUrlForLayer is denied: /)])
    await registry!.close()

    const strict = await onRegistry({'deploy-target': 'sagemaker'})
    registry!.blobStatus = 403
    const failure = await failureOf(strict.state)
    expect(failure).toMatchObject({exitCode: 8, reason: 'registry:denied'})
    expect(failure.hint).toMatch(/^--deploy-target sagemaker needs ecr:GetDownloadUrlForLayer /)
  })

  it.each([
    [404, 'registry:not-found', 8],
    [500, 'registry:transient', 8],
    [400, 'registry:failed', 8],
    [401, 'registry:login-refused', 7],
  ] as const)('HTTP %i to the manifest read is %s: exit %i, not a warning', async (status, reason, code) => {
    const {state} = await onRegistry()
    registry!.status = status
    const failure = await failureOf(state)
    expect(failure).toMatchObject({exitCode: code, reason})
    expect(failure.message).toMatch(/^The pushed image could not be checked: reading its manifest failed: /)
    expect(state.warnings).toEqual([])
  })

  it('a registry that is gone (connection refused) fails the step: registry:unreachable, 8', async () => {
    const {state} = await onRegistry()
    await registry!.close()
    registry = undefined
    const failure = await failureOf(state)
    expect(failure).toMatchObject({exitCode: 8, reason: 'registry:unreachable'})
    expect(failure.message).toMatch(
      /could not be reached \(connection refused: nothing listens on that port\)/,
    )
  })

  it('a config that does not hash to its digest fails the step: registry:malformed, 8', async () => {
    const {state} = await onRegistry()
    registry!.blobs.set(sha256Digest(CONFIG), Buffer.from('{"not":"the config"}'))
    const failure = await failureOf(state)
    expect(failure).toMatchObject({exitCode: 8, reason: 'registry:malformed'})
    expect(failure.message).toMatch(
      /reading its config \(labels, platform\) failed: .*do not hash to the digest/,
    )
  })
})
