import type {Sourced} from '../config/env-layers.js'
import {type PushConfig, type PushFlags, resolvePushConfig} from '../config/push-config.js'
import {classify, DeployError, errorMessage, MldeployError, usageError} from '../errors.js'
import {ecrRegistryHost, imageReference, PLACEHOLDER, validateImageTag} from '../images.js'
import {SecretRegistry} from '../secrets.js'
import {AwsClients, awsSettingsFor, registerAwsSecrets, resolveRegion} from '../systems/aws/index.js'
import {manifestDigest, type RegistryAccess, retagManifest} from '../systems/registry-api.js'

/** The flags `mldeploy promote` takes: push's that locate the repository, plus --from and --to. */
export type PromoteFlags = Pick<
  PushFlags,
  'root' | 'repository' | 'region' | 'profile' | 'account-id' | 'registry' | 'stage' | 'dry-run' | 'verbose'
> & {from?: string; to?: string[]}

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
}

export interface PromoteResult {
  status: 'promoted' | 'unchanged' | 'planned'
  dryRun: boolean
  target: string
  account: string | null
  region: string
  registry: string
  repository: string
  from: {tag: string; reference: string; digest: string | null}
  /** The image every --to tag now points at (the --from digest). */
  digest: string | null
  imageByDigest: string | null
  /** `<registry>/<repository>:<to>` for every --to tag, in order. */
  images: string[]
  /** Always null: promote works on images, not bentos (kept for the same shape as push's result). */
  bentoTag: null
  tags: PromotedTag[]
  settings: Record<string, {value: unknown; source: string}>
  envFiles: string[]
  warnings: string[]
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
  const pushFlags: PushFlags = {
    ...(flags.root === undefined ? {} : {root: flags.root}),
    ...(flags.repository === undefined ? {} : {repository: flags.repository}),
    ...(flags.region === undefined ? {} : {region: flags.region}),
    ...(flags.profile === undefined ? {} : {profile: flags.profile}),
    ...(flags['account-id'] === undefined ? {} : {'account-id': flags['account-id']}),
    ...(flags.registry === undefined ? {} : {registry: flags.registry}),
    ...(flags.stage === undefined ? {} : {stage: flags.stage}),
    // Promote has no VPN step: do not let an MLFLOW_TRACKING_URI shape what is resolved.
    'skip-vpn-check': true,
    'dry-run': flags['dry-run'] ?? false,
    verbose: flags.verbose ?? false,
  }
  return {push: resolvePushConfig(targetSpec, pushFlags, processEnv, cwd), from, to: targets}
}

/** The AWS session and what the run learns; `secrets` holds the login token when one is fetched. */
export interface PromoteContext {
  config: PromoteConfig
  region: Sourced<string>
  aws: AwsClients
  secrets: SecretRegistry
  account: Sourced<string> | undefined
  access: RegistryAccess | undefined
  warnings: string[]
}

export async function preparePromote(config: PromoteConfig): Promise<PromoteContext> {
  const region = await resolveRegion(config.push)
  const secrets = new SecretRegistry()
  registerAwsSecrets(config.push.childEnv, secrets)
  const aws = new AwsClients(
    awsSettingsFor(config.push.childEnv, {
      region: region.value,
      profile: config.push.profile?.value,
      quick: config.push.dryRun,
    }),
    secrets,
  )
  return {
    config,
    region,
    aws,
    secrets,
    account: config.push.accountId,
    access: undefined,
    warnings: [],
  }
}

function registryHost(context: PromoteContext): string {
  const {registry} = context.config.push
  if (registry !== undefined) return registry.value
  return ecrRegistryHost(context.account?.value ?? PLACEHOLDER.account, context.region.value)
}

/** Where the tags live: ECR's API, or with --registry that registry's own API (with an ECR token). */
async function digestsByTag(
  context: PromoteContext,
  tags: readonly string[],
  signal: AbortSignal,
): Promise<Map<string, string>> {
  const repository = context.config.push.repository.value
  const found = new Map<string, string>()
  if (context.access === undefined) {
    const images = await context.aws.imagesByTag(repository, tags, signal)
    for (const [tag, facts] of images) found.set(tag, facts.digest)
  } else {
    for (const tag of tags) {
      const digest = await manifestDigest(context.access, repository, tag, signal)
      if (digest !== undefined) found.set(tag, digest)
    }
  }
  return found
}

/** A failure while moving or checking tags is a push failure (exit 8), whatever layer raised it. */
function asPushError(error: unknown, doing: string): DeployError {
  if (error instanceof MldeployError) return classify(error, 'push')
  if (error instanceof DeployError) {
    if (error.kind === 'push' || error.kind === 'auth') return error
    return new DeployError('push', error.message, {
      ...(error.hint === undefined ? {} : {hint: error.hint}),
      ...(error.detail === undefined ? {} : {detail: error.detail}),
      cause: error,
    })
  }
  return new DeployError('push', `${doing} failed: ${errorMessage(error)}`, {cause: error})
}

/**
 * Point every --to tag at the image --from names, with no build and no upload. A dry run makes
 * read-only calls only (STS GetCallerIdentity, ECR DescribeRepositories and DescribeImages) and
 * says what it could not read; it fails where the real run would fail before changing anything.
 */
export async function promote(context: PromoteContext, signal: AbortSignal): Promise<PromoteResult> {
  try {
    return await promoteTags(context, signal)
  } catch (error) {
    // A domain error (AWS, registry) outside the tag moves is a preflight failure (exit 3).
    throw error instanceof MldeployError ? classify(error, 'preflight') : error
  }
}

async function promoteTags(context: PromoteContext, signal: AbortSignal): Promise<PromoteResult> {
  const {config} = context
  const {push} = config
  const repository = push.repository.value
  const dryRun = push.dryRun
  let digests: Map<string, string> | undefined

  let identityError: unknown
  try {
    const identity = await context.aws.identity(signal)
    if (context.account !== undefined && context.account.value !== identity.account) {
      throw new DeployError(
        'preflight',
        `The AWS credentials are for account ${identity.account}, but ${context.account.source} says ${context.account.value}.`,
        {hint: 'Use the profile of the right account (--profile / AWS_PROFILE) or fix the account id.'},
      )
    }
    context.account = {value: identity.account, source: 'STS GetCallerIdentity'}
  } catch (error) {
    if (
      !dryRun ||
      (error instanceof DeployError && error.message.startsWith('The AWS credentials are for'))
    ) {
      throw error
    }
    identityError = error
  }

  let mutability: string | undefined
  if (identityError !== undefined) {
    context.warnings.push(
      `No AWS credentials could be used (${errorMessage(identityError).split('\n')[0]!.replace(/\.$/, '')}): the digest of ${config.from} and the current digests of ${config.to.join(', ')} are unknown, and so is what would change.${context.account === undefined ? ` The account shows as ${PLACEHOLDER.account}; pass --account-id to see the real references.` : ''}`,
    )
  } else {
    const account = context.account!.value
    // Also a clear error for a missing repository, and whether tags may move at all.
    mutability = (await context.aws.repository(repository, account, undefined, signal)).mutability
    if (push.registry !== undefined) {
      if (dryRun) {
        context.warnings.push(
          `The tags live in ${push.registry.value}, read through its own API with an ECR login token; a dry run asks for no token, so the digests there are unknown.`,
        )
      } else {
        const authorization = await context.aws.authorization(context.secrets, signal)
        context.access = {
          scheme: push.registryScheme,
          host: push.registry.value,
          username: authorization.username,
          password: authorization.password,
        }
      }
    }
    if (!dryRun || push.registry === undefined)
      digests = await digestsByTag(context, [config.from, ...config.to], signal)
  }

  const host = registryHost(context)
  const fromReference = imageReference(host, repository, config.from)
  const digest = digests?.get(config.from)
  if (digests !== undefined && digest === undefined) {
    throw new DeployError('preflight', `Tag ${config.from} does not exist in ${host}/${repository}.`, {
      hint: 'Check --from (the tag to promote) and the repository (--repository, --registry, --region).',
    })
  }

  const tags: PromotedTag[] = config.to.map((tag) => {
    const previous = digests?.get(tag)
    let change: TagChange = 'unknown'
    if (digests !== undefined)
      change = previous === undefined ? 'created' : previous === digest ? 'unchanged' : 'moved'
    return {
      tag,
      reference: imageReference(host, repository, tag),
      previousDigest: previous ?? null,
      change,
      verifiedDigest: null,
    }
  })

  if (mutability === 'IMMUTABLE') {
    const blocked = tags.find((each) => each.change === 'moved')
    if (blocked !== undefined) {
      throw new DeployError(
        'preflight',
        `Tag ${blocked.tag} already exists in the immutable repository ${repository} (image ${blocked.previousDigest}); it cannot be moved to ${digest}.`,
        {hint: 'Promote to a new tag, or make the repository mutable.'},
      )
    }
  }

  if (!dryRun && digest !== undefined) {
    for (const each of tags) {
      if (each.change === 'unchanged') continue
      try {
        if (context.access === undefined) await context.aws.retag(repository, digest, each.tag, signal)
        else await retagManifest(context.access, repository, digest, each.tag, signal)
      } catch (error) {
        throw asPushError(error, `Tagging ${repository}@${digest} as ${each.tag}`)
      }
    }
    let after: Map<string, string>
    try {
      after = await digestsByTag(context, config.to, signal)
    } catch (error) {
      throw asPushError(error, 'Verifying the tags')
    }
    for (const each of tags) {
      const actual = after.get(each.tag)
      if (actual !== digest) {
        throw new DeployError(
          'push',
          `Tag ${each.tag} points at ${actual ?? 'nothing'}, not at ${digest} (the image of ${config.from}).`,
          {hint: 'Another release may have moved it at the same time; check the repository and run again.'},
        )
      }
      each.verifiedDigest = actual
    }
  }

  const settings: PromoteResult['settings'] = {repository: push.repository, region: context.region}
  if (push.profile !== undefined) settings.profile = push.profile
  if (context.account !== undefined) settings.account = context.account
  if (push.registry !== undefined) settings.registry = push.registry
  if (push.stage !== undefined) settings.stage = {value: push.stage, source: 'flag --stage or MLDEPLOY_STAGE'}

  return {
    status: dryRun ? 'planned' : tags.every((each) => each.change === 'unchanged') ? 'unchanged' : 'promoted',
    dryRun,
    target: push.target.name,
    account: context.account?.value ?? null,
    region: context.region.value,
    registry: host,
    repository,
    from: {tag: config.from, reference: fromReference, digest: digest ?? null},
    digest: digest ?? null,
    imageByDigest: digest === undefined ? null : `${host}/${repository}@${digest}`,
    images: tags.map((each) => each.reference),
    bentoTag: null,
    tags,
    settings,
    envFiles: push.envFiles,
    warnings: context.warnings,
  }
}

const CHANGE_WORDS: Record<TagChange, [done: string, planned: string]> = {
  created: ['created', 'would be created'],
  moved: ['moved', 'would move'],
  unchanged: ['unchanged (already there)', 'unchanged (already there)'],
  unknown: ['?', 'unknown (see the warning)'],
}

export function formatPromote(result: PromoteResult): string {
  const short = (digest: string | null): string => digest ?? '(none)'
  const lines: string[] = []
  const head = result.dryRun
    ? `Promotion plan for ${result.target} (dry run: nothing was changed)`
    : result.status === 'unchanged'
      ? `Nothing to promote for ${result.target}: every tag already points at the image of ${result.from.tag}`
      : `Promoted ${result.target}: ${result.from.tag} -> ${result.tags.map((each) => each.tag).join(', ')}`
  lines.push(head)
  lines.push(`  from  ${result.from.reference}`)
  lines.push(`        = ${result.digest ?? '<digest unknown>'}`)
  const width = Math.max(...result.tags.map((each) => each.tag.length))
  for (const each of result.tags) {
    const word = CHANGE_WORDS[each.change][result.dryRun ? 1 : 0]
    const arrow =
      each.change === 'created' || each.change === 'moved'
        ? `  ${short(each.previousDigest)} -> ${result.digest ?? '?'}`
        : ''
    lines.push(`  to    ${each.tag.padEnd(width)}  ${word}${arrow}`)
  }
  if (result.imageByDigest !== null) lines.push(`  ${result.imageByDigest}`)
  return lines.join('\n')
}
