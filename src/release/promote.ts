import type {Sourced} from '../config/env-layers.js'
import {locatingPushFlags, type PushConfig, type PushFlags, resolvePushConfig} from '../config/push-config.js'
import {CheckError, type DeployError, errorMessage, usageError} from '../errors.js'
import {ecrRegistryHost, imageReference, PLACEHOLDER, validateImageTag} from '../images.js'
import {type DescribedStep, describePlan, newRun, runPlans, type StepRecord} from '../pipeline/engine.js'
import type {IoHost} from '../pipeline/io-host.js'
import type {PlannedAction, Step} from '../pipeline/step.js'
import {SecretRegistry} from '../secrets.js'
import {checkAccount} from '../systems/account.js'
import {
  type Authorization,
  AwsClients,
  awsSettingsFor,
  registerAwsSecrets,
  resolveRegion,
} from '../systems/aws/index.js'
import {manifestDigest, registryCalls} from '../systems/registry-api.js'
import {registryAccess, tagStep, type TagTarget, type VerifiedTag, verifyStep} from '../steps/tag.js'

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
  /** This run pointed the tag at the image (also on a run that failed or was interrupted later). */
  applied: boolean
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
  steps: StepRecord[]
  /** A dry run: what the steps that change tags would do. */
  plan?: DescribedStep[]
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
  readonly warnings: string[] = []
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

/**
 * Identity, account and repository (and with --registry, a login token for its API). A dry run
 * without usable credentials goes on with what it cannot know said in a warning; a wrong account
 * stops it like a real run.
 */
const identityStep: Step<PromoteState> = {
  id: 'preflight',
  title: 'Identity and repository',
  failure: 'preflight',
  describe: (state) => ({
    actions: [
      {
        text: `AWS identity: STS GetCallerIdentity (region ${state.region.value})`,
        calls: ['aws:sts:GetCallerIdentity'],
      },
      {
        text: `ECR repository ${state.repository} exists (and may tags move?): ECR DescribeRepositories`,
        calls: ['aws:ecr:DescribeRepositories'],
      },
      ...(state.registryIsEcr || state.config.push.dryRun
        ? []
        : [
            {
              text: `A login token for the registry API of ${state.registry.value}: ECR GetAuthorizationToken`,
              calls: ['aws:ecr:GetAuthorizationToken'],
            },
          ]),
    ],
    commands: [],
  }),
  async run(state, io) {
    const {dryRun} = state.config.push
    let identity
    try {
      identity = await state.aws.identity(io.signal)
    } catch (error) {
      if (!dryRun) throw error
      state.warnings.push(
        `No AWS credentials could be used (${errorMessage(error).split('\n')[0]!.replace(/\.$/, '')}): the digest of ${state.config.from} and the current digests of ${state.config.to.join(', ')} are unknown, and so is what would change.${state.account === undefined ? ` The account shows as ${PLACEHOLDER.account}; pass --account-id to see the real references.` : ''}`,
      )
      return
    }
    checkAccount(identity, state.account)
    state.account = {value: identity.account, source: 'STS GetCallerIdentity'}
    state.mutability = (
      await state.aws.repository(state.repository, identity.account, undefined, io.signal)
    ).mutability
    io.output(`account ${identity.account}; repository ${state.repository} (${state.mutability})`)
    if (!state.registryIsEcr && !dryRun)
      state.authorization = await state.aws.authorization(state.secrets, io.signal)
  },
}

/** The digests of --from and every --to tag, and so what each --to tag will do. */
const resolveStep: Step<PromoteState> = {
  id: 'resolve',
  title: 'Read the tags',
  failure: 'preflight',
  describe(state) {
    const tags = [state.config.from, ...state.config.to].join(', ')
    const action: PlannedAction = state.registryIsEcr
      ? {text: `Digests of ${tags}: ECR DescribeImages`, calls: ['aws:ecr:DescribeImages']}
      : {
          text: `Digests of ${tags}: registry API of ${state.registry.value} (HEAD manifest)`,
          calls: [registryCalls.headManifest(state.repository)],
        }
    return {
      actions: [{...action, when: 'the identity was read (a dry run may lack credentials or a token)'}],
      commands: [],
    }
  },
  async run(state, io) {
    if (state.account === undefined || state.mutability === undefined) return
    if (!state.registryIsEcr && state.authorization === undefined) {
      state.warnings.push(
        `The tags live in ${state.registry.value}, read through its own API with an ECR login token; a dry run asks for no token, so the digests there are unknown.`,
      )
      return
    }
    const tags = [state.config.from, ...state.config.to]
    const found = new Map<string, string>()
    if (state.registryIsEcr) {
      for (const [tag, facts] of await state.aws.imagesByTag(state.repository, tags, io.signal))
        found.set(tag, facts.digest)
    } else {
      const access = registryAccess(state)
      for (const tag of tags) {
        const digest = await manifestDigest(access, state.repository, tag, io.signal)
        if (digest !== undefined) found.set(tag, digest)
      }
    }
    state.digests = found
    const digest = state.digest
    if (digest === undefined) {
      throw new CheckError(
        'tag-missing',
        `Tag ${state.config.from} does not exist in ${state.registry.value}/${state.repository}.`,
        {
          hint: 'Check --from (the tag to promote) and the repository (--repository, --registry, --region).',
        },
      )
    }
    for (const each of state.tags) {
      const previous = found.get(each.tag)
      each.previousDigest = previous ?? null
      each.change = previous === undefined ? 'created' : previous === digest ? 'unchanged' : 'moved'
      io.output(`${each.tag}: ${each.change}`)
    }
    const blocked =
      state.mutability === 'IMMUTABLE' ? state.tags.find((each) => each.change === 'moved') : undefined
    if (blocked !== undefined) {
      throw new CheckError(
        'tag-taken',
        `Tag ${blocked.tag} already exists in the immutable repository ${state.repository} (image ${blocked.previousDigest}); it cannot be moved to ${digest}.`,
        {hint: 'Promote to a new tag, or make the repository mutable.'},
      )
    }
  },
}

/** Read-only first (a dry run walks only these), then the changes. */
export const PROMOTE_CHECKS: readonly Step<PromoteState>[] = [identityStep, resolveStep]
export const PROMOTE_PLAN: readonly Step<PromoteState>[] = [
  ...PROMOTE_CHECKS,
  tagStep<PromoteState>('Point the --to tags (no upload)'),
  verifyStep<PromoteState>(),
]

/**
 * Point every --to tag at the image --from names, with no build and no upload. A dry run walks
 * the read-only steps only (STS GetCallerIdentity, ECR DescribeRepositories and DescribeImages)
 * and describes the rest; it fails where the real run would fail before changing anything.
 */
export async function promote(
  state: PromoteState,
  options: {host: IoHost; signal: AbortSignal},
): Promise<{result: PromoteResult; failure: DeployError | undefined}> {
  const plan = state.config.push.dryRun ? PROMOTE_CHECKS : PROMOTE_PLAN
  const run = newRun(plan, state)
  try {
    await runPlans(plan, [run], options)
  } finally {
    state.aws.close()
  }
  return {result: promoteResult(state, run.steps), failure: run.failure}
}

export function promoteResult(state: PromoteState, steps: StepRecord[]): PromoteResult {
  const {push} = state.config
  const settings: PromoteResult['settings'] = {repository: push.repository, region: state.region}
  if (push.profile !== undefined) settings.profile = push.profile
  if (state.account !== undefined) settings.account = state.account
  if (push.registry !== undefined) settings.registry = push.registry
  if (push.stage !== undefined) settings.stage = {value: push.stage, source: 'flag --stage or MLDEPLOY_STAGE'}
  const host = state.registry.value
  const digest = state.digest
  const tags = state.tags.map((each) => ({
    ...each,
    reference: imageReference(host, state.repository, each.tag),
  }))
  return {
    status: push.dryRun
      ? 'planned'
      : tags.every((each) => each.change === 'unchanged')
        ? 'unchanged'
        : 'promoted',
    dryRun: push.dryRun,
    target: push.target.name,
    account: state.account?.value ?? null,
    region: state.region.value,
    registry: host,
    repository: state.repository,
    from: {
      tag: state.config.from,
      reference: imageReference(host, state.repository, state.config.from),
      digest: digest ?? null,
    },
    digest: digest ?? null,
    imageByDigest: digest === undefined ? null : `${host}/${state.repository}@${digest}`,
    images: tags.map((each) => each.reference),
    bentoTag: null,
    tags,
    settings,
    envFiles: push.envFiles,
    warnings: state.warnings,
    steps,
    ...(push.dryRun ? {plan: describePlan(PROMOTE_PLAN.slice(PROMOTE_CHECKS.length), state)} : {}),
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
