import type {Sourced} from '../config/env-layers.js'
import type {DeployError} from '../errors.js'
import type {PushConfig} from '../config/push-config.js'
import {ecrRegistryHost, imageReference, imageTags, PLACEHOLDER} from '../images.js'
import {SecretRegistry} from '../secrets.js'
import type {Authorization, AwsClients, RepositoryFacts} from '../systems/aws.js'
import {splitBentoTag} from '../systems/bentoml.js'

export const STEP_IDS = [
  'preflight',
  'import',
  'build',
  'containerize',
  'login',
  'push',
  'tag',
  'verify',
] as const
export type StepId = (typeof STEP_IDS)[number]
export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped' | 'interrupted'

export interface VerifiedTag {
  tag: string
  digest: string
  /** `<registry>/<repository>:<tag>` */
  reference: string
  /** `<registry>/<repository>@<digest>` */
  byDigest: string
}

export interface StepRecord {
  id: StepId
  title: string
  status: StepStatus
  durationMs?: number
}

/**
 * Everything a run learns as it goes. Steps read what earlier steps found (the account, the
 * registry, the bento tag) and add their own; where a value is not known yet (in a dry run) the
 * accessors give a visible placeholder, so the plan can always be shown in full.
 */
export class DeployState {
  readonly secrets = new SecretRegistry()
  readonly warnings: string[] = []
  readonly steps: StepRecord[] = []
  account: Sourced<string> | undefined
  authorization: Authorization | undefined
  bentoTag: string | undefined
  digest: string | undefined
  /** Image references in the registry so far (a failed run reports what it did push or tag). */
  readonly pushed: string[] = []
  repositoryFacts: RepositoryFacts | undefined
  /** Per tag, what the registry says it points at after the run. */
  readonly verified: VerifiedTag[] = []
  sizeBytes: number | null = null
  pushedAt: string | null = null
  /** Why the run stopped, when a step failed. */
  failure: DeployError | undefined
  /** Provenance labels for containerize (`--opt label=K=V`), gathered when the bento is built. */
  labels: Record<string, string> = {}
  /** Private folder for this run (auth file, digest files), removed at the end. */
  workDir: string | undefined

  constructor(
    readonly config: PushConfig,
    readonly region: Sourced<string>,
    readonly aws: AwsClients,
  ) {
    this.account = config.accountId
  }

  get registry(): Sourced<string> {
    if (this.config.registry !== undefined) return this.config.registry
    if (this.authorization !== undefined) {
      return {value: this.authorization.registry, source: 'ECR GetAuthorizationToken proxyEndpoint'}
    }
    return {
      value: ecrRegistryHost(this.account?.value ?? PLACEHOLDER.account, this.region.value),
      source: 'derived from account and region',
    }
  }

  get bentoVersion(): string {
    if (this.bentoTag !== undefined) return splitBentoTag(this.bentoTag).version
    return this.config.bentoVersion?.value ?? PLACEHOLDER.bentoVersion
  }

  get tags(): string[] {
    return imageTags(this.config.tags.value, this.bentoVersion)
  }

  get images(): string[] {
    return this.tags.map((tag) => imageReference(this.registry.value, this.config.repository.value, tag))
  }

  /** The one image that is uploaded: the bento version's. Every other tag is added without upload. */
  get uploadImage(): string {
    return imageReference(this.registry.value, this.config.repository.value, this.bentoVersion)
  }

  /** The tags added after the upload, by pointing them at the uploaded manifest. */
  get extraTags(): string[] {
    return this.tags.filter((tag) => tag !== this.bentoVersion)
  }

  /** Pushes to ECR itself use the ECR API for tags and checks; another registry gets its own API. */
  get registryIsEcr(): boolean {
    return this.config.registry === undefined
  }

  warn(message: string): void {
    this.warnings.push(message)
  }
}
