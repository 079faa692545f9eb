import type {RendererChoice} from '../cli/renderer.js'
import type {PushConfig} from '../config/push-config.js'
import {type DeployError, errorMessage, usageError} from '../errors.js'
import {runChild} from '../process.js'
import {SecretRegistry} from '../secrets.js'
import {PLACEHOLDER} from '../images.js'
import {AwsClients, awsSettingsFor, registerAwsSecrets, resolveRegion} from '../systems/aws/index.js'
import {describePlan, PUSH_PLAN, type PlannedStep} from './plan.js'
import {DeployState, type StepRecord, type VerifiedTag} from './state.js'

export interface PushResult {
  status: 'pushed' | 'planned'
  dryRun: boolean
  target: string
  bentoTag: string | null
  account: string | null
  region: string
  registry: string
  repository: string
  images: string[]
  /** What reached the registry; on failure, less than `images`. */
  pushed: string[]
  digest: string | null
  /** The image by digest: `<registry>/<repository>@sha256:...` */
  imageByDigest: string | null
  /** Per tag, the digest the registry reports after the run. */
  verified: VerifiedTag[]
  /** From ECR DescribeImages (null for another registry). */
  sizeBytes: number | null
  pushedAt: string | null
  repositoryCreated: boolean
  steps: StepRecord[]
  settings: Record<string, {value: unknown; source: string}>
  envFiles: string[]
  warnings: string[]
  plan?: PlannedStep[]
}

/** Region: flag, AWS_REGION, AWS_DEFAULT_REGION (read by the aws CLI, not by the SDK), profile, default. */
export {resolveRegion}

/** The project's commit, for --git-sha-tag (a read-only git call, so a dry run makes it too). */
async function gitShaTag(config: PushConfig): Promise<string> {
  const result = await runChild({
    command: 'git',
    args: ['rev-parse', '--short=12', 'HEAD'],
    cwd: config.target.root,
    baseEnv: config.childEnv,
    secrets: new SecretRegistry(),
    timeoutMs: 10_000,
  })
  const sha = result.tail.at(-1)?.trim() ?? ''
  if (result.exitCode !== 0 || !/^[0-9a-f]{7,40}$/.test(sha)) {
    throw usageError(
      `--git-sha-tag: ${config.target.root} is not a git checkout with a commit (${result.spawnErrorCode ?? result.tail.at(-1) ?? 'no output'}).`,
      'Run it in the project checkout, or tag explicitly with --tag.',
    )
  }
  return sha
}

export async function prepareState(config: PushConfig): Promise<DeployState> {
  if (config.gitShaTag) {
    const sha = await gitShaTag(config)
    config.tags = {
      value: [...new Set([...config.tags.value, sha])],
      source: `${config.tags.source} + --git-sha-tag`,
    }
  }
  const region = await resolveRegion(config)
  // This target's own endpoint and credentials, from its environment record (not process.env).
  const aws = new AwsClients(
    awsSettingsFor(config.childEnv, {
      region: region.value,
      profile: config.profile?.value,
      quick: config.dryRun,
    }),
  )
  const state = new DeployState(config, region, aws)
  registerAwsSecrets(config.childEnv, state.secrets)
  aws.shareSecretsWith(state.secrets)
  return state
}

/**
 * A dry run resolves what it can without side effects: the account comes from a read-only STS
 * call when credentials are at hand, else from --account-id, else stays a placeholder.
 */
export async function planOnly(state: DeployState): Promise<PushResult> {
  if (state.account === undefined) {
    try {
      const identity = await state.aws.identity(AbortSignal.timeout(8000))
      state.account = {value: identity.account, source: 'STS GetCallerIdentity'}
    } catch (error) {
      state.warn(
        `No AWS account could be read (${errorMessage(error).split('\n')[0]}); showing ${PLACEHOLDER.account}. Pass --account-id to see the real image references.`,
      )
    }
  }
  if (state.config.bentoVersion === undefined) {
    state.warn(
      `The bento version is set by bentoml build at run time; the plan shows ${PLACEHOLDER.bentoVersion}. Pin it with --bento-version to see it.`,
    )
  }
  const result = toResult(state)
  return {...result, status: 'planned', plan: describePlan(PUSH_PLAN, state)}
}

/** Several targets at once: each gets its result, a failure of one leaves the others running. */
export interface ManyResult {
  status: 'pushed' | 'planned'
  dryRun: boolean
  targets: Array<PushResult | (Omit<PushResult, 'status'> & {status: 'failed'; error: unknown})>
}

export async function runMany(
  states: readonly DeployState[],
  renderer: RendererChoice,
  signal: AbortSignal,
  concurrency: number,
): Promise<{results: PushResult[]; failures: Map<number, DeployError>}> {
  const {executePlans} = await import('./runner.js')
  await executePlans(PUSH_PLAN, states, {renderer, signal, concurrency})
  const failures = new Map<number, DeployError>()
  for (const [index, state] of states.entries())
    if (state.failure !== undefined) failures.set(index, state.failure)
  return {results: states.map((state) => ({...toResult(state), status: 'pushed'})), failures}
}

export async function runPush(
  state: DeployState,
  renderer: RendererChoice,
  signal: AbortSignal,
): Promise<PushResult> {
  // listr2 is loaded only by a real run: a dry run never needs it.
  const {executePlan} = await import('./runner.js')
  await executePlan(PUSH_PLAN, state, {renderer, signal})
  return {...toResult(state), status: 'pushed'}
}

/** The result so far; also what --json reports when a run fails part way. */
export function toResult(state: DeployState): PushResult {
  const {config} = state
  const settings: PushResult['settings'] = {
    backend: config.backend,
    repository: config.repository,
    tags: config.tags,
    region: state.region,
    python: {value: config.python.value.description, source: config.python.source},
  }
  const optional = {
    profile: config.profile,
    account: state.account,
    registry: state.registry,
    platform: config.platform,
    vpnCheck: config.vpnCheck && {
      value: `${config.vpnCheck.value.host}:${config.vpnCheck.value.port}`,
      source: config.vpnCheck.source,
    },
    bentoVersion: config.bentoVersion,
    stage:
      config.stage === undefined
        ? undefined
        : {value: config.stage, source: 'flag --stage or MLDEPLOY_STAGE'},
  }
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) settings[key] = value
  return {
    status: 'planned',
    dryRun: config.dryRun,
    target: config.target.name,
    bentoTag: state.bentoTag ?? null,
    account: state.account?.value ?? null,
    region: state.region.value,
    registry: state.registry.value,
    repository: config.repository.value,
    images: state.images,
    pushed: state.pushed,
    digest: state.digest ?? null,
    imageByDigest:
      state.digest === undefined
        ? null
        : `${state.registry.value}/${config.repository.value}@${state.digest}`,
    verified: state.verified,
    sizeBytes: state.sizeBytes,
    pushedAt: state.pushedAt,
    repositoryCreated: state.repositoryFacts?.created ?? false,
    steps: state.steps,
    settings,
    envFiles: config.envFiles,
    warnings: state.warnings,
  }
}
