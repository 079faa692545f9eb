import type {Sourced} from '../config/env-layers.js'
import type {FlagValuesFor} from '../config/flags.js'
import {locatingPushFlags, type PushConfig, resolvePushConfig} from '../config/push-config.js'
import {usageError} from '../errors.js'
import {ecrRegistryHost, imageReference, PLACEHOLDER, validateImageTag} from '../images.js'
import {SecretRegistry} from '../secrets.js'
import {
  type Authorization,
  AwsClients,
  awsSettingsFor,
  registerAwsSecrets,
  resolveRegion,
} from '../systems/aws/index.js'
import type {TagTarget, VerifiedTag} from '../steps/tag.js'
import {WarningLog} from '../pipeline/warnings.js'

// `mldeploy promote`'s configuration and the state its plan walks (its steps: promote-steps.ts).

/** Promote's own flags, from the settings table (`verbose` is the base command's). */
export type PromoteFlags = FlagValuesFor<'promote'> & {verbose?: boolean}

export interface PromoteConfig {
  push: PushConfig
  from: string
  to: string[]
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
  const pushFlags = locatingPushFlags(flags, flags['dry-run'] ?? false)
  return {push: resolvePushConfig(targetSpec, pushFlags, processEnv, cwd), from, to: targets}
}

/**
 * What a promotion learns as it goes; the shared tag and verify steps read it as a `TagTarget`
 * (the --to tags that change point at the --from image, then every --to tag is checked).
 */
export class PromoteState implements TagTarget {
  readonly secrets = new SecretRegistry()
  /** Every warning of the promotion, shown once as raised (see `WarningLog`). */
  readonly warningLog = new WarningLog()
  account: Sourced<string> | undefined
  authorization: Authorization | undefined
  mutability: string | undefined
  /** Digest per tag, once read (undefined: not read, e.g. a dry run without credentials). */
  digests: Map<string, string> | undefined
  readonly tags: PromotedTag[]

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
  const region = await resolveRegion(config.push)
  // This target's own endpoint and credentials, from its environment record (not process.env).
  const aws = new AwsClients(
    awsSettingsFor(config.push.childEnv, {
      region: region.value,
      profile: config.push.profile?.value,
      quick: config.push.dryRun,
    }),
  )
  const state = new PromoteState(config, region, aws)
  registerAwsSecrets(config.push.childEnv, state.secrets)
  aws.shareSecretsWith(state.secrets)
  return state
}
