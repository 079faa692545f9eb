import {randomBytes} from 'node:crypto'

import type {Sourced} from '../config/env-layers.js'
import type {PushConfig} from '../config/push-config.js'
import {ecrRegistryHost, imageReference, imageTags, PLACEHOLDER} from '../images.js'
import {type ContentDigest, CONTENT_TAG_PREFIX} from '../content-digest.js'
import {SecretRegistry} from '../secrets.js'
import type {Authorization, AwsClients, RepositoryFacts} from '../systems/aws/index.js'
import {splitBentoTag} from '../systems/bentoml.js'
import type {BentoApi, BentoInfo} from '../provenance.js'
import type {ImageFacts} from '../image-facts.js'
import type {Engine} from '../systems/engine.js'
import type {ImageManifest} from '../systems/image-source.js'
import type {RuleResult} from '../deploy-target-rules.js'
import type {TagChange, TagTarget, VerifiedTag} from '../steps/tag.js'
import type {ScanTarget} from '../steps/scan.js'
import type {EndpointTarget} from '../steps/endpoint.js'
import type {EndpointDeployState} from './endpoint-state.js'
import type {ScanReport} from '../scan-findings.js'
import type {PlannedCommand, StepIO} from './step.js'
import {WarningLog} from './warnings.js'

export type {VerifiedTag} from '../steps/tag.js'
// The step ids live in a leaf module (settings need them without the engine); here for callers.
export {STEP_IDS, type StepId} from '../step-ids.js'
/**
 * Everything a run learns as it goes. Steps read what earlier steps found (the account, the
 * registry, the bento tag) and add their own; where a value is not known yet (in a dry run) the
 * accessors give a visible placeholder, so the plan can always be shown in full.
 */
export class DeployState implements TagTarget, ScanTarget, EndpointTarget {
  readonly secrets = new SecretRegistry()
  /** Every warning of the run, shown once as raised (see `WarningLog`). */
  readonly warningLog = new WarningLog()
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
  /** Provenance labels for containerize (`--opt label=K=V`), gathered when the bento is built. */
  labels: Record<string, string> = {}
  /** The bento as the store describes it (its APIs and models), when the labels step read it. */
  bento: BentoInfo | undefined
  /** docker builds with buildx (then provenance and SBOM attestations are turned off). */
  dockerBuildx = false
  /** What the check after the upload read from the registry. */
  image: ImageFacts | undefined
  /** Issue 23: the pushed manifest as the check read it (the tag step puts it under the other tags). */
  digestManifest: ImageManifest | undefined
  /** Issue 25: the scan gate's verdict (undefined until the scan step ran). */
  scan: ScanReport | undefined
  /** The check rules and their outcome (format, deploy target). */
  imageRules: RuleResult[] = []
  /** Private folder for this run (auth file, digest files), removed at the end. */
  workDir: string | undefined
  /** Issue 24: the API the SageMaker adapter forwards /invocations to (the labels step chooses it). */
  sagemakerApi: BentoApi | undefined
  /** Issue 24: the contract run's container name (unique per run, labelled: see systems/serving.ts). */
  readonly servingName = `mldeploy-serving-${randomBytes(6).toString('hex')}`
  /** Issue 24: what the local contract run saw (null until it ran). */
  serving: ServingReport | null = null
  /** Issue 13: the remote engine (--builder), its context or connection resolved by the preflight. */
  engine: Engine | undefined
  /** Issue 24: push --deploy: the endpoint this target deploys the pushed image to (undefined: none). */
  endpointDeploy: EndpointDeployState | undefined

  // --- reuse and push-only roles (issue 12) ---
  /** What the image will be made of (the reuse step computes it after the build). */
  content: ContentDigest | undefined
  /** Set by the reuse step when an image with this content exists: containerize (and upload) skip. */
  reuse: ReuseDecision | undefined
  /** Why the content tag is left off (--rebuild in an IMMUTABLE repository where it names another image). */
  contentTagOmitted: string | undefined
  /** Containerize built the image this run: a later failure leaves it for the next run to reuse. */
  builtLocally = false
  /** The bentoml version the preflight found (part of the content digest: its Dockerfile template). */
  bentomlVersion: string | undefined
  /** The last local image of this target, for the disk check (bytes). */
  lastImageBytes: number | undefined
  /** AWS operations this role may not call (AccessDenied seen): later steps do without them. */
  readonly denied = new Set<string>()
  /** How the tags were verified; `verified: false` when the role may read nothing back. */
  verification: Verification | undefined
  /** Set by prepareState (steps/push.ts): tags through the backend when ecr:BatchGetImage is denied. */
  backendTagCommands?: (tag: string) => PlannedCommand[]
  runBackendTag?: (tag: string, io: StepIO) => Promise<void>
  // --- end reuse and push-only roles ---

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

  private verifiedBy(): string {
    if (!this.registryIsEcr) return `registry API of ${this.registry.value}`
    return this.denied.has('ecr:DescribeImages') ? 'ecr:BatchGetImage' : 'ecr:DescribeImages'
  }

  get warnings(): string[] {
    return this.warningLog.messages
  }

  warn(message: string): void {
    this.warningLog.add(message)
  }

  // What the scan step needs (see steps/scan.ts).
  get scanGate(): PushConfig['scanGate'] {
    return this.config.scanGate
  }

  /** A push's scan has only just started after the upload: nothing to report without a gate. */
  readonly scanReport = false

  get scanTimeoutMs(): number {
    return this.config.timeouts.scan
  }

  get scanRegistryId(): string | undefined {
    return this.account?.value
  }

  // What the shared tag and verify steps need (see steps/tag.ts).
  get repository(): string {
    return this.config.repository.value
  }

  get registryScheme(): string {
    return this.config.registryScheme
  }

  tagsToPoint(): string[] {
    // Reused from the repository: every tag, the bento version's too, points at that image.
    if (this.reuse?.source === 'repository') return this.tags
    return [...this.extraTags, ...this.contentTags]
  }

  tagsToVerify(): string[] {
    return [...this.tags, ...this.contentTags]
  }

  /** `content-<12 hex>` (a placeholder until the reuse step knows it), unless it is left off. */
  get contentTags(): string[] {
    if (this.contentTagOmitted !== undefined) return []
    if (this.content !== undefined) return [this.content.tag]
    // Unknown content (the reuse step could not compute it): a dry run shows where it will go, a
    // real run adds no tag rather than a placeholder.
    return this.config.dryRun ? [`${CONTENT_TAG_PREFIX}<content-digest>`] : []
  }

  deny(operation: string): void {
    this.denied.add(operation)
  }

  onUnverified(verification: Verification): void {
    this.verification = verification
  }

  /** Which tags the tag step created, moved (from which digest) or found in place. */
  readonly tagChanges: TagChange[] = []

  onTagChange(change: TagChange): void {
    this.tagChanges.push(change)
  }

  onTagged(reference: string): void {
    this.pushed.push(reference)
  }

  onVerified(tag: VerifiedTag, facts: {sizeBytes: number | null; pushedAt: string | null}): void {
    this.verification ??= {verified: true, by: this.verifiedBy()}
    this.verified.push(tag)
    if (tag.tag === this.bentoVersion) {
      this.sizeBytes = facts.sizeBytes
      this.pushedAt = facts.pushedAt
    }
  }
}

/** Issue 24: the local contract run's outcome, for the result and --json. */
export interface ServingReport {
  image: string
  /** Seconds from `run` (serve) to the first answer of /invocations. */
  secondsToAnswer: number | null
  status: number | null
  contentType: string | null
  /** The answer's start (4 KiB at most). */
  body: string | null
}

/** Issue 24: the adapter layer goes on the bento image (--deploy-target sagemaker, not --no-sagemaker-adapter). */
export function adapterOn(state: DeployState): boolean {
  return state.config.sagemaker?.adapter === true
}

/** An image with this content already exists: where, and which bento it was first built from. */
export type ReuseDecision =
  | {source: 'repository'; digest: string; builtFromBento: string | null}
  | {source: 'local'; imageId: string; builtFromBento: string | null}

export interface Verification {
  verified: boolean
  /** What read the tags back: `ecr:DescribeImages`, `ecr:BatchGetImage`, the registry API. */
  by: string | null
  /** When not verified: the permission that would have verified it. */
  missingPermission?: string
}
