import {EcrImageSource} from './ecr-image-source.js'
import {
  type EcrManifest,
  type ImageFacts,
  imagesByTag,
  imagesOfTags,
  putManifest,
  type TagPointers,
  tagPointers,
} from './ecr-images.js'
import {
  lifecyclePolicy,
  putLifecyclePolicy,
  type RepositoryFacts,
  repositoryFacts,
  repositoryNames,
  type RepositorySettings,
} from './ecr-repositories.js'
import {type ScanFindings, scanFindings, startScan} from './ecr-scan.js'
import {AwsSession} from './session.js'
import {awsSettingsFor, resolveRegion, type SourcedRegion} from './settings.js'

export {type EcrManifest, type ImageFacts, type TagPointers} from './ecr-images.js'
export {type ScanFindings} from './ecr-scan.js'
export {type RepositoryFacts, type RepositorySettings, type TagMutability} from './ecr-repositories.js'
export {
  type Authorization,
  decodeAuthorizationToken,
  type Identity,
  registryHostFromEndpoint,
} from './session.js'

/**
 * ECR and STS through the AWS SDK v3, for one target: the session (credentials, clients, identity,
 * login token: session.ts) with the repository (ecr-repositories.ts) and image operations
 * (ecr-images.ts, ecr-image-source.ts) that the steps call.
 */
export class AwsClients extends AwsSession {
  /** The repository's images read through ECR's API (manifest, config blob, tags, size). */
  async imageSource(repository: string, registryId?: string): Promise<EcrImageSource> {
    return new EcrImageSource(await this.ecr(), repository, this.settings, registryId)
  }

  /**
   * The repository's facts; a missing one is created when `create` says how, else it is a
   * not-found error naming repository, account and region.
   */
  repository(
    repository: string,
    account: string,
    create: RepositorySettings | undefined,
    signal?: AbortSignal,
  ): Promise<RepositoryFacts> {
    return repositoryFacts(this.ecrApi, repository, account, create, signal)
  }

  /** Attach a lifecycle policy (ECR's JSON text), replacing any the repository has. */
  putLifecyclePolicy(
    repository: string,
    account: string,
    policyText: string,
    signal?: AbortSignal,
  ): Promise<void> {
    return putLifecyclePolicy(this.ecrApi, repository, account, policyText, signal)
  }

  /** The repository's lifecycle policy text; undefined when it has none (LifecyclePolicyNotFoundException). */
  lifecyclePolicy(repository: string, account: string, signal?: AbortSignal): Promise<string | undefined> {
    return lifecyclePolicy(this.ecrApi, repository, account, signal)
  }

  /** What the repository holds under each of these tags (absent tags are left out). */
  imagesByTag(
    repository: string,
    tags: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, ImageFacts>> {
    return imagesByTag(this.ecrApi, repository, tags, signal)
  }

  /** Every tag's image in one DescribeImages, for tags expected to exist (verify: the read-back). */
  imagesOfTags(
    repository: string,
    tags: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, ImageFacts>> {
    return imagesOfTags(this.ecrApi, repository, tags, signal)
  }

  /** The digest each tag names, and the manifest of `manifestOf` if asked: one BatchGetImage. */
  tagPointers(
    repository: string,
    tags: readonly string[],
    manifestOf?: string,
    signal?: AbortSignal,
  ): Promise<TagPointers> {
    return tagPointers(this.ecrApi, repository, tags, manifestOf, signal)
  }

  /** Put the image's manifest under `tag` (PutImage): a tag without an upload. */
  putManifest(
    repository: string,
    digest: string,
    tag: string,
    manifest: EcrManifest,
    signal?: AbortSignal,
  ): Promise<void> {
    return putManifest(this.ecrApi, repository, digest, tag, manifest, signal)
  }

  /** Issue 25: the image's scan findings (basic and enhanced); undefined when it has no scan. */
  scanFindings(
    repository: string,
    digest: string,
    registryId: string | undefined,
    signal?: AbortSignal,
  ): Promise<ScanFindings | undefined> {
    return scanFindings(this.ecrApi, repository, digest, registryId, signal)
  }

  /** Start a scan of the image (basic scanning); the status ECR answers (UNSUPPORTED_IMAGE included). */
  startScan(
    repository: string,
    digest: string,
    registryId: string | undefined,
    signal?: AbortSignal,
  ): Promise<string> {
    return startScan(this.ecrApi, repository, digest, registryId, signal)
  }

  /** A read that hands out nothing: proves ECR answers and the credentials may list repositories. */
  repositoryNames(maxResults: number, signal?: AbortSignal): Promise<string[]> {
    return repositoryNames(this.ecrApi, maxResults, signal)
  }
}

/**
 * A target's region and AWS clients, built from its own environment record (never process.env):
 * where push, promote, deploy and inspect each start.
 */
export async function targetAws(target: {
  region: SourcedRegion | undefined
  profile: SourcedRegion | undefined
  childEnv: Record<string, string>
  dryRun: boolean
}): Promise<{region: SourcedRegion; aws: AwsClients}> {
  const region = await resolveRegion(target)
  const aws = new AwsClients(
    awsSettingsFor(target.childEnv, {
      region: region.value,
      profile: target.profile?.value,
      quick: target.dryRun,
    }),
  )
  return {region, aws}
}
