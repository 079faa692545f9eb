import path from 'node:path'

import type {Sourced} from './env-layers.js'
import type {FlagValuesFor} from './flags.js'
import {DEFAULT_TRAFFIC_STEP, parseTrafficStep, type TrafficShifting} from './deploy-settings.js'
import {locatingPushFlags, type PushConfig, resolvePushConfig, targetSettingsReader} from './push-config.js'
import {SETTINGS, SettingsReader} from './settings.js'
import {usageError} from '../errors.js'
import type {DeploymentGuardrails} from '../systems/aws/index.js'

// The configuration of a deploy to a SageMaker endpoint: `mldeploy deploy`'s, and the one
// `push --deploy` / `promote --deploy` chain after their own steps (issue 24 §3).

export type DeployFlags = FlagValuesFor<'deploy'> & {verbose?: boolean}

export interface DeployConfig {
  push: PushConfig
  roleArn: Sourced<string>
  instanceType: Sourced<string>
  instanceCount: Sourced<number>
  variantName: Sourced<string>
  endpointName: Sourced<string>
  /**
   * The image: a digest given, else the tag whose digest is read from ECR; `chained`: the digest
   * push just pushed, or promote's --from digest (push --deploy, promote --deploy).
   */
  image:
    | {tag: string; digest?: undefined; chained?: undefined}
    | {digest: string; tag?: undefined; chained?: undefined}
    | {chained: 'push' | 'promote'; tag?: undefined; digest?: undefined}
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
  const read = targetSettingsReader(push, flags, processEnv)
  return endpointConfig(push, read, imageOf(read))
}

/** --image-digest, else --image-tag, else what `latest` points at. */
function imageOf(read: SettingsReader): DeployConfig['image'] {
  const digest = read.get(SETTINGS.deployImageDigest)
  return digest !== undefined
    ? {digest: digest.value}
    : {tag: read.get(SETTINGS.deployImageTag)?.value ?? 'latest'}
}

/**
 * push --deploy and promote --deploy: the deploy settings of the same target (its files, the
 * command's flags), the image being the one the push pushed or the promote moved its tags to.
 */
export function resolveChainedDeploy(
  push: PushConfig,
  flags: Partial<DeployFlags>,
  processEnv: NodeJS.ProcessEnv,
  command: 'push' | 'promote',
): DeployConfig {
  if (push.registry !== undefined)
    throw usageError(
      `--deploy runs the image on SageMaker, which pulls only from ECR, and the registry (from ${push.registry.source}) is ${push.registry.value}.`,
      'Push to ECR (drop --registry), or deploy separately with mldeploy deploy.',
    )
  // Its plan runs in AWS, where nothing of mldeploy's deploy steps would run after it.
  if (command === 'push' && push.builder.value.kind === 'codebuild')
    throw usageError(
      `--deploy is not chained after --builder codebuild (from ${push.builder.source}) yet.`,
      'Push first, then run mldeploy deploy on the pushed image.',
    )
  if (command === 'push' && push.deployTarget.value !== 'sagemaker')
    throw usageError(
      `--deploy runs the image on SageMaker, and the deploy target (from ${push.deployTarget.source}) is ${push.deployTarget.value}: the image would not get the SageMaker adapter nor be checked against its rules.`,
      'Add --deploy-target sagemaker (or deploy-target: sagemaker in mldeploy.yaml).',
    )
  return endpointConfig(push, targetSettingsReader(push, flags, processEnv), {chained: command})
}

/**
 * doctor's view of a target's deploy: the settings `mldeploy deploy` would use (the target's files
 * and the environment; doctor has none of deploy's flags). Undefined when no execution role is
 * set anywhere: the target does not deploy.
 */
export function resolveDeployForDoctor(
  push: PushConfig,
  processEnv: NodeJS.ProcessEnv,
): DeployConfig | undefined {
  const read = targetSettingsReader(push, {}, processEnv)
  if (read.get(SETTINGS.executionRoleArn) === undefined) return undefined
  return endpointConfig(push, read, imageOf(read))
}

function endpointConfig(push: PushConfig, read: SettingsReader, image: DeployConfig['image']): DeployConfig {
  const {target} = push
  const roleArn = read.get(SETTINGS.executionRoleArn)
  if (roleArn === undefined)
    throw usageError(
      'deploy needs the execution role SageMaker runs the model with, and none is set.',
      `Put execution-role-arn: arn:aws:iam::<account>:role/<name> in ${path.relative(target.root, path.join(target.dir, 'mldeploy.yaml'))} (or pass --execution-role-arn, or set MLDEPLOY_SAGEMAKER_ROLE_ARN).`,
    )
  const config: DeployConfig = {
    push,
    roleArn,
    instanceType: read.must(SETTINGS.instanceType),
    instanceCount: read.must(SETTINGS.instanceCount),
    variantName: read.must(SETTINGS.variantName),
    endpointName: read.must(SETTINGS.endpointName),
    image,
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
