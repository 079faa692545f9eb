import {createHash} from 'node:crypto'
import path from 'node:path'

import type {Sourced} from '../config/env-layers.js'
import type {FlagValuesFor} from '../config/flags.js'
import {
  DEFAULT_TRAFFIC_STEP,
  parseTrafficStep,
  sageMakerName,
  type TrafficShifting,
} from '../config/deploy-settings.js'
import {loadLayers, locatingPushFlags, type PushConfig, resolvePushConfig} from '../config/push-config.js'
import {SETTINGS, SettingsReader} from '../config/settings.js'
import {usageError} from '../errors.js'
import type {ImageFacts} from '../image-facts.js'
import {ecrRegistryHost, PLACEHOLDER} from '../images.js'
import {WarningLog} from '../pipeline/warnings.js'
import {SecretRegistry} from '../secrets.js'
import {
  AwsClients,
  awsSettingsFor,
  type DeploymentGuardrails,
  type EndpointFacts,
  type EndpointStatus,
  Iam,
  registerAwsSecrets,
  resolveRegion,
  SageMaker,
} from '../systems/aws/index.js'

// `mldeploy deploy`'s configuration and the state its plan walks (its steps: deploy-steps.ts).

export type DeployFlags = FlagValuesFor<'deploy'> & {verbose?: boolean}

export interface DeployConfig {
  push: PushConfig
  roleArn: Sourced<string>
  instanceType: Sourced<string>
  instanceCount: Sourced<number>
  variantName: Sourced<string>
  endpointName: Sourced<string>
  /** The image: a digest given, else the tag whose digest is read from ECR. */
  image: {tag: string; digest?: undefined} | {digest: string; tag?: undefined}
  /** UpdateEndpoint's DeploymentConfig; undefined: none (SageMaker's default). */
  guardrails: DeploymentGuardrails | undefined
  wait: boolean
  waitTimeoutMs: number
  pollMs: number
}

/** Push's resolution of the target, region, profile and repository, then deploy's own settings. */
export function resolveDeployConfig(
  targetSpec: string,
  flags: DeployFlags,
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
): DeployConfig {
  if (flags['image-tag'] !== undefined && flags['image-digest'] !== undefined)
    throw usageError('--image-tag and --image-digest both name the image.', 'Give one of them.')
  const push = resolvePushConfig(
    targetSpec,
    locatingPushFlags(flags, flags['dry-run'] ?? false),
    processEnv,
    cwd,
  )
  const {target} = push
  const layers = loadLayers(
    processEnv,
    target.root,
    target.dir,
    push.stage,
    `${target.dir} or ${target.root}`,
  )
  const read = new SettingsReader(flags, layers, {target})
  const roleArn = read.get(SETTINGS.executionRoleArn)
  if (roleArn === undefined)
    throw usageError(
      'deploy needs the execution role SageMaker runs the model with, and none is set.',
      `Put execution-role-arn: arn:aws:iam::<account>:role/<name> in ${path.relative(target.root, path.join(target.dir, 'mldeploy.yaml'))} (or pass --execution-role-arn, or set MLDEPLOY_SAGEMAKER_ROLE_ARN).`,
    )
  const digest = read.get(SETTINGS.deployImageDigest)
  const tag = read.get(SETTINGS.deployImageTag)
  const config: DeployConfig = {
    push,
    roleArn,
    instanceType: read.must(SETTINGS.instanceType),
    instanceCount: read.must(SETTINGS.instanceCount),
    variantName: read.must(SETTINGS.variantName),
    endpointName: read.must(SETTINGS.endpointName),
    image: digest !== undefined ? {digest: digest.value} : {tag: tag?.value ?? 'latest'},
    guardrails: resolveGuardrails(read),
    wait: read.must(SETTINGS.wait).value,
    waitTimeoutMs: read.must(SETTINGS.waitTimeout).value,
    pollMs: read.must(SETTINGS.pollSeconds).value * 1000,
  }
  if (push.accountId !== undefined && roleArnAccount(roleArn.value) !== push.accountId.value)
    throw usageError(
      `Execution role (from ${roleArn.source}) ${roleArn.value} is in account ${roleArnAccount(roleArn.value)}, and the target deploys to ${push.accountId.value}.`,
      'Name a role of the same account.',
    )
  push.shadowed.push(...read.shadowed)
  push.fromFiles.push(...read.fromFiles)
  return config
}

const SHIFTING_TYPE: Record<TrafficShifting, DeploymentGuardrails['traffic']['type']> = {
  'all-at-once': 'ALL_AT_ONCE',
  canary: 'CANARY',
  linear: 'LINEAR',
}

/** The guardrails, when any of their settings is given (a --traffic-step alone is bad input). */
function resolveGuardrails(read: SettingsReader): DeploymentGuardrails | undefined {
  const shifting = read.get(SETTINGS.trafficShifting)
  const alarms = read.must(SETTINGS.rollbackAlarms).value
  const step = read.get(SETTINGS.trafficStep)
  const maxExecution = read.get(SETTINGS.maxExecutionSeconds)
  if (shifting === undefined && alarms.length === 0) {
    const stray = step ?? maxExecution
    if (stray !== undefined)
      throw usageError(
        `${stray.source} sets a deployment guardrail, and no update shifting is asked for.`,
        'Add --traffic-shifting canary|linear|all-at-once (or --rollback-alarm), or drop it.',
      )
    return undefined
  }
  const kind = shifting?.value ?? 'all-at-once'
  if (kind === 'all-at-once' && step !== undefined)
    throw usageError(
      `${step.source} sets a traffic step, and all-at-once shifting has none.`,
      'Use --traffic-shifting canary or linear, or drop it.',
    )
  const size =
    kind === 'all-at-once'
      ? undefined
      : (step?.value ?? parseTrafficStep(DEFAULT_TRAFFIC_STEP[kind], 'default'))
  return {
    traffic: {type: SHIFTING_TYPE[kind], ...(size === undefined ? {} : {size})},
    waitIntervalSeconds: read.must(SETTINGS.trafficWaitSeconds).value,
    terminationWaitSeconds: read.must(SETTINGS.terminationWaitSeconds).value,
    maxExecutionTimeoutSeconds: maxExecution?.value,
    alarms: [...new Set(alarms)],
  }
}

export function roleArnAccount(arn: string): string {
  return arn.split(':')[4] ?? ''
}

export function roleArnName(arn: string): string {
  // arn:aws:iam::<account>:role/<path/>name: GetRole takes the name alone.
  return arn.split(':').slice(5).join(':').split('/').at(-1) ?? ''
}

/** What became of one resource: made by this run, found and kept, or (dry run) what would happen. */
export type ResourceChange = 'created' | 'reused' | 'updated' | 'unchanged' | 'unknown'

export interface EndpointView {
  configName: string | null
  status: EndpointStatus | null
}

/**
 * What a deploy learns as it goes: who calls, the image's digest and facts, the derived names,
 * what exists in SageMaker, what changed and how the endpoint ended.
 */
export class EndpointDeployState {
  readonly secrets = new SecretRegistry()
  readonly warningLog = new WarningLog()
  readonly sagemaker: SageMaker
  readonly iam: Iam
  account: Sourced<string> | undefined
  /** The caller's principal as IAM simulates it (an assumed role mapped to its role). */
  principalArn: string | undefined
  digest: string | undefined
  image: ImageFacts | undefined
  /** What SageMaker held before this run (read by the `current` step). */
  existing: {model: boolean; config: boolean; endpoint: EndpointFacts | undefined} | undefined
  changes: {model: ResourceChange; config: ResourceChange; endpoint: ResourceChange} = {
    model: 'unknown',
    config: 'unknown',
    endpoint: 'unknown',
  }
  before: EndpointView = {configName: null, status: null}
  endpoint: EndpointFacts | undefined
  /** The wait saw SageMaker roll the update back (RollingBack). */
  rolledBack = false
  /** Whether the wait ran to an end (InService), was skipped (--no-wait), or was cut short. */
  waited: 'in-service' | 'skipped' | 'stopped' | 'failed' | 'not-started' = 'not-started'

  constructor(
    readonly config: DeployConfig,
    readonly region: Sourced<string>,
    readonly aws: AwsClients,
  ) {
    this.account = config.push.accountId
    this.sagemaker = new SageMaker(aws)
    this.iam = new Iam(aws)
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

  get accountShown(): string {
    return this.account?.value ?? PLACEHOLDER.account
  }

  get registry(): string {
    return ecrRegistryHost(this.accountShown, this.region.value)
  }

  /** `<registry>/<repository>@<digest>`: what the model runs (a digest: a moved tag never changes it). */
  get imageReference(): string {
    return `${this.registry}/${this.repository}@${this.digest ?? '<digest>'}`
  }

  get endpointName(): string {
    return this.config.endpointName.value
  }

  /** The first 12 hex digits of the digest: enough to tell images apart in a name. */
  private get shortDigest(): string {
    return this.digest === undefined ? '<digest>' : this.digest.replace(/^sha256:/, '').slice(0, 12)
  }

  /** `<target>-<digest12>`: one model per image of the target. */
  get modelName(): string {
    return sageMakerName(this.config.push.target.name, this.shortDigest)
  }

  /** `<target>-<digest12>-<hash6>`: the hash covers the variant (instance type and count, name). */
  get configName(): string {
    const {instanceType, instanceCount, variantName} = this.config
    const variant = createHash('sha256')
      .update(JSON.stringify([instanceType.value, instanceCount.value, variantName.value]))
      .digest('hex')
      .slice(0, 6)
    return sageMakerName(this.config.push.target.name, this.shortDigest, variant)
  }

  arnOf(kind: 'model' | 'endpoint-config' | 'endpoint', name: string): string {
    // SageMaker's ARNs hold the names lowercased.
    return `arn:aws:sagemaker:${this.region.value}:${this.accountShown}:${kind}/${name.toLowerCase()}`
  }

  get repositoryArn(): string {
    return `arn:aws:ecr:${this.region.value}:${this.accountShown}:repository/${this.repository}`
  }
}

export async function prepareDeploy(config: DeployConfig): Promise<EndpointDeployState> {
  const region = await resolveRegion(config.push)
  // This target's own endpoint and credentials, from its environment record (not process.env).
  const aws = new AwsClients(
    awsSettingsFor(config.push.childEnv, {
      region: region.value,
      profile: config.push.profile?.value,
      quick: config.push.dryRun,
    }),
  )
  const state = new EndpointDeployState(config, region, aws)
  registerAwsSecrets(config.push.childEnv, state.secrets)
  aws.shareSecretsWith(state.secrets)
  return state
}
