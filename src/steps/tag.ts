import {AwsError, CheckError} from '../errors.js'
import {imageReference} from '../images.js'
import type {EngineState, PlannedAction, PlannedCommand, Step, StepIO} from '../pipeline/step.js'
import type {AwsClients, EcrManifest} from '../systems/aws/index.js'
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
  if (target.registryIsEcr)
    return {
      text: `${reference} -> the image's digest: ECR PutImage of the manifest ${knownManifest(target) === undefined ? 'read above' : 'the check read'}`,
      calls: ['aws:ecr:PutImage'],
    }
  if (knownManifest(target) !== undefined)
    return {
      text: `${reference} -> the image's digest: registry API of ${target.registry.value} (PUT of the manifest the check read)`,
      calls: [registryCalls.putManifest(target.repository)],
    }
  return {
    text: `${reference} -> the image's digest: registry API of ${target.registry.value} (GET + PUT manifest)`,
    calls: [registryCalls.getManifest(target.repository), registryCalls.putManifest(target.repository)],
  }
}

/** The manifest an earlier step read, when it is the image's. */
function knownManifest(target: TagTarget): KnownManifest | undefined {
  const known = target.digestManifest
  return known !== undefined && known.digest === target.digest ? known : undefined
}

/**
 * How the tag step works on ECR (issue 23: one read per repository, the manifest read once):
 * one BatchGetImage reads what the tags point at now (push says which tag moves) and, when no
 * check read it, the image's manifest; then a PutImage per tag. A role without ecr:BatchGetImage
 * reads the tags with DescribeImages (when it may) and, with no manifest known, tags through the
 * backend.
 */
interface EcrTagPlan {
  readBefore: 'batch' | 'describe' | 'none'
  readManifest: boolean
  backend: boolean
}

function ecrPlan(target: TagTarget, tags: string[]): EcrTagPlan {
  const denied = target.denied ?? new Set<string>()
  const batchDenied = denied.has(BATCH_GET)
  const backend = knownManifest(target) === undefined && batchDenied && target.runBackendTag !== undefined
  const readBefore =
    target.onTagChange === undefined || tags.length === 0
      ? 'none'
      : !batchDenied
        ? 'batch'
        : denied.has(DESCRIBE_IMAGES)
          ? 'none'
          : 'describe'
  return {readBefore, readManifest: knownManifest(target) === undefined && !backend, backend}
}

const BEFORE_WHY = '(to say which tag moves, from which digest)'

/** Push says which tags move: what they point at before (a push-only role may not read it). */
function readBefore(target: TagTarget, tags: string[]): PlannedAction[] {
  if (target.onTagChange === undefined || tags.length === 0) return []
  const text = `What ${tags.join(', ')} point at now ${BEFORE_WHY}`
  if (!target.registryIsEcr)
    return [
      {text: `${text}: registry API (HEAD manifest)`, calls: [registryCalls.headManifest(target.repository)]},
    ]
  if (ecrPlan(target, tags).readBefore !== 'describe') return []
  return [{text: `${text}: ECR DescribeImages`, calls: tags.map(() => `aws:${DESCRIBE_IMAGES}`)}]
}

/** The one BatchGetImage of the tag step on ECR, and the calls it may need after it. */
function ecrRead(target: TagTarget, tags: string[]): PlannedAction[] {
  const plan = ecrPlan(target, tags)
  const batch = plan.readBefore === 'batch'
  if (!batch && !plan.readManifest) return []
  const what = batch
    ? `${plan.readManifest ? "The image's manifest, and what" : 'What'} ${tags.join(', ')} point at now ${BEFORE_WHY}`
    : "The image's manifest"
  const read: PlannedAction = {text: `${what}: ECR BatchGetImage (one call)`, calls: [`aws:${BATCH_GET}`]}
  if (!batch) return [read]
  return [
    read,
    {
      text: 'A tag the answer names no image for: ECR BatchGetImage of that tag alone',
      calls: [`aws:${BATCH_GET}`],
      when: 'the answer names an image by another of its tags and holds several images',
    },
  ]
}

/** The check's manifest as ECR's PutImage takes it. */
function knownEcrManifest(target: TagTarget): EcrManifest | undefined {
  const known = knownManifest(target)
  if (known === undefined) return undefined
  // 'unknown' is what the check says when ECR named no media type and the manifest declares none.
  return {
    manifest: known.raw.toString('utf8'),
    mediaType: known.mediaType === 'unknown' ? undefined : known.mediaType,
  }
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
      if (!target.registryIsEcr)
        return {
          actions: [...readBefore(target, tags), ...tags.map((tag) => tagAction(target, tag))],
          commands: [],
        }
      const plan = ecrPlan(target, tags)
      const backendCommands = (tag: string): PlannedCommand[] => target.backendTagCommands?.(tag) ?? []
      // A role without ecr:BatchGetImage and no manifest known: the backend pushes the manifest under each tag.
      if (plan.backend) return {actions: readBefore(target, tags), commands: tags.flatMap(backendCommands)}
      return {
        actions: [
          ...readBefore(target, tags),
          ...ecrRead(target, tags),
          ...tags.map((tag) => tagAction(target, tag)),
        ],
        commands: plan.readManifest
          ? tags.flatMap((tag) =>
              backendCommands(tag).map((command) => ({
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
      const tags = target.tagsToPoint()
      if (target.registryIsEcr) return tagOnEcr(target, digest, tags, io)
      const before = await digestsBefore(target, tags, io)
      for (const tag of tags) {
        await retagManifest(
          registryAccess(target),
          target.repository,
          digest,
          tag,
          io.signal,
          knownManifest(target),
        )
        reportTag(target, io, tag, digest, before)
      }
    },
  }
}

async function tagOnEcr(target: TagTarget, digest: string, tags: string[], io: StepIO): Promise<void> {
  if (tags.length === 0) return
  const plan = ecrPlan(target, tags)
  let manifest = knownEcrManifest(target)
  let backend = plan.backend
  let before = plan.readBefore === 'describe' ? await digestsBefore(target, tags, io) : undefined
  if (plan.readBefore === 'batch' || plan.readManifest) {
    try {
      const read = await target.aws.tagPointers(
        target.repository,
        plan.readBefore === 'batch' ? tags : [],
        plan.readManifest ? digest : undefined,
        io.signal,
      )
      if (plan.readBefore === 'batch') before = read.digests
      manifest ??= read.manifest
    } catch (error) {
      if (!deniedFor(error, BATCH_GET) || target.runBackendTag === undefined) throw error
      target.deny?.(BATCH_GET)
      backend = manifest === undefined
      target.warn?.(
        backend
          ? `${BATCH_GET} is denied: the other tags are pushed through the backend (only the manifest travels).`
          : `${BATCH_GET} is denied: which tags moved, and from which digest, is not known.`,
      )
    }
  }
  for (const tag of tags) {
    if (backend) await target.runBackendTag!(tag, io)
    else if (manifest === undefined)
      throw new CheckError('no-image', `There is no manifest of ${digest} to tag.`)
    else await target.aws.putManifest(target.repository, digest, tag, manifest, io.signal)
    reportTag(target, io, tag, digest, before)
  }
}

/** One tag done: the target is told, and the output says from which digest it moved (when known). */
function reportTag(
  target: TagTarget,
  io: StepIO,
  tag: string,
  digest: string,
  before: Map<string, string> | undefined,
): void {
  const reference = imageReference(target.registry.value, target.repository, tag)
  target.onTagged(reference, tag)
  if (before === undefined) {
    io.output(`${reference} -> ${digest}`)
    return
  }
  const previousDigest = before.get(tag) ?? null
  const change = previousDigest === null ? 'created' : previousDigest === digest ? 'unchanged' : 'moved'
  target.onTagChange?.({tag, change, previousDigest, digest})
  io.output(
    `${reference} -> ${digest} (${change === 'moved' ? `moved from ${previousDigest}` : change === 'created' ? 'new tag' : 'already there'})`,
  )
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
              text: `Every tag (${tags.join(', ')}) points at the image: registry API of ${target.registry.value} (HEAD manifest of each, at once)`,
              calls: [registryCalls.headManifest(target.repository)],
            },
          ],
          commands: [],
        }
      }
      const denied = target.denied ?? new Set<string>()
      const every = `Every tag (${tags.join(', ')}) points at the image`
      const byBatchGet: PlannedAction = {
        text: `${every}: ECR BatchGetImage, one call (the manifest digests)`,
        calls: [`aws:${BATCH_GET}`],
      }
      const actions: PlannedAction[] = []
      if (!denied.has(DESCRIBE_IMAGES)) {
        actions.push({text: `${every}: ECR DescribeImages, one call`, calls: [`aws:${DESCRIBE_IMAGES}`]})
        if (tags.length > 1)
          actions.push({
            text: 'A tag not found: ECR DescribeImages of each tag alone, to say which',
            calls: tags.map(() => `aws:${DESCRIBE_IMAGES}`),
            when: 'one of the tags is missing',
          })
      }
      // Only a target that can do without a permission (push) falls back; promote fails instead.
      if (!denied.has(BATCH_GET) && target.deny !== undefined)
        actions.push(
          denied.has(DESCRIBE_IMAGES) ? byBatchGet : {...byBatchGet, when: `${DESCRIBE_IMAGES} is denied`},
          {
            text: 'A tag the answer names no image for: ECR BatchGetImage of that tag alone',
            calls: [`aws:${BATCH_GET}`],
            when: 'the answer names an image by another of its tags and holds several images',
          },
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

/** One HEAD per tag, all at once (a registry has no batch read); the answers in the tags' order. */
async function readRegistryTags(target: TagTarget, tags: string[], io: StepIO): Promise<TagFacts> {
  const access = registryAccess(target)
  const digests = await Promise.all(
    tags.map((tag) => manifestDigest(access, target.repository, tag, io.signal)),
  )
  return new Map(tags.map((tag, index) => [tag, {digest: digests[index], sizeBytes: null, pushedAt: null}]))
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
      const images = await target.aws.imagesOfTags(target.repository, tags, io.signal)
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
      const {digests} = await target.aws.tagPointers(target.repository, tags, undefined, io.signal)
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
