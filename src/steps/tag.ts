import {AwsError, CheckError} from '../errors.js'
import {imageReference} from '../images.js'
import type {EngineState, PlannedAction, PlannedCommand, Step, StepIO} from '../pipeline/step.js'
import type {AwsClients} from '../systems/aws/index.js'
import {
  type KnownManifest,
  manifestDigest,
  type RegistryAccess,
  registryCalls,
  retagManifest,
} from '../systems/registry-api.js'

/** What a tagged or verified tag reports. */
export interface VerifiedTag {
  tag: string
  digest: string
  /** `<registry>/<repository>:<tag>` */
  reference: string
  /** `<registry>/<repository>@<digest>` */
  byDigest: string
}

/**
 * What the tag and verify steps need from a run: push (the other tags point at the uploaded
 * image) and promote (the --to tags point at the --from image) both walk these same two steps.
 */
export interface TagTarget extends EngineState {
  readonly repository: string
  readonly registry: {value: string}
  readonly registryIsEcr: boolean
  readonly registryScheme: string
  readonly aws: AwsClients
  readonly authorization: {username: string; password: string} | undefined
  /** The image every tag must point at; undefined until an earlier step knows it. */
  readonly digest: string | undefined
  /** Issue 23: its manifest, when an earlier step read it (push's check): the tag step does not read it again. */
  readonly digestManifest?: KnownManifest | undefined
  /** Tags to point at `digest` (without upload). */
  tagsToPoint(): string[]
  /** Tags that must point at `digest` afterwards. */
  tagsToVerify(): string[]
  onTagged(reference: string, tag: string): void
  onVerified(tag: VerifiedTag, facts: {sizeBytes: number | null; pushedAt: string | null}): void

  // --- push-only roles (issue 12): optional, push provides them, promote does not ---
  /** AWS operations refused so far: later calls do without them. */
  readonly denied?: ReadonlySet<string>
  deny?(operation: string): void
  warn?(message: string): void
  /** Add a tag through the backend (only the manifest travels) when ecr:BatchGetImage is denied. */
  backendTagCommands?(tag: string): PlannedCommand[]
  runBackendTag?(tag: string, io: StepIO): Promise<void>
  /** Push (issue 16): says which tags move, from which digest (promote reads that in its own check). */
  onTagChange?(change: TagChange): void
  /** Nothing may read the tags back: the result says so instead of failing. */
  onUnverified?(verification: {verified: false; by: null; missingPermission: string}): void
}

/** A tag the tag step pointed at the image: new, moved from another digest, or already there. */
export interface TagChange {
  tag: string
  change: 'created' | 'moved' | 'unchanged'
  previousDigest: string | null
  digest: string
}

const BATCH_GET = 'ecr:BatchGetImage'
const DESCRIBE_IMAGES = 'ecr:DescribeImages'

/** An AccessDenied for `operation`: the role lacks that permission (other failures stay failures). */
export function deniedFor(error: unknown, operation: string): boolean {
  return error instanceof AwsError && error.reason === 'access-denied' && error.operation === operation
}

/** The registry's own API, with this run's ECR token, for pushes that do not go to ECR's endpoint. */
export function registryAccess(target: TagTarget): RegistryAccess {
  const authorization = target.authorization
  if (authorization === undefined)
    throw new CheckError('no-token', 'No ECR login token: the preflight did not fetch one.')
  return {
    scheme: target.registryScheme,
    host: target.registry.value,
    username: authorization.username,
    password: authorization.password,
  }
}

function tagAction(target: TagTarget, tag: string): PlannedAction {
  const reference = imageReference(target.registry.value, target.repository, tag)
  if (!target.registryIsEcr && knownManifest(target) !== undefined)
    return {
      text: `${reference} -> the image's digest: registry API of ${target.registry.value} (PUT of the manifest the check read)`,
      calls: [registryCalls.putManifest(target.repository)],
    }
  return target.registryIsEcr
    ? {
        text: `${reference} -> the image's digest: ECR BatchGetImage + PutImage`,
        calls: ['aws:ecr:BatchGetImage', 'aws:ecr:PutImage'],
      }
    : {
        text: `${reference} -> the image's digest: registry API of ${target.registry.value} (GET + PUT manifest)`,
        calls: [registryCalls.getManifest(target.repository), registryCalls.putManifest(target.repository)],
      }
}

/** The manifest an earlier step read, when it is the image's. */
function knownManifest(target: TagTarget): KnownManifest | undefined {
  const known = target.digestManifest
  return known !== undefined && known.digest === target.digest ? known : undefined
}

/** Push says which tags move: what they point at before (a push-only role may not read it). */
function readBefore(target: TagTarget, tags: string[]): PlannedAction[] {
  if (target.onTagChange === undefined || tags.length === 0) return []
  const text = `What ${tags.join(', ')} point at now (to say which tag moves, from which digest)`
  if (!target.registryIsEcr)
    return [
      {text: `${text}: registry API (HEAD manifest)`, calls: [registryCalls.headManifest(target.repository)]},
    ]
  if (target.denied?.has(DESCRIBE_IMAGES) === true) return []
  return [{text: `${text}: ECR DescribeImages`, calls: tags.map(() => `aws:${DESCRIBE_IMAGES}`)}]
}

/**
 * The digest each tag names now (absent tags left out): ECR DescribeImages, or a HEAD of the
 * manifest per tag on another registry. Push's tag step and promote read tags through it.
 */
export async function tagDigests(
  target: TagTarget,
  tags: readonly string[],
  signal: AbortSignal,
): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  if (target.registryIsEcr) {
    for (const [tag, facts] of await target.aws.imagesByTag(target.repository, tags, signal))
      found.set(tag, facts.digest)
    return found
  }
  const access = registryAccess(target)
  for (const tag of tags) {
    const digest = await manifestDigest(access, target.repository, tag, signal)
    if (digest !== undefined) found.set(tag, digest)
  }
  return found
}

async function digestsBefore(
  target: TagTarget,
  tags: string[],
  io: StepIO,
): Promise<Map<string, string> | undefined> {
  if (target.onTagChange === undefined || tags.length === 0) return undefined
  if (target.registryIsEcr && target.denied?.has(DESCRIBE_IMAGES) === true) return undefined
  try {
    return await tagDigests(target, tags, io.signal)
  } catch (error) {
    if (!deniedFor(error, DESCRIBE_IMAGES)) throw error
    target.deny?.(DESCRIBE_IMAGES)
    return undefined
  }
}

/** Point every tag at the image without another upload: N tags cost one push. */
export function tagStep<S extends TagTarget>(title = 'Add the other tags (no upload)'): Step<S> {
  return {
    id: 'tag',
    title,
    failure: 'push',
    describe(target) {
      const tags = target.tagsToPoint()
      if (tags.length === 0) return {actions: [{text: 'no other tags', calls: []}], commands: []}
      const backend = target.registryIsEcr && target.backendTagCommands !== undefined
      // A role without ecr:BatchGetImage: the backend pushes the manifest under each tag.
      if (backend && target.denied?.has(BATCH_GET) === true)
        return {actions: [], commands: tags.flatMap((tag) => target.backendTagCommands!(tag))}
      return {
        actions: [...readBefore(target, tags), ...tags.map((tag) => tagAction(target, tag))],
        commands: backend
          ? tags.flatMap((tag) =>
              target.backendTagCommands!(tag).map((command) => ({
                ...command,
                when: `${BATCH_GET} is denied (a push-only role)`,
              })),
            )
          : [],
      }
    },
    async run(target, io) {
      const digest = target.digest
      if (digest === undefined) throw new CheckError('no-image', 'There is no image to tag.')
      const before = await digestsBefore(target, target.tagsToPoint(), io)
      for (const tag of target.tagsToPoint()) {
        const reference = imageReference(target.registry.value, target.repository, tag)
        if (!target.registryIsEcr) {
          await retagManifest(
            registryAccess(target),
            target.repository,
            digest,
            tag,
            io.signal,
            knownManifest(target),
          )
        } else if (target.runBackendTag !== undefined && target.denied?.has(BATCH_GET) === true) {
          await target.runBackendTag(tag, io)
        } else {
          try {
            await target.aws.retag(target.repository, digest, tag, io.signal)
          } catch (error) {
            if (!deniedFor(error, BATCH_GET) || target.runBackendTag === undefined) throw error
            target.deny?.(BATCH_GET)
            target.warn?.(
              `${BATCH_GET} is denied: the other tags are pushed through the backend (only the manifest travels).`,
            )
            await target.runBackendTag(tag, io)
          }
        }
        target.onTagged(reference, tag)
        if (before === undefined) {
          io.output(`${reference} -> ${digest}`)
          continue
        }
        const previousDigest = before.get(tag) ?? null
        const change = previousDigest === null ? 'created' : previousDigest === digest ? 'unchanged' : 'moved'
        target.onTagChange?.({tag, change, previousDigest, digest})
        io.output(
          `${reference} -> ${digest} (${change === 'moved' ? `moved from ${previousDigest}` : change === 'created' ? 'new tag' : 'already there'})`,
        )
      }
    },
  }
}

/** Every tag points at the image: read back from the registry, never assumed. */
export function verifyStep<S extends TagTarget>(): Step<S> {
  return {
    id: 'verify',
    title: 'Verify the tags',
    failure: 'push',
    describe(target) {
      const tags = target.tagsToVerify()
      if (!target.registryIsEcr) {
        return {
          actions: [
            {
              text: `Every tag (${tags.join(', ')}) points at the image: registry API of ${target.registry.value} (HEAD manifest)`,
              calls: [registryCalls.headManifest(target.repository)],
            },
          ],
          commands: [],
        }
      }
      const denied = target.denied ?? new Set<string>()
      const byBatchGet: PlannedAction = {
        text: `Every tag (${tags.join(', ')}) points at the image: ECR BatchGetImage (the manifest digests)`,
        calls: [`aws:${BATCH_GET}`],
      }
      const actions: PlannedAction[] = []
      if (!denied.has(DESCRIBE_IMAGES))
        actions.push({
          text: `Every tag (${tags.join(', ')}) points at the image: ECR DescribeImages`,
          calls: [`aws:${DESCRIBE_IMAGES}`],
        })
      // Only a target that can do without a permission (push) falls back; promote fails instead.
      if (!denied.has(BATCH_GET) && target.deny !== undefined)
        actions.push(
          denied.has(DESCRIBE_IMAGES) ? byBatchGet : {...byBatchGet, when: `${DESCRIBE_IMAGES} is denied`},
        )
      if (actions.length === 0)
        actions.push({
          text: `Not verified: ${DESCRIBE_IMAGES} and ${BATCH_GET} are denied (the result says verified: false)`,
          calls: [],
        })
      return {actions, commands: []}
    },
    async run(target, io) {
      const digest = target.digest
      if (digest === undefined) throw new CheckError('no-image', 'There is no image to verify.')
      const tags = target.tagsToVerify()
      const found = target.registryIsEcr
        ? await readEcrTags(target, tags, io)
        : await readRegistryTags(target, tags, io)
      if (found === undefined) return
      for (const [tag, facts] of found) {
        if (facts.digest !== digest) {
          throw new CheckError(
            'tag-moved',
            `Tag ${tag} points at ${facts.digest ?? 'nothing'}, not at ${digest}.`,
            {
              hint: 'Another push may have moved it at the same time; check the repository and run again.',
            },
          )
        }
        const reference = imageReference(target.registry.value, target.repository, tag)
        const byDigest = `${target.registry.value}/${target.repository}@${digest}`
        target.onVerified({tag, digest, reference, byDigest}, facts)
        io.output(`ok ${reference} = ${digest}`)
      }
    },
  }
}

type TagFacts = Map<string, {digest: string | undefined; sizeBytes: number | null; pushedAt: string | null}>

async function readRegistryTags(target: TagTarget, tags: string[], io: StepIO): Promise<TagFacts> {
  const found: TagFacts = new Map()
  const access = registryAccess(target)
  for (const tag of tags) {
    const actual = await manifestDigest(access, target.repository, tag, io.signal)
    found.set(tag, {digest: actual, sizeBytes: null, pushedAt: null})
  }
  return found
}

/**
 * DescribeImages (digest, size, push time); when the role may not, BatchGetImage (the manifest's
 * digest); when it may do neither, undefined: the target is told nothing could verify the tags.
 */
async function readEcrTags(target: TagTarget, tags: string[], io: StepIO): Promise<TagFacts | undefined> {
  const found: TagFacts = new Map()
  const denied = target.denied ?? new Set<string>()
  if (!denied.has(DESCRIBE_IMAGES)) {
    try {
      const images = await target.aws.imagesByTag(target.repository, tags, io.signal)
      for (const tag of tags) {
        const facts = images.get(tag)
        found.set(tag, {
          digest: facts?.digest,
          sizeBytes: facts?.sizeBytes ?? null,
          pushedAt: facts?.pushedAt ?? null,
        })
      }
      return found
    } catch (error) {
      if (!deniedFor(error, DESCRIBE_IMAGES) || target.deny === undefined) throw error
      target.deny(DESCRIBE_IMAGES)
      io.output(`${DESCRIBE_IMAGES} is denied: verifying with ${BATCH_GET}.`)
    }
  }
  if (!(target.denied ?? denied).has(BATCH_GET)) {
    try {
      const digests = await target.aws.digestsByTag(target.repository, tags, io.signal)
      for (const tag of tags) found.set(tag, {digest: digests.get(tag), sizeBytes: null, pushedAt: null})
      return found
    } catch (error) {
      if (!deniedFor(error, BATCH_GET) || target.deny === undefined) throw error
      target.deny(BATCH_GET)
    }
  }
  if (target.onUnverified === undefined)
    throw new CheckError(
      'unverified',
      `No permission to read the tags back (${DESCRIBE_IMAGES}, ${BATCH_GET}).`,
    )
  const missingPermission = `${BATCH_GET} (or ${DESCRIBE_IMAGES})`
  target.onUnverified({verified: false, by: null, missingPermission})
  target.warn?.(
    `The tags were not verified: this role may not read them back. ${missingPermission} would verify them.`,
  )
  io.output(`not verified: ${DESCRIBE_IMAGES} and ${BATCH_GET} are denied`)
  return undefined
}
