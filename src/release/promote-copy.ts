import {setTimeout as sleep} from 'node:timers/promises'

import {AwsError, CheckError, errorMessage, MldeployError, RegistryError} from '../errors.js'
import type {PlannedAction, Step} from '../pipeline/step.js'
import {tagDigests, tagStep, registryAccess, verifyStep} from '../steps/tag.js'
import {registryCalls} from '../systems/registry-api.js'
import {
  blobPresent,
  copyCalls,
  type CopySource,
  type Descriptor,
  mountBlob,
  putManifest,
  readImageTree,
  registryCopySource,
  SourceBlobError,
  startUpload,
  uploadBlob,
} from '../systems/registry-copy.js'
import type {PromoteState} from './promote-state.js'
import {type CopyConfig, CopyDestination, type Side} from './promote-destination.js'
import {formatBytes} from '../bytes.js'

export type {CopyConfig, CopyReport, Side} from './promote-destination.js'

// promote --to-registry (issue 25 §2): copy the --from image by digest into another registry
// (account, region), then point the --to tags there and verify them, each side with its own
// credentials and clients.

/** Blobs sent at once (docker's and podman's default is 3 as well). */
const PARALLEL_BLOBS = 3
/** Tries per blob for transient failures (a reset, a 5xx), with doubling pauses between: as push's. */
export const COPY_ATTEMPTS = 3
export const COPY_RETRY_BASE_MS = 1000

function copyOf(state: PromoteState): CopyDestination {
  if (state.copy === undefined) throw new Error('promote: a copy step without --to-registry')
  return state.copy
}

/** The side each re-raised error came from (read back through the engine's DeployError by `failedSide`). */
const SIDES = new WeakMap<object, Side>()

/** The side a failure of the promotion came from, if a copy step raised it. */
export function failedSide(failure: unknown): Side | undefined {
  for (let error = failure; typeof error === 'object' && error !== null; error = (error as Error).cause) {
    const side = SIDES.get(error)
    if (side !== undefined) return side
  }
  return undefined
}

function marked(error: unknown, side: Side): unknown {
  if (typeof error === 'object' && error !== null && !SIDES.has(error)) SIDES.set(error, side)
  return error
}

/** `Source <host>/<repository>: ...` or `Destination ...`: every failure of a copy says whose it is. */
function sided(state: PromoteState, side: Side, error: unknown): unknown {
  return marked(namedSide(state, side, error), side)
}

/** Where the destination's credentials come from, and what to change. */
function destinationCredentialsHint(config: CopyConfig): string {
  const {profile, roleArn} = config
  const from =
    profile === undefined
      ? "the source's credentials"
      : `the profile ${profile.value} (from ${profile.source}; aws configure list-profiles, aws sso login --profile ${profile.value})`
  return `The destination's credentials come from ${from}${roleArn === undefined ? '' : `, then the role ${roleArn.value} (from ${roleArn.source})`}: fix them, or name others with --to-profile or --to-role-arn.`
}

function namedSide(state: PromoteState, side: Side, error: unknown): unknown {
  if ((error as Error | undefined)?.name === 'AbortError') return error
  const copy = copyOf(state)
  const where =
    side === 'source'
      ? `Source ${state.registry.value}/${state.repository}`
      : `Destination ${copy.registry.value}/${copy.repository}`
  if (error instanceof SourceBlobError)
    return new RegistryError(
      'malformed',
      `Source ${state.registry.value}/${state.repository}: ${error.message}`,
      {
        hint: 'The source served other bytes than its manifest names, or the connection broke: run again; nothing was committed for that blob.',
      },
    )
  if (!(error instanceof MldeployError) || error.message.startsWith(where)) return error
  // The source's hint (AWS_PROFILE, --dry-run) would send the user to the wrong credentials.
  const hint =
    side === 'destination' && error instanceof AwsError && error.reason.startsWith('credentials-')
      ? destinationCredentialsHint(copy.config)
      : error.hint
  const options = {
    ...(hint === undefined ? {} : {hint}),
    ...(error.detail === undefined ? {} : {detail: error.detail}),
    cause: error,
  }
  const message = `${where}: ${error.message}`
  if (error instanceof AwsError) return new AwsError(error.reason, error.operation, message, options)
  if (error instanceof RegistryError) return new RegistryError(error.reason, message, options)
  if (error instanceof CheckError) return new CheckError(error.reason, message, options)
  return error
}

async function onSide<T>(state: PromoteState, side: Side, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw sided(state, side, error)
  }
}

/** The source of the copy: ECR's API, or the registry's own with the source's login token. */
async function copySource(state: PromoteState): Promise<CopySource> {
  if (!state.registryIsEcr) return registryCopySource(registryAccess(state), state.repository)
  return state.aws.imageSource(state.repository)
}

/** The destination's identity (its own profile or role), account, repository and login token. */
const destinationStep: Step<PromoteState> = {
  id: 'destination',
  title: 'Destination identity and repository',
  failure: 'preflight',
  describe(state) {
    const copy = copyOf(state)
    const where = `region ${copy.region.value}${copy.config.profile === undefined ? '' : `, profile ${copy.config.profile.value}`}`
    const actions: PlannedAction[] = []
    if (copy.config.roleArn !== undefined)
      actions.push({
        text: `Assume ${copy.config.roleArn.value} for the destination: STS AssumeRole`,
        calls: ['aws:sts:AssumeRole'],
      })
    actions.push({
      text: `Destination identity: STS GetCallerIdentity (${where})`,
      calls: ['aws:sts:GetCallerIdentity'],
    })
    const when = 'the destination identity was read (a dry run may lack credentials)'
    if (copy.registryIsEcr)
      actions.push({
        text: `Destination repository ${copy.repository} exists (and may tags move?): ECR DescribeRepositories`,
        calls: ['aws:ecr:DescribeRepositories'],
        when,
      })
    actions.push({
      text: `A login token for ${copy.registry.value}: ECR GetAuthorizationToken (${where})`,
      calls: ['aws:ecr:GetAuthorizationToken'],
      when,
    })
    return {actions, commands: []}
  },
  async run(state, io) {
    const copy = copyOf(state)
    const {dryRun} = state.config.push
    let identity
    try {
      identity = await copy.aws.identity(io.signal)
    } catch (error) {
      if (!dryRun) throw sided(state, 'destination', error)
      state.warn(
        `No AWS credentials could be used for the destination (${errorMessage(error).split('\n')[0]!.replace(/\.$/, '')}): what the copy would send and the digests of ${state.config.to.join(', ')} there are unknown.`,
      )
      return
    }
    const expected = copy.destination.ecr?.account
    if (expected !== undefined && identity.account !== expected)
      throw sided(
        state,
        'destination',
        new CheckError(
          'wrong-account',
          `The destination credentials belong to account ${identity.account}, not ${expected} (the account of ${copy.registry.value}).`,
          {hint: 'Give the destination its own credentials: --to-profile or --to-role-arn.'},
        ),
      )
    copy.account = identity.account
    if (copy.sameRegistry && copy.repository === state.repository)
      throw new CheckError(
        'same-repository',
        `--to-registry names the source repository itself (${copy.registry.value}/${copy.repository}).`,
        {hint: 'Drop --to-registry to move tags within the repository, or name another repository.'},
      )
    await onSide(state, 'destination', async () => {
      if (copy.registryIsEcr)
        copy.mutability = (
          await copy.aws.repository(copy.repository, identity.account, undefined, io.signal)
        ).mutability
      copy.authorization = await copy.aws.authorization(state.secrets, io.signal)
    })
    io.output(
      `destination account ${identity.account}; repository ${copy.registry.value}/${copy.repository}${copy.mutability === undefined ? '' : ` (${copy.mutability})`}`,
    )
  },
}

/**
 * The --from digest at the source, the --to digests at the destination (and so what each tag
 * will do), the image's manifests read from the source, and a HEAD of every blob at the
 * destination: what the copy will send.
 */
const resolveCopyStep: Step<PromoteState> = {
  id: 'resolve',
  title: 'Read the tags and what the destination lacks',
  failure: 'preflight',
  describe(state) {
    const copy = copyOf(state)
    const when = 'both identities were read (a dry run may lack credentials)'
    const source: PlannedAction = state.registryIsEcr
      ? {
          text: `Digest of ${state.config.from}: ECR DescribeImages; its manifests: ECR BatchGetImage`,
          calls: ['aws:ecr:DescribeImages', 'aws:ecr:BatchGetImage'],
        }
      : {
          text: `Digest of ${state.config.from} and its manifests: registry API of ${state.registry.value} (HEAD, GET manifest)`,
          calls: [registryCalls.headManifest(state.repository), registryCalls.getManifest(state.repository)],
        }
    const destination: PlannedAction = copy.registryIsEcr
      ? {
          text: `Digests of ${state.config.to.join(', ')} at the destination: ECR DescribeImages`,
          calls: ['aws:ecr:DescribeImages'],
        }
      : {
          text: `Digests of ${state.config.to.join(', ')} at the destination: registry API of ${copy.registry.value} (HEAD manifest)`,
          calls: [registryCalls.headManifest(copy.repository)],
        }
    return {
      actions: [
        {...source, when},
        {...destination, when},
        {
          text: `Which blobs ${copy.registry.value}/${copy.repository} lacks: HEAD of each blob (nothing is written)`,
          calls: [copyCalls.headBlob(copy.repository)],
          when,
        },
      ],
      commands: [],
    }
  },
  async run(state, io) {
    const copy = copyOf(state)
    if (state.account === undefined || copy.account === undefined) return
    const from = state.config.from
    const found = await onSide(state, 'source', () => tagDigests(state, [from], io.signal))
    state.digests = found
    const digest = state.digest
    if (digest === undefined)
      throw sided(
        state,
        'source',
        new CheckError(
          'tag-missing',
          `Tag ${from} does not exist in ${state.registry.value}/${state.repository}.`,
          {
            hint: 'Check --from (the tag to promote) and the repository (--repository, --registry, --region).',
          },
        ),
      )
    const there = await onSide(state, 'destination', () => tagDigests(copy, state.config.to, io.signal))
    for (const each of state.tags) {
      const previous = there.get(each.tag)
      each.previousDigest = previous ?? null
      each.change = previous === undefined ? 'created' : previous === digest ? 'unchanged' : 'moved'
      io.output(`${each.tag}: ${each.change}`)
    }
    const blocked =
      copy.mutability === 'IMMUTABLE' ? state.tags.find((each) => each.change === 'moved') : undefined
    if (blocked !== undefined)
      throw sided(
        state,
        'destination',
        new CheckError(
          'tag-taken',
          `Tag ${blocked.tag} already exists in the immutable repository ${copy.repository} (image ${blocked.previousDigest}); it cannot be moved to ${digest}.`,
          {hint: 'Promote to a new tag, or make the destination repository mutable.'},
        ),
      )
    const source = await onSide(state, 'source', () => copySource(state))
    const tree = await onSide(state, 'source', () =>
      readImageTree(source, digest, `${state.registry.value}/${state.repository}@${digest}`, io.signal),
    )
    copy.tree = tree
    const access = registryAccess(copy)
    const missing: Descriptor[] = []
    await onSide(state, 'destination', async () => {
      for (const blob of tree.blobs)
        if (!(await blobPresent(access, copy.repository, blob.digest, io.signal))) missing.push(blob)
    })
    copy.missing = missing
    const bytes = missing.reduce((total, blob) => total + blob.size, 0)
    if (tree.foreign.length > 0)
      state.warn(
        `${tree.foreign.length} foreign layer(s) (with download URLs of their own) are not copied, as registries do not hold them.`,
      )
    io.output(
      `${tree.manifests.length} manifest(s), ${tree.blobs.length} blob(s); the destination lacks ${missing.length} (${formatBytes(bytes)})`,
    )
  },
}

/** Every missing blob (mounted, or streamed from the source), then the manifests by digest, children first. */
const copyStep: Step<PromoteState> = {
  id: 'copy',
  title: 'Copy the image (missing blobs, then manifests)',
  failure: 'push',
  describe(state) {
    const copy = copyOf(state)
    const missing = copy.missing
    const count =
      missing === undefined
        ? 'every blob the destination lacks'
        : `${missing.length} blob(s), ${formatBytes(missing.reduce((total, blob) => total + blob.size, 0))}`
    const read: PlannedAction = state.registryIsEcr
      ? {
          text: `Read each from the source: ECR GetDownloadUrlForLayer, then GET of its URL (streamed)`,
          calls: ['aws:ecr:GetDownloadUrlForLayer'],
        }
      : {
          text: `Read each from the source: registry API of ${state.registry.value} (GET blob, streamed)`,
          calls: [copyCalls.getBlob(state.repository)],
        }
    const upload: PlannedAction = {
      text: `Send ${count} to ${copy.registry.value}/${copy.repository}: POST upload, PATCH the bytes as they are read (checked against the digest), PUT to close`,
      calls: [
        copyCalls.postUpload(copy.repository),
        copyCalls.patchUpload(copy.repository),
        copyCalls.putUpload(copy.repository),
      ],
    }
    const when = 'a blob is missing at the destination'
    const actions: PlannedAction[] = copy.sameRegistry
      ? [
          {
            text: `Mount each from ${state.repository} (same registry: nothing is sent)`,
            calls: [copyCalls.postUpload(copy.repository)],
            when,
          },
          {...read, when: 'the registry does not mount a blob'},
          {...upload, when: 'the registry does not mount a blob'},
        ]
      : [
          {...read, when},
          {...upload, when},
        ]
    actions.push({
      text: `Put the manifests by digest (${copy.tree?.manifests.length ?? 'the image and any index children'}; children first)`,
      calls: [copyCalls.putManifest(copy.repository)],
    })
    return {actions, commands: []}
  },
  async run(state, io) {
    const copy = copyOf(state)
    const tree = copy.tree
    const missing = copy.missing
    if (tree === undefined || missing === undefined)
      throw new CheckError('no-image', 'There is no image to copy.')
    const access = registryAccess(copy)
    const source = await onSide(state, 'source', () => copySource(state))
    const total = tree.blobs.length
    const existing = total - missing.length
    let done = existing
    io.progress?.({unit: 'blobs', done, total, existing})
    const queue = [...missing]
    const once = async (blob: Descriptor): Promise<void> => {
      let upload: string | undefined
      if (copy.sameRegistry) {
        const mounted = await onSide(state, 'destination', () =>
          mountBlob(access, copy.repository, blob.digest, state.repository, io.signal),
        )
        if (mounted.mounted) {
          copy.mountedBlobs++
          io.output(`mounted ${blob.digest} (${formatBytes(blob.size)})`)
          return
        }
        upload = mounted.upload
      }
      upload ??= await onSide(state, 'destination', () => startUpload(access, copy.repository, io.signal))
      const stream = await onSide(state, 'source', () => source.openBlob(blob.digest, io.signal))
      let sent = 0
      await onSide(state, 'destination', () =>
        uploadBlob(access, copy.repository, upload, blob, stream, io.signal, (bytes) => {
          sent += bytes
        }),
      )
      copy.uploadedBlobs++
      copy.uploadedBytes += sent
      io.output(`sent ${blob.digest} (${formatBytes(sent)})`)
    }
    // A transient failure (a reset, a 5xx) gets a fresh upload; others fail the copy at once.
    const one = async (blob: Descriptor): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await once(blob)
        } catch (error) {
          const transient = error instanceof RegistryError && error.reason === 'transient'
          if (!transient || io.signal.aborted || attempt >= COPY_ATTEMPTS) throw error
          const pause = COPY_RETRY_BASE_MS * 2 ** (attempt - 1)
          io.output(
            `${error.message} Trying again in ${pause / 1000} s (attempt ${attempt + 1} of ${COPY_ATTEMPTS}).`,
          )
          await sleep(pause, undefined, {signal: io.signal}).catch(() => undefined)
          if (io.signal.aborted) throw error
        }
      }
    }
    const worker = async (): Promise<void> => {
      for (let blob = queue.shift(); blob !== undefined; blob = queue.shift()) {
        await one(blob)
        done++
        io.progress?.({unit: 'blobs', done, total, existing})
      }
    }
    // One failure stops the others at their next blob; the first failure is the one reported.
    const workers = Array.from({length: Math.min(PARALLEL_BLOBS, queue.length)}, () =>
      worker().catch((error: unknown) => {
        queue.length = 0
        throw error
      }),
    )
    const settled = await Promise.allSettled(workers)
    const failed = settled.find((each): each is PromiseRejectedResult => each.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    for (const manifest of tree.manifests)
      await onSide(state, 'destination', () =>
        putManifest(access, copy.repository, manifest.digest, manifest, io.signal),
      )
    io.output(
      `${copy.uploadedBlobs} blob(s) sent (${formatBytes(copy.uploadedBytes)}), ${copy.mountedBlobs} mounted, ${existing} already there; ${tree.manifests.length} manifest(s) put`,
    )
  },
}

/** A shared step (tag, verify) run on the destination, its failures named as the destination's. */
function onDestination(step: Step<CopyDestination>): Step<PromoteState> {
  return {
    ...step,
    describe: (state) => step.describe(copyOf(state)),
    run: (state, io) => onSide(state, 'destination', () => step.run(copyOf(state), io)),
  }
}

/** Source identity (promote-steps.ts) first, then these: read-only first (a dry run walks only those). */
export const COPY_CHECKS: readonly Step<PromoteState>[] = [destinationStep, resolveCopyStep]
export const COPY_CHANGES: readonly Step<PromoteState>[] = [
  copyStep,
  onDestination(tagStep<CopyDestination>('Point the --to tags at the destination (no upload)')),
  onDestination(verifyStep<CopyDestination>()),
]
