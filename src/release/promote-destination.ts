import type {Sourced} from '../config/env-layers.js'
import type {Destination} from '../images.js'
import type {SecretRegistry} from '../secrets.js'
import type {TagTarget, VerifiedTag} from '../steps/tag.js'
import type {Authorization, AwsClients} from '../systems/aws/index.js'
import {registryScheme} from '../systems/registry-api.js'
import type {Descriptor, ImageTree} from '../systems/registry-copy.js'

// The destination of promote --to-registry (issue 25 §2), apart from the copy's steps
// (promote-copy.ts): the promotion's state holds one, and the steps read it.

/** What the destination takes from the promotion it copies for (PromoteState is one). */
export type Promotion = Pick<
  TagTarget,
  'repository' | 'registry' | 'digest' | 'tagsToPoint' | 'tagsToVerify' | 'onTagged'
> & {
  readonly secrets: SecretRegistry
  onVerified(verified: VerifiedTag): void
  warn(message: string): void
}

export type Side = 'source' | 'destination'

/** The destination's settings, as resolved (flags, environment, .env files). */
export interface CopyConfig {
  destination: Sourced<Destination>
  profile: Sourced<string> | undefined
  roleArn: Sourced<string> | undefined
  region: Sourced<string> | undefined
}

/** What the copy learned and did, as `--json` reports it under `copy`. */
export interface CopyReport {
  registry: string
  repository: string
  account: string | null
  region: string
  profile: string | null
  roleArn: string | null
  /** Blobs (configs and layers) of every manifest of the image, and their bytes. */
  blobs: number | null
  bytes: number | null
  /** Blobs the destination lacked before the copy (HEAD of each), and their bytes. */
  missingBlobs: number | null
  missingBytes: number | null
  /** Manifests (an index and its children, or one image manifest). */
  manifests: number | null
  /** What this run sent: blobs uploaded, their bytes, blobs mounted from the source repository. */
  uploadedBlobs: number
  uploadedBytes: number
  mountedBlobs: number
  /** The side a failure came from. */
  failedSide: Side | null
}

/**
 * The destination of a copy as the shared tag and verify steps see it: another registry, its own
 * AWS clients (profile, role, region), its own login token; the image is the --from digest.
 */
export class CopyDestination implements TagTarget {
  account: string | undefined
  mutability: string | undefined
  authorization: Authorization | undefined
  tree: ImageTree | undefined
  missing: Descriptor[] | undefined
  failedSide: Side | undefined
  uploadedBlobs = 0
  uploadedBytes = 0
  mountedBlobs = 0

  constructor(
    readonly config: CopyConfig,
    private readonly promotion: Promotion,
    readonly region: Sourced<string>,
    readonly aws: AwsClients,
  ) {}

  get secrets(): SecretRegistry {
    return this.promotion.secrets
  }

  get destination(): Destination {
    return this.config.destination.value
  }

  get repository(): string {
    return this.destination.repository ?? this.promotion.repository
  }

  get registry(): {value: string} {
    return {value: this.destination.host}
  }

  get registryIsEcr(): boolean {
    return this.destination.ecr !== undefined
  }

  get registryScheme(): string {
    return registryScheme(this.destination.host)
  }

  get digest(): string | undefined {
    return this.promotion.digest
  }

  /** The same registry as the source: blobs may be mounted from the source repository. */
  get sameRegistry(): boolean {
    return this.destination.host === this.promotion.registry.value
  }

  tagsToPoint(): string[] {
    return this.promotion.tagsToPoint()
  }

  tagsToVerify(): string[] {
    return this.promotion.tagsToVerify()
  }

  onTagged(reference: string, tag: string): void {
    this.promotion.onTagged(reference, tag)
  }

  onVerified(verified: VerifiedTag): void {
    this.promotion.onVerified(verified)
  }

  warn(message: string): void {
    this.promotion.warn(message)
  }

  report(): CopyReport {
    const sum = (blobs: Descriptor[] | undefined): number | null =>
      blobs === undefined ? null : blobs.reduce((total, blob) => total + blob.size, 0)
    return {
      registry: this.destination.host,
      repository: this.repository,
      account: this.account ?? this.destination.ecr?.account ?? null,
      region: this.region.value,
      profile: this.config.profile?.value ?? null,
      roleArn: this.config.roleArn?.value ?? null,
      blobs: this.tree?.blobs.length ?? null,
      bytes: sum(this.tree?.blobs),
      missingBlobs: this.missing?.length ?? null,
      missingBytes: sum(this.missing),
      manifests: this.tree?.manifests.length ?? null,
      uploadedBlobs: this.uploadedBlobs,
      uploadedBytes: this.uploadedBytes,
      mountedBlobs: this.mountedBlobs,
      failedSide: this.failedSide ?? null,
    }
  }
}
