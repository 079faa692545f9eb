import path from 'node:path'

import type {PushConfig} from '../config/push-config.js'
import type {DeployConfig} from '../config/endpoint-config.js'
import {classify, DeployError, errorMessage, type ResultError, usageError} from '../errors.js'
import {platformOf} from '../image-facts.js'
import {type ScanReport, scanResult} from '../scan-findings.js'
import {PLACEHOLDER} from '../images.js'
import {DEFAULT_TAGS} from '../config/settings.js'
import {registerAwsSecrets, resolveRegion, targetAws} from '../systems/aws/index.js'
import {headCommit} from '../systems/git.js'
import {gitRevision} from '../systems/git-provenance.js'
import {makePrivateDir, removePrivateDir} from '../systems/workdir.js'
import {describeEngine, engineOfBuilder, isRemoteEngine} from '../systems/engine.js'
import {formatVpnCheck} from '../systems/vpn.js'
import {describeBuilder} from '../config/builder.js'
import {
  type DescribedStep,
  describePlan,
  firstFailure,
  newRun,
  type PlanRun,
  runPlans,
  type StepRecord,
} from './engine.js'
import type {IoHost} from './io-host.js'
import {pushPlan} from './plan.js'
import {codebuildPlanned, codebuildResult, CODEBUILD_PLAN} from './codebuild-plan.js'
import {CodeBuildState} from './codebuild-state.js'
import type {Step} from './step.js'
import {chainedEndpointBlock, type EndpointBlock, EndpointDeployState} from './endpoint-state.js'
import {adapterOn, DeployState, type ServingReport, type Verification, type VerifiedTag} from './state.js'
import {ADAPTER_SHA} from '../systems/sagemaker-adapter.js'
import type {TagChange} from '../steps/tag.js'
import {backendTagCommands, runBackendTag} from '../steps/push.js'
import {type CheckResult, type DryRunChecks, runDryRunChecks} from '../steps/dry-run-checks.js'
import {preflightStep} from '../steps/preflight.js'

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
  /** The tags the tag step pointed: created, moved (from `previousDigest`) or already there. */
  tagChanges: TagChange[]
  /** From ECR DescribeImages (null for another registry). */
  sizeBytes: number | null
  pushedAt: string | null
  repositoryCreated: boolean
  /** What the registry holds, read back after the upload (null when it could not be read). */
  image: {mediaType: string; platform: string | null; layers: number; sizeBytes: number} | null
  /** The format and deploy-target rules checked against it. */
  imageRules: Array<{rule: string; kind: string; ok: boolean; message: string; fix?: string}>
  steps: StepRecord[]
  settings: Record<string, {value: unknown; source: string}>
  envFiles: string[]
  warnings: string[]
  plan?: DescribedStep[]
  /** A dry run's read-only checks and what they ran; null with --offline (absent in a real run). */
  checks?: {results: CheckResult[]; ran: string[]} | null
  // --- reuse and push-only roles (issue 12) ---
  /** `sha256:` of what the image is made of (see "Reusing images"); null before the build. */
  contentDigest: string | null
  /** `content-<12 hex>`; null when left off (see warnings) or unknown. */
  contentTag: string | null
  /** An existing image was used instead of containerizing: from the repository (no upload) or the local engine. */
  reused: {source: 'repository' | 'local'; digest: string | null; builtFromBento: string | null} | null
  /** How the tags were read back; `verified: false` names the permission that would verify them. */
  verification: Verification | null
  /** Issue 25: the scan gate's verdict (`skipped` without --max-severity, or before the step ran). */
  scan: ScanReport
  /** Issue 24 §3, push --deploy: the endpoint the image was deployed to (null without --deploy). */
  deploy: EndpointBlock | null
  /** Issue 24: the SageMaker adapter's API and the local contract run's answer (null when not run). */
  sagemaker: {
    adapter: {sha: string; api: string | null; route: string | null} | null
    serving: ServingReport | null
  } | null
}

/** Region: flag, AWS_REGION, AWS_DEFAULT_REGION (read by the aws CLI, not by the SDK), profile, default. */
export {resolveRegion}

/** The project's commit, for --git-sha-tag (a read-only git call, so a dry run makes it too). */
async function gitShaTag(config: PushConfig): Promise<string> {
  let sha: string
  try {
    sha = await headCommit(config.target.root, config.childEnv)
  } catch (error) {
    // Before any step runs: a flag that cannot be honoured here is bad input (exit 2).
    throw usageError(
      `--git-sha-tag: ${errorMessage(error)}`,
      'Run it in the project checkout, or tag explicitly with --tag.',
    )
  }
  // A commit tag on an image built from uncommitted files would name code it does not hold.
  if ((await gitRevision(config.target.dir, config.childEnv))?.dirty === true) {
    const folder = path.relative(config.target.root, config.target.dir)
    throw usageError(
      `--git-sha-tag: ${folder} has uncommitted changes, so commit ${sha} is not what the image would hold.`,
      `Commit them (git status -- ${folder}), or tag with --tag instead.`,
    )
  }
  return sha
}

export async function prepareState(config: PushConfig, deploy?: DeployConfig): Promise<DeployState> {
  if (config.gitShaTag) {
    const sha = await gitShaTag(config)
    config.tags = {
      value: [...new Set([...config.tags.value, sha])],
      source: `${config.tags.source} + --git-sha-tag`,
    }
  }
  const {region, aws} = await targetAws(config)
  // Issue 13: with --builder codebuild the build runs in AWS; this machine packages and follows it.
  const state =
    config.builder.value.kind === 'codebuild'
      ? new CodeBuildState(config, region, aws)
      : new DeployState(config, region, aws)
  // Issue 13: an engine named by URL is known now; a context or connection is resolved by the preflight.
  const builder = config.builder.value
  if (isRemoteEngine(builder)) state.engine = engineOfBuilder(builder)
  if (deploy !== undefined)
    state.endpointDeploy = new EndpointDeployState(deploy, region, aws, {
      secrets: state.secrets,
      warningLog: state.warningLog,
    })
  state.backendTagCommands = (tag) => backendTagCommands(state, tag)
  state.runBackendTag = (tag, io) => runBackendTag(state, tag, io)
  registerAwsSecrets(config.childEnv, state.secrets)
  aws.shareSecretsWith(state.secrets)
  return state
}

/**
 * A dry run resolves what it can without side effects and runs the preflight's read-only checks
 * (the ones its description marks `dryRun`); `--offline` makes no call and starts nothing. The
 * account comes from STS when credentials are at hand, else from --account-id, else stays a
 * placeholder. A failed check is in `checks` and `failure`; the plan is complete either way.
 */
export async function planOnly(
  state: DeployState,
  signal: AbortSignal,
): Promise<{result: PushResult; failure: DeployError | undefined}> {
  let failure: DeployError | undefined
  let checks: DryRunChecks | undefined
  if (!state.config.offline) {
    checks = await runDryRunChecks(state, signal)
    // An interrupt is the ending, not the checks it cut short.
    if (checks.failure !== undefined && !signal.aborted)
      failure = classify(checks.failure, preflightStep.failure, {
        step: preflightStep.id,
        doing: preflightStep.title,
      })
  }
  if (state.account === undefined)
    state.warn(
      `${state.config.offline ? 'No AWS account is read with --offline' : 'No AWS account could be read'}; showing ${PLACEHOLDER.account}. Pass --account-id to see the real image references.`,
    )
  // --tag replaces the default list rather than extending it: say so before `latest` stops moving.
  const {tags} = state.config
  const dropped = DEFAULT_TAGS.filter((tag) => !tags.value.includes(tag))
  if (!tags.source.startsWith('default') && dropped.length > 0)
    state.warn(
      `The tags (${tags.source}) replace the default ${dropped.join(', ')}: this push leaves ${dropped.join(', ')} where ${dropped.length === 1 ? 'it is' : 'they are'}. Add --tag ${dropped.join(' --tag ')} to move ${dropped.length === 1 ? 'it' : 'them'} too.`,
    )
  if (state.config.bentoVersion === undefined) {
    state.warn(
      `The bento version is set by bentoml build at run time; the plan shows ${PLACEHOLDER.bentoVersion}. Pin it with --bento-version to see it.`,
    )
  }
  state.aws.close()
  const result: PushResult = {
    ...toResult(state),
    status: 'planned',
    plan: describePlan(planFor([state]), state),
    checks: checks === undefined ? null : {results: checks.results, ran: checks.ran},
    ...(state instanceof CodeBuildState ? codebuildPlanned(state) : {}),
  }
  return {result, failure}
}

/** Several targets at once: each gets its result; a failure of one leaves the others running. */
export interface ManyResult {
  status: 'pushed' | 'planned'
  dryRun: boolean
  targets: Array<PushResult | FailedPushResult>
}

export type FailedPushResult = Omit<PushResult, 'status'> & {
  status: 'failed'
  error: ResultError
}

export type PushRun = PlanRun<DeployState>

/**
 * Push every target (one or several), at most `concurrency` at once, each in its own private
 * folder that is removed whatever happens. Failures stay in each run.
 */
export async function pushTargets(
  states: readonly DeployState[],
  options: {host: IoHost; signal: AbortSignal; concurrency: number},
): Promise<PushRun[]> {
  const label = states.length > 1
  const plan = planFor(states)
  const runs = states.map((state) => newRun(plan, state, label ? state.config.target.name : undefined))
  try {
    // A private folder per run (auth file, digest files), mode 0700.
    for (const state of states) state.workDir = await makePrivateDir('mldeploy-')
    await runPlans(plan, runs, options)
  } finally {
    for (const state of states) if (state.workDir !== undefined) await removePrivateDir(state.workDir)
  }
  return runs
}

/** The plan of these targets: CodeBuild's or the local one (one run of targets uses one builder kind). */
function planFor(states: readonly DeployState[]): readonly Step<DeployState>[] {
  const remote = states.filter((state) => state instanceof CodeBuildState).length
  if (remote === 0)
    return pushPlan({
      scan: states.some((state) => state.config.scanGate !== undefined),
      serving: states.some((state) => state.config.sagemaker?.serving !== undefined),
      deploy: states.some((state) => state.endpointDeploy !== undefined),
    })
  if (remote < states.length)
    throw usageError(
      'Some of these targets build with --builder codebuild and some do not.',
      'Push them in separate runs (or give them the same builder).',
    )
  return CODEBUILD_PLAN as unknown as readonly Step<DeployState>[]
}

/**
 * After a late failure (login, push) the image built or found locally stays in the engine: the
 * failure says so and how to re-run (issue 16 §4), since a plain re-run pushes that image
 * without containerizing again (the reuse step finds it by its content label).
 */
export function noteLocalImage(run: PushRun, rerun: string): void {
  const {state, failure} = run
  if (failure === undefined || !leftLocalImage(state)) return
  const note = `The image stays in ${engineHolding(state)} (content ${state.content!.digest}): run \`${rerun}\` again and it is pushed without containerizing.`
  run.failure = failure.restated(failure.message, {
    hint: failure.hint === undefined ? note : `${failure.hint} ${note}`,
    ...(failure.detail === undefined ? {} : {detail: failure.detail}),
    cause: failure,
  })
}

/** Where a built image stays: this machine's engine, or the remote one of --builder. */
function engineHolding(state: DeployState): string {
  const backend = state.config.backend.value
  return state.engine === undefined
    ? `the local ${backend} engine`
    : `the ${backend} engine of ${state.engine.builder}`
}

/** Built (or found) locally, with a known content, and nothing of it in the registry yet. */
function leftLocalImage(state: DeployState): boolean {
  const local = state.builtLocally || state.reuse?.source === 'local'
  return local && state.content !== undefined && state.pushed.length === 0
}

/** A run's result: pushed, or failed with its error (what it pushed before failing is in `pushed`). */
export function runResult(run: PushRun): PushResult | FailedPushResult {
  const result = toResult(run.state, run.steps)
  if (run.state instanceof CodeBuildState) return codebuildResult(run.state, result, run.failure)
  if (run.failure === undefined) return {...result, status: 'pushed'}
  return {
    ...result,
    status: 'failed',
    error: run.failure.toResultError(),
  }
}

/** A push's outcome: the result (one target's, or several as one), each target's, and the failure. */
export interface PushOutcome<R> {
  result: R | ManyResult
  targets: R[]
  failure: DeployError | undefined
}

/**
 * The runs as one outcome. Several targets: every target's result, and the error that decides
 * the exit code (the first failed target's, in the order given) holding each failed target's.
 */
export function aggregate(runs: readonly PushRun[]): PushOutcome<PushResult | FailedPushResult> {
  const targets = runs.map(runResult)
  if (runs.length === 1) return {result: targets[0]!, targets, failure: runs[0]!.failure}
  const result: ManyResult = {status: 'pushed', dryRun: false, targets}
  const first = firstFailure(runs)
  if (first === undefined) return {result, targets, failure: undefined}
  const failedRuns = runs.filter((run) => run.failure !== undefined)
  const named = (run: PushRun): string => `${run.state.config.target.name}: ${run.failure!.message}`
  const failure = first.failure.restated(
    `${failedRuns.length} of ${runs.length} targets failed; first: ${named(first.run)}`,
    {targets: failedRuns.map((run) => run.failure!.restated(named(run)))},
  )
  return {result, targets, failure}
}

/**
 * The dry run of every target, one after the other: the plans, and the first failed check, named
 * after its target when there are several (it fails the dry run with the preflight's exit code).
 */
export async function planTargets(
  states: readonly DeployState[],
  signal: AbortSignal,
): Promise<PushOutcome<PushResult>> {
  const planned: Array<{result: PushResult; failure: DeployError | undefined}> = []
  for (const state of states) planned.push(await planOnly(state, signal))
  const targets = planned.map(({result}) => result)
  const failed = planned.find(({failure}) => failure !== undefined)
  if (states.length === 1) return {result: targets[0]!, targets, failure: failed?.failure}
  return {
    result: {status: 'planned', dryRun: true, targets},
    targets,
    failure: failed?.failure!.restated(`${failed.result.target}: ${failed.failure!.message}`, {
      step: 'preflight',
    }),
  }
}

/** The result so far; also what --json reports when a run fails part way. */
export function toResult(state: DeployState, steps: StepRecord[] = []): PushResult {
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
      value: formatVpnCheck(config.vpnCheck.value),
      source: config.vpnCheck.source,
    },
    bentoVersion: config.bentoVersion,
    // Issue 13: the builder, and the endpoint its docker context / podman connection resolved to.
    builder: {value: describeBuilder(config.builder.value), source: config.builder.source},
    engine: state.engine && {value: state.engine.url, source: describeEngine(state.engine)},
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
    tagChanges: state.tagChanges,
    sizeBytes: state.sizeBytes,
    pushedAt: state.pushedAt,
    repositoryCreated: state.repositoryFacts?.created ?? false,
    image:
      state.image === undefined
        ? null
        : {
            mediaType: state.image.mediaType,
            platform: platformOf(state.image),
            layers: state.image.layers,
            sizeBytes: state.image.totalSizeBytes,
          },
    imageRules: state.imageRules,
    steps,
    settings,
    envFiles: config.envFiles,
    warnings: state.warnings,
    contentDigest: state.content?.digest ?? null,
    contentTag:
      state.content === undefined || state.contentTagOmitted !== undefined ? null : state.content.tag,
    reused:
      state.reuse === undefined
        ? null
        : {
            source: state.reuse.source,
            digest: state.reuse.source === 'repository' ? state.reuse.digest : (state.digest ?? null),
            builtFromBento: state.reuse.builtFromBento,
          },
    verification: state.verification ?? null,
    scan: scanResult(state.scan, config.scanGate?.threshold.value, config.dryRun),
    deploy: state.endpointDeploy === undefined ? null : chainedEndpointBlock(state.endpointDeploy, steps),
    sagemaker:
      config.sagemaker === undefined
        ? null
        : {
            adapter: adapterOn(state)
              ? {
                  sha: ADAPTER_SHA,
                  api: state.sagemakerApi?.name ?? null,
                  route: state.sagemakerApi?.route ?? null,
                }
              : null,
            serving: state.serving,
          },
  }
}
