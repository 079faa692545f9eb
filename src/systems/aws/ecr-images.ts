import type {BatchGetImageCommandOutput} from '@aws-sdk/client-ecr'

import {AwsError} from '../../errors.js'
import {MANIFEST_MEDIA_TYPES} from '../media-types.js'
import {errorName} from './errors.js'
import {type EcrApi, errorText} from './session.js'
import {ecrModule} from './sdk.js'

/** ECR images by tag: what tags name (DescribeImages, BatchGetImage) and moving a tag (PutImage). */
export interface ImageFacts {
  digest: string
  sizeBytes: number | null
  pushedAt: string | null
  tags: string[]
}

/** What the repository holds under each of these tags (absent tags are left out). */
export async function imagesByTag(
  api: EcrApi,
  repository: string,
  tags: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, ImageFacts>> {
  const {DescribeImagesCommand} = await ecrModule()
  const client = await api.client()
  // One call per tag: DescribeImages fails the whole call when any listed tag is missing.
  return perTag(tags, async (tag) => {
    try {
      const out = await client.send(
        new DescribeImagesCommand({repositoryName: repository, imageIds: [{imageTag: tag}]}),
        api.options(signal),
      )
      const detail = out.imageDetails?.[0]
      if (detail?.imageDigest === undefined) return undefined
      return {
        digest: detail.imageDigest,
        sizeBytes: detail.imageSizeInBytes ?? null,
        pushedAt: detail.imagePushedAt?.toISOString() ?? null,
        tags: detail.imageTags ?? [],
      }
    } catch (error) {
      if (errorName(error) === 'ImageNotFoundException') return undefined
      throw api.fail(error, 'ecr:DescribeImages', `Describing ${repository}:${tag} (DescribeImages)`)
    }
  })
}

/**
 * Every tag's image in one DescribeImages (issue 23: one call per repository, where it was one per
 * tag). DescribeImages fails the whole call when any listed tag is missing, so this is for tags
 * expected to exist (the verify step's read-back); when one is missing, each tag is read alone,
 * which names it.
 */
export async function imagesOfTags(
  api: EcrApi,
  repository: string,
  tags: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, ImageFacts>> {
  if (tags.length < 2) return imagesByTag(api, repository, tags, signal)
  const {DescribeImagesCommand} = await ecrModule()
  const client = await api.client()
  let details
  try {
    const out = await client.send(
      new DescribeImagesCommand({repositoryName: repository, imageIds: tags.map((imageTag) => ({imageTag}))}),
      api.options(signal),
    )
    details = out.imageDetails ?? []
  } catch (error) {
    if (errorName(error) === 'ImageNotFoundException') return imagesByTag(api, repository, tags, signal)
    throw api.fail(error, 'ecr:DescribeImages', `Describing ${repository}:${tags.join(',')} (DescribeImages)`)
  }
  // An image is described once whatever the number of its tags asked for: matched by its tags.
  const found = new Map<string, ImageFacts>()
  for (const detail of details) {
    if (detail.imageDigest === undefined) continue
    const facts = {
      digest: detail.imageDigest,
      sizeBytes: detail.imageSizeInBytes ?? null,
      pushedAt: detail.imagePushedAt?.toISOString() ?? null,
      tags: detail.imageTags ?? [],
    }
    for (const tag of facts.tags) if (tags.includes(tag)) found.set(tag, facts)
  }
  return found
}

/** A manifest as ECR holds it: what PutImage puts under another tag. */
export interface EcrManifest {
  manifest: string
  mediaType: string | undefined
}

/** What one BatchGetImage read: the digest each tag names (missing tags left out), and a manifest. */
export interface TagPointers {
  digests: Map<string, string>
  /** The manifest of the digest asked for (`manifestOf`); undefined when none was asked for. */
  manifest: EcrManifest | undefined
}

/** BatchGetImage's answer for an id that does not exist: the tag is absent, nothing failed. */
const ABSENT = new Set(['ImageTagDoesNotExist', 'ImageNotFound'])

/**
 * The digest each tag names, and the manifest of `manifestOf` when asked, in ONE BatchGetImage
 * (issue 23: the tag step read the tags with a DescribeImages each and the manifest once per tag).
 * Unlike DescribeImages, a missing tag is a failure entry, not a failed call. Each image in the
 * answer is matched to its tag by the `imageTag` ECR names it with (the one asked for; moto names
 * an image by its last tag, always one of its own); a tag the answer names no image for, and
 * that did not fail, is the image of every answer when they all have one digest, else it is read
 * alone (one more call per such tag: only seen with moto, for images of several tags).
 */
export async function tagPointers(
  api: EcrApi,
  repository: string,
  tags: readonly string[],
  manifestOf?: string,
  signal?: AbortSignal,
): Promise<TagPointers> {
  const imageIds = [
    ...(manifestOf === undefined ? [] : [{imageDigest: manifestOf}]),
    ...tags.map((imageTag) => ({imageTag})),
  ]
  if (imageIds.length === 0) return {digests: new Map(), manifest: undefined}
  const doing =
    manifestOf === undefined
      ? `Reading ${repository}:${tags.join(',')} (BatchGetImage)`
      : `Reading the manifest of ${repository}@${manifestOf}${tags.length === 0 ? '' : ` and ${tags.join(',')}`} (BatchGetImage)`
  const out = await batchGet(api, repository, imageIds, doing, signal)
  const images = out.images ?? []
  const absent = new Set<string>()
  for (const failure of out.failures ?? []) {
    if (ABSENT.has(failure.failureCode ?? '')) {
      // A missing tag is an answer; a missing manifestOf is said below (moto names no digest).
      const tag = failure.imageId?.imageTag
      if (tag !== undefined && tags.includes(tag)) absent.add(tag)
      continue
    }
    throw new AwsError(
      'failed',
      'ecr:BatchGetImage',
      `${doing}: ECR answered ${failure.failureCode ?? 'a failure'}${failure.failureReason === undefined ? '' : ` (${api.redact(failure.failureReason)})`}.`,
    )
  }
  const digests = new Map<string, string>()
  for (const image of images) {
    const {imageTag, imageDigest} = image.imageId ?? {}
    if (
      imageTag !== undefined &&
      imageDigest !== undefined &&
      tags.includes(imageTag) &&
      !absent.has(imageTag)
    )
      digests.set(imageTag, imageDigest)
  }
  const unmatched = tags.filter((tag) => !absent.has(tag) && !digests.has(tag))
  const answered = new Set(images.map((image) => image.imageId?.imageDigest))
  const only = answered.size === 1 ? [...answered][0] : undefined
  for (const tag of unmatched) {
    const digest = only ?? (await alone(api, repository, tag, signal))
    if (digest !== undefined) digests.set(tag, digest)
  }
  const image =
    manifestOf === undefined ? undefined : images.find((each) => each.imageId?.imageDigest === manifestOf)
  if (manifestOf !== undefined && image?.imageManifest === undefined)
    throw new AwsError('not-found', 'ecr:BatchGetImage', `ECR has no image ${repository}@${manifestOf}.`)
  return {
    digests,
    manifest:
      image?.imageManifest === undefined
        ? undefined
        : {manifest: image.imageManifest, mediaType: image.imageManifestMediaType},
  }
}

/** One tag alone: the answer's image is then that tag's. */
async function alone(
  api: EcrApi,
  repository: string,
  tag: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const out = await batchGet(
    api,
    repository,
    [{imageTag: tag}],
    `Reading ${repository}:${tag} (BatchGetImage)`,
    signal,
  )
  return out.images?.[0]?.imageId?.imageDigest
}

async function batchGet(
  api: EcrApi,
  repository: string,
  imageIds: Array<{imageTag?: string; imageDigest?: string}>,
  doing: string,
  signal?: AbortSignal,
): Promise<BatchGetImageCommandOutput> {
  const {BatchGetImageCommand} = await ecrModule()
  const client = await api.client()
  try {
    return await client.send(
      new BatchGetImageCommand({
        repositoryName: repository,
        imageIds,
        acceptedMediaTypes: MANIFEST_MEDIA_TYPES,
      }),
      api.options(signal),
    )
  } catch (error) {
    throw api.fail(error, 'ecr:BatchGetImage', doing)
  }
}

/** Put a manifest ECR holds under `tag`: a new tag for the same image, nothing uploaded (PutImage). */
export async function putManifest(
  api: EcrApi,
  repository: string,
  digest: string,
  tag: string,
  manifest: EcrManifest,
  signal?: AbortSignal,
): Promise<void> {
  const {PutImageCommand} = await ecrModule()
  const client = await api.client()
  try {
    await client.send(
      new PutImageCommand({
        repositoryName: repository,
        imageManifest: manifest.manifest,
        ...(manifest.mediaType === undefined ? {} : {imageManifestMediaType: manifest.mediaType}),
        imageTag: tag,
      }),
      api.options(signal),
    )
  } catch (error) {
    // The tag already names this very manifest: nothing to do.
    if (errorName(error) === 'ImageAlreadyExistsException') return
    if (errorName(error) === 'ImageTagAlreadyExistsException') {
      throw new AwsError(
        'conflict',
        'ecr:PutImage',
        `Tag ${tag} already exists in the immutable repository ${repository}.`,
        {
          hint: 'Use another tag, or make the repository mutable.',
          detail: api.redact(errorText(error)),
          cause: error,
        },
      )
    }
    throw api.fail(error, 'ecr:PutImage', `Tagging ${repository}@${digest} as ${tag} (PutImage)`)
  }
}

/** `read` for every tag at once; the tags it finds nothing for are left out. */
async function perTag<T>(
  tags: readonly string[],
  read: (tag: string) => Promise<T | undefined>,
): Promise<Map<string, T>> {
  const found = new Map<string, T>()
  await Promise.all(
    tags.map(async (tag) => {
      const value = await read(tag)
      if (value !== undefined) found.set(tag, value)
    }),
  )
  return found
}
