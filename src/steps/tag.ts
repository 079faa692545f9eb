import {CheckError} from '../errors.js'
import {imageReference} from '../images.js'
import type {EngineState, PlannedAction, Step} from '../pipeline/step.js'
import type {AwsClients} from '../systems/aws/index.js'
import {manifestDigest, type RegistryAccess, registryCalls, retagManifest} from '../systems/registry-api.js'

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
  /** Tags to point at `digest` (without upload). */
  tagsToPoint(): string[]
  /** Tags that must point at `digest` afterwards. */
  tagsToVerify(): string[]
  onTagged(reference: string, tag: string): void
  onVerified(tag: VerifiedTag, facts: {sizeBytes: number | null; pushedAt: string | null}): void
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

/** Point every tag at the image without another upload: N tags cost one push. */
export function tagStep<S extends TagTarget>(title = 'Add the other tags (no upload)'): Step<S> {
  return {
    id: 'tag',
    title,
    failure: 'push',
    describe(target) {
      const tags = target.tagsToPoint()
      return {
        actions:
          tags.length > 0 ? tags.map((tag) => tagAction(target, tag)) : [{text: 'no other tags', calls: []}],
        commands: [],
      }
    },
    async run(target, io) {
      const digest = target.digest
      if (digest === undefined) throw new CheckError('no-image', 'There is no image to tag.')
      for (const tag of target.tagsToPoint()) {
        if (target.registryIsEcr) await target.aws.retag(target.repository, digest, tag, io.signal)
        else await retagManifest(registryAccess(target), target.repository, digest, tag, io.signal)
        const reference = imageReference(target.registry.value, target.repository, tag)
        target.onTagged(reference, tag)
        io.output(`${reference} -> ${digest}`)
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
      const action: PlannedAction = target.registryIsEcr
        ? {
            text: `Every tag (${tags.join(', ')}) points at the image: ECR DescribeImages`,
            calls: ['aws:ecr:DescribeImages'],
          }
        : {
            text: `Every tag (${tags.join(', ')}) points at the image: registry API of ${target.registry.value} (HEAD manifest)`,
            calls: [registryCalls.headManifest(target.repository)],
          }
      return {actions: [action], commands: []}
    },
    async run(target, io) {
      const digest = target.digest
      if (digest === undefined) throw new CheckError('no-image', 'There is no image to verify.')
      const tags = target.tagsToVerify()
      const found = new Map<
        string,
        {digest: string | undefined; sizeBytes: number | null; pushedAt: string | null}
      >()
      if (target.registryIsEcr) {
        const images = await target.aws.imagesByTag(target.repository, tags, io.signal)
        for (const tag of tags) {
          const facts = images.get(tag)
          found.set(tag, {
            digest: facts?.digest,
            sizeBytes: facts?.sizeBytes ?? null,
            pushedAt: facts?.pushedAt ?? null,
          })
        }
      } else {
        const access = registryAccess(target)
        for (const tag of tags) {
          const actual = await manifestDigest(access, target.repository, tag, io.signal)
          found.set(tag, {digest: actual, sizeBytes: null, pushedAt: null})
        }
      }
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
