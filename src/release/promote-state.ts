import type {Sourced} from '../config/env-layers.js'
import type {FlagValuesFor} from '../config/flags.js'
import {
  locatingPushFlags,
  type PushConfig,
  resolvePushConfig,
  targetSettingsReader,
} from '../config/push-config.js'
import {SETTINGS} from '../config/settings.js'
import {usageError} from '../errors.js'
import {ecrRegistryHost, imageReference, PLACEHOLDER, validateImageTag} from '../images.js'
import {SecretRegistry} from '../secrets.js'
import {
  type Authorization,
  AwsClients,
  awsSettingsFor,
  registerAwsSecrets,
  targetAws,
} from '../systems/aws/index.js'
import type {TagTarget, VerifiedTag} from '../steps/tag.js'
import type {ScanTarget} from '../steps/scan.js'
import type {ScanReport} from '../scan-findings.js'
import {WarningLog} from '../pipeline/warnings.js'
import {type CopyConfig, CopyDestination} from './promote-destination.js'

import {type DeployConfig, resolveChainedDeploy} from '../config/endpoint-config.js'
import {EndpointDeployState} from '../pipeline/endpoint-state.js'
import type {EndpointTarget} from '../steps/endpoint.js'
// `mldeploy promote`'s configuration and the state its plan walks (its steps: promote-steps.ts).

/** Promote's own flags, from the settings table (`verbose` is the base command's). */
export type PromoteFlags = FlagValuesFor<'promote'> & {verbose?: boolean}

export interface PromoteConfig {
  push: PushConfig
  from: string
  to: string[]
  /** --to-registry: copy the image into another registry first (issue 25 §2). */
  copy: CopyConfig | undefined
  /** Issue 24 §3, promote --deploy: deploy the promoted image to the target's endpoint afterwards. */
  deploy: DeployConfig | undefined
}

/** What happens (or would happen) to one --to tag. */
export type TagChange = 'created' | 'moved' | 'unchanged' | 'unknown'

export interface PromotedTag {
  tag: string
  reference: string
  /** What the tag pointed at before (null: it did not exist, or a dry run could not read it). */
  previousDigest: string | null
  change: TagChange
  /** After a real run: the digest the registry reports now (checked to be the --from digest). */
  verifiedDigest: string | null
  /** This run pointed the tag at the image (also on a run that failed or was interrupted later). */
  applied: boolean
}

/** Push's resolution of the target, repository, region, profile, registry and .env files; no side effects. */
export function resolvePromoteConfig(
  targetSpec: string,
  flags: PromoteFlags,
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
): PromoteConfig {
  if (flags.from === undefined)
    throw usageError('--from is required.', 'Name the tag to promote, e.g. --from candidate.')
  const to = flags.to ?? []
  if (to.length === 0) throw usageError('--to is required.', 'Name the tag to point, e.g. --to production.')
  const from = validateImageTag(flags.from, '--from')
  const targets = [...new Set(to.map((tag) => validateImageTag(tag, '--to')))]
  if (targets.includes(from)) {
    throw usageError(`--to ${from} is the --from tag itself.`, 'Name another tag to point at its image.')
  }
  // Issue 25: the scan gate and its time limit are push's settings, read the same way.
  const pushFlags = {
    ...locatingPushFlags(flags, flags['dry-run'] ?? false),
    ...(flags['max-severity'] === undefined ? {} : {'max-severity': flags['max-severity']}),
    ...(flags.timeout === undefined ? {} : {timeout: flags.timeout}),
  }
  const push = resolvePushConfig(targetSpec, pushFlags, processEnv, cwd)
  const copy = resolveCopyConfig(flags, push, processEnv)
  return {
    push,
    from,
    to: targets,
    copy,
    deploy: flags.deploy ? promoteDeploy(copy, push, flags, processEnv) : undefined,
  }
}

/**
 * A deploy runs with the target's own credentials in its own account and region, where SageMaker
 * pulls the image: a copy's image lives in the destination's, which that deploy cannot pull
 * without a role of the destination's account. So --deploy after --to-registry is bad input.
 */
function promoteDeploy(
  copy: CopyConfig | undefined,
  push: PushConfig,
  flags: PromoteFlags,
  processEnv: NodeJS.ProcessEnv,
): DeployConfig {
  if (copy !== undefined)
    throw usageError(
      `--deploy deploys in the target's own account and region, and --to-registry (from ${copy.destination.source}) copies the image to ${copy.destination.value.host}.`,
      "Deploy the copy there with mldeploy deploy and the destination's settings (--profile, --region, --execution-role-arn), or drop --deploy.",
    )
  return resolveChainedDeploy(push, flags, processEnv, 'promote')
}

/** The destination settings (flags, environment, the target's .env files and mldeploy.yaml). */
function resolveCopyConfig(
  flags: PromoteFlags,
  push: PushConfig,
  processEnv: NodeJS.ProcessEnv,
): CopyConfig | undefined {
  const read = targetSettingsReader(push, flags, processEnv)
  const destination = read.get(SETTINGS.toRegistry)
  const profile = read.get(SETTINGS.toProfile)
  const roleArn = read.get(SETTINGS.toRoleArn)
  const region = read.get(SETTINGS.toRegion)
  push.shadowed.push(...read.shadowed)
  push.fromFiles.push(...read.fromFiles)
  if (destination === undefined) {
    const stray = [profile, roleArn, region].find((each) => each !== undefined)
    if (stray !== undefined)
      throw usageError(
        `${stray.source} names the destination of a copy, and there is none.`,
        'Add --to-registry <account>.dkr.ecr.<region>.amazonaws.com, or drop it.',
      )
    return undefined
  }
  const fromHost = destination.value.ecr?.region
  const sourced =
    region ?? (fromHost === undefined ? undefined : {value: fromHost, source: destination.source})
  if (region !== undefined && fromHost !== undefined && region.value !== fromHost)
    throw usageError(
      `${region.source} says ${region.value}, and the destination ${destination.value.host} is in ${fromHost}.`,
      'Drop --to-region: an ECR host names its region.',
    )
  return {destination, profile, roleArn, region: sourced}
}

/**
 * What a promotion learns as it goes; the shared tag and verify steps read it as a `TagTarget`
 * (the --to tags that change point at the --from image, then every --to tag is checked).
 */
export class PromoteState implements TagTarget, ScanTarget, EndpointTarget {
  readonly secrets = new SecretRegistry()
  /** Every warning of the promotion, shown once as raised (see `WarningLog`). */
  readonly warningLog = new WarningLog()
  account: Sourced<string> | undefined
  authorization: Authorization | undefined
  mutability: string | undefined
  /** Digest per tag, once read (undefined: not read, e.g. a dry run without credentials). */
  digests: Map<string, string> | undefined
  readonly tags: PromotedTag[]
  /** With --to-registry: the destination, its own clients and what the copy did. */
  copy: CopyDestination | undefined
  /** Issue 25: the scan gate's verdict on the --from image (undefined until the scan step ran). */
  scan: ScanReport | undefined
  /** Issue 24 §3, promote --deploy: the endpoint the promoted image is deployed to. */
  endpointDeploy: EndpointDeployState | undefined

  constructor(
    readonly config: PromoteConfig,
    readonly region: Sourced<string>,
    readonly aws: AwsClients,
  ) {
    this.account = config.push.accountId
    this.tags = config.to.map((tag) => ({
      tag,
      reference: imageReference(this.registry.value, this.repository, tag),
      previousDigest: null,
      change: 'unknown',
      verifiedDigest: null,
      applied: false,
    }))
  }

  get warnings(): string[] {
    return this.warningLog.messages
  }

  warn(message: string): void {
    this.warningLog.add(message)
  }

  get repository(): string {
    return this.config.push.repository.value
  }

  get registry(): {value: string} {
    const {registry} = this.config.push
    if (registry !== undefined) return {value: registry.value}
    return {value: ecrRegistryHost(this.account?.value ?? PLACEHOLDER.account, this.region.value)}
  }

  get registryIsEcr(): boolean {
    return this.config.push.registry === undefined
  }

  get scanGate(): PromoteConfig['push']['scanGate'] {
    return this.config.push.scanGate
  }

  /** Without a gate, the --from image's findings are read and reported where ECR has them. */
  get scanReport(): boolean {
    return this.registryIsEcr
  }

  get scanTimeoutMs(): number {
    return this.config.push.timeouts.scan
  }

  get scanRegistryId(): string | undefined {
    return this.account?.value
  }

  get registryScheme(): string {
    return this.config.push.registryScheme
  }

  get digest(): string | undefined {
    return this.digests?.get(this.config.from)
  }

  tagsToPoint(): string[] {
    return this.tags.filter((each) => each.change !== 'unchanged').map((each) => each.tag)
  }

  tagsToVerify(): string[] {
    return this.config.to
  }

  onTagged(_reference: string, tag: string): void {
    const each = this.tags.find((promoted) => promoted.tag === tag)
    if (each !== undefined) each.applied = true
  }

  onVerified(verified: VerifiedTag): void {
    const each = this.tags.find((tag) => tag.tag === verified.tag)
    if (each !== undefined) each.verifiedDigest = verified.digest
  }
}

export async function preparePromote(config: PromoteConfig): Promise<PromoteState> {
  const {region, aws} = await targetAws(config.push)
  const state = new PromoteState(config, region, aws)
  if (config.deploy !== undefined)
    state.endpointDeploy = new EndpointDeployState(config.deploy, region, aws, {
      secrets: state.secrets,
      warningLog: state.warningLog,
    })
  registerAwsSecrets(config.push.childEnv, state.secrets)
  aws.shareSecretsWith(state.secrets)
  const {copy} = config
  if (copy !== undefined) {
    // The destination's own clients: its profile (else the source's credentials), its role, its region.
    const toRegion = copy.region ?? region
    const destination = new AwsClients(
      awsSettingsFor(config.push.childEnv, {
        region: toRegion.value,
        profile: copy.profile?.value ?? config.push.profile?.value,
        quick: config.push.dryRun,
        ...(copy.roleArn === undefined ? {} : {roleArn: copy.roleArn.value}),
      }),
    )
    destination.shareSecretsWith(state.secrets)
    state.copy = new CopyDestination(copy, state, toRegion, destination)
  }
  return state
}
