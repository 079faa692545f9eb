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
 * Point `tag` at the image with `digest` without uploading anything: read its manifest
 * (BatchGetImage) and put it back under the new tag (PutImage).
 */
export async function retag(
  api: EcrApi,
  repository: string,
  digest: string,
  tag: string,
  signal?: AbortSignal,
): Promise<void> {
  const {BatchGetImageCommand, PutImageCommand} = await ecrModule()
  const client = await api.client()
  let manifest: string | undefined
  let mediaType: string | undefined
  try {
    const out = await client.send(
      new BatchGetImageCommand({
        repositoryName: repository,
        imageIds: [{imageDigest: digest}],
        acceptedMediaTypes: MANIFEST_MEDIA_TYPES,
      }),
      api.options(signal),
    )
    manifest = out.images?.[0]?.imageManifest
    mediaType = out.images?.[0]?.imageManifestMediaType
  } catch (error) {
    throw api.fail(
      error,
      'ecr:BatchGetImage',
      `Reading the manifest of ${repository}@${digest} (BatchGetImage)`,
    )
  }
  if (manifest === undefined) {
    throw new AwsError(
      'not-found',
      'ecr:BatchGetImage',
      `ECR has no image ${repository}@${digest} to tag as ${tag}.`,
    )
  }
  try {
    await client.send(
      new PutImageCommand({
        repositoryName: repository,
        imageManifest: manifest,
        ...(mediaType === undefined ? {} : {imageManifestMediaType: mediaType}),
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

// --- push-only roles (issue 12) ---

/**
 * The digest each tag names, read with BatchGetImage (a missing tag is left out): how
 * a role without ecr:DescribeImages (AWS's documented push policy has none) verifies its tags.
 */
export async function digestsByTag(
  api: EcrApi,
  repository: string,
  tags: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, string>> {
  const {BatchGetImageCommand} = await ecrModule()
  const client = await api.client()
  // One call per tag: the answer's imageId is then the tag's image (moto names every image by
  // the last tag it was given, so a batched answer cannot be matched back reliably).
  return perTag(tags, async (tag) => {
    try {
      const out = await client.send(
        new BatchGetImageCommand({
          repositoryName: repository,
          imageIds: [{imageTag: tag}],
          acceptedMediaTypes: MANIFEST_MEDIA_TYPES,
        }),
        api.options(signal),
      )
      return out.images?.[0]?.imageId?.imageDigest
    } catch (error) {
      throw api.fail(error, 'ecr:BatchGetImage', `Reading ${repository}:${tag} (BatchGetImage)`)
    }
  })
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
