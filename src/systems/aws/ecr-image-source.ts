import type {ECRClient} from '@aws-sdk/client-ecr'

import {AwsError} from '../../errors.js'
import {ecrModule} from './sdk.js'
import {recordAction} from '../../ledger.js'
import {discardBody, httpFetch} from '../http.js'
import {toAwsError} from './errors.js'
import type {AwsSettings} from './settings.js'
import {
  type BlobStream,
  bodyStream,
  declaredMediaType,
  type ImageManifest,
  type ImageSource,
  MAX_CONFIG_BYTES,
  MAX_MANIFEST_BYTES,
  readCapped,
} from '../image-source.js'
import {MANIFEST_MEDIA_TYPES} from '../media-types.js'
import {sha256Digest} from '../../sha256.js'

/**
 * ECR's API as an image source: BatchGetImage for the manifest (with the media type ECR stored),
 * GetDownloadUrlForLayer for a presigned URL of a blob, then a plain GET with no auth header (the
 * URL carries its own signature; an Authorization header would make S3 refuse it). Both are read
 * permissions (`ecr:BatchGetImage`, `ecr:GetDownloadUrlForLayer`) that push-only roles may lack.
 * moto stores manifests but no layers, so the blob path is tested against a stand-in that serves
 * them. The SDK calls are recorded by the AWS client's ledger middleware, the presigned GET here.
 */
export class EcrImageSource implements ImageSource {
  constructor(
    private readonly client: ECRClient,
    readonly repository: string,
    /** The target's settings: where a failure says it happened, and its advice. */
    private readonly settings: AwsSettings,
    /** The account that owns the repository; the caller's when undefined. */
    private readonly registryId?: string,
  ) {}

  async manifest(reference: string, signal?: AbortSignal): Promise<ImageManifest> {
    const {BatchGetImageCommand} = await ecrModule()
    const imageId = reference.startsWith('sha256:') ? {imageDigest: reference} : {imageTag: reference}
    const doing = `Reading the manifest of ${this.repository}:${reference} (ecr:BatchGetImage)`
    let out
    try {
      out = await this.client.send(
        new BatchGetImageCommand({
          repositoryName: this.repository,
          imageIds: [imageId],
          acceptedMediaTypes: MANIFEST_MEDIA_TYPES,
          ...(this.registryId === undefined ? {} : {registryId: this.registryId}),
        }),
        signal === undefined ? {} : {abortSignal: signal},
      )
    } catch (error) {
      throw this.failure(error, 'ecr:BatchGetImage', doing)
    }
    const image = out.images?.[0]
    if (image?.imageManifest === undefined) {
      const failure = out.failures?.[0]
      throw new AwsError(
        failure?.failureCode === 'ImageNotFound' || failure?.failureCode === 'ImageTagDoesNotMatchDigest'
          ? 'not-found'
          : 'failed',
        'ecr:BatchGetImage',
        `${this.repository}:${reference} does not exist${failure?.failureReason === undefined ? '' : ` (${failure.failureReason})`}.`,
      )
    }
    const raw = Buffer.from(image.imageManifest, 'utf8')
    if (raw.length > MAX_MANIFEST_BYTES)
      throw new AwsError('malformed', 'ecr:BatchGetImage', `${doing}: the manifest is too large.`)
    const mediaType = image.imageManifestMediaType ?? declaredMediaType(raw) ?? 'unknown'
    // ECR returns the manifest bytes as pushed, so their sha256 is the digest (moto computes its
    // own digests differently: prefer the one ECR names when it gives one).
    return {mediaType, digest: image.imageId?.imageDigest ?? sha256Digest(raw), raw}
  }

  /** Tags, size and push time of an image (DescribeImages by digest). */
  async describe(
    digest: string,
    signal?: AbortSignal,
  ): Promise<{tags: string[]; sizeBytes: number | null; pushedAt: string | null}> {
    const {DescribeImagesCommand} = await ecrModule()
    try {
      const out = await this.client.send(
        new DescribeImagesCommand({
          repositoryName: this.repository,
          imageIds: [{imageDigest: digest}],
          ...(this.registryId === undefined ? {} : {registryId: this.registryId}),
        }),
        signal === undefined ? {} : {abortSignal: signal},
      )
      const image = out.imageDetails?.[0]
      return {
        tags: [...(image?.imageTags ?? [])].sort(),
        sizeBytes: image?.imageSizeInBytes ?? null,
        pushedAt: image?.imagePushedAt?.toISOString() ?? null,
      }
    } catch (error) {
      throw this.failure(error, 'ecr:DescribeImages', `Describing ${this.repository}@${digest}`)
    }
  }

  async blob(digest: string, signal?: AbortSignal): Promise<Buffer> {
    const response = await this.download(digest, signal)
    const bytes = await readCapped(response, MAX_CONFIG_BYTES, `Blob ${digest}`)
    if (sha256Digest(bytes) !== digest)
      throw new AwsError(
        'malformed',
        'ecr:GetDownloadUrlForLayer',
        `Reading blob ${digest} of ${this.repository} (ecr:GetDownloadUrlForLayer): the bytes do not hash to the digest.`,
      )
    return bytes
  }

  /** A blob (a layer of any size) as a stream, for a copy: the caller checks its digest as it flows. */
  async openBlob(digest: string, signal?: AbortSignal): Promise<BlobStream> {
    return bodyStream(await this.download(digest, signal))
  }

  /** GetDownloadUrlForLayer, then a GET of the presigned URL: the answer, its body unread. */
  private async download(digest: string, signal?: AbortSignal): Promise<Response> {
    const {GetDownloadUrlForLayerCommand} = await ecrModule()
    const doing = `Reading blob ${digest} of ${this.repository} (ecr:GetDownloadUrlForLayer)`
    let url: string | undefined
    try {
      const out = await this.client.send(
        new GetDownloadUrlForLayerCommand({
          repositoryName: this.repository,
          layerDigest: digest,
          ...(this.registryId === undefined ? {} : {registryId: this.registryId}),
        }),
        signal === undefined ? {} : {abortSignal: signal},
      )
      url = out.downloadUrl
    } catch (error) {
      throw this.failure(error, 'ecr:GetDownloadUrlForLayer', doing)
    }
    if (url === undefined)
      throw new AwsError('malformed', 'ecr:GetDownloadUrlForLayer', `${doing}: ECR returned no download URL.`)
    // The presigned URL's query holds the signature: show the path only.
    recordAction({kind: 'http', call: `http:GET ${new URL(url).pathname}`})
    let response: Response
    try {
      response = await httpFetch(url, signal === undefined ? {} : {signal})
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error
      throw new AwsError(
        'unreachable',
        'ecr:GetDownloadUrlForLayer',
        `${doing}: the download URL could not be reached.`,
        {
          detail: (error as Error).message,
        },
      )
    }
    if (!response.ok || response.body === null) {
      await discardBody(response)
      throw new AwsError(
        response.status === 403 ? 'access-denied' : response.status === 404 ? 'not-found' : 'failed',
        'ecr:GetDownloadUrlForLayer',
        `${doing}: the download URL answered HTTP ${response.status}.`,
      )
    }
    return response
  }

  /**
   * An SDK failure as every AWS call says it (toAwsError: credentials missing or expired, access
   * denied naming the permission, throttling, an endpoint that is not AWS); ECR's
   * LayerInaccessibleException is a blob that cannot be had, as a missing one.
   */
  private failure(error: unknown, operation: string, doing: string): AwsError {
    const failed = toAwsError(error, operation, doing, this.settings)
    if ((error as {name?: string} | undefined)?.name !== 'LayerInaccessibleException') return failed
    return new AwsError('not-found', operation, failed.message, {detail: failed.detail, cause: error})
  }
}
