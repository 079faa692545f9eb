import type {Sourced} from '../config/env-layers.js'
import {CODEBUILD_IMAGE, CODEBUILD_PREFIX, type VpcConfig} from '../config/codebuild-settings.js'
import {EnvLayers} from '../config/env-layers.js'
import {SETTINGS, SettingsReader} from '../config/settings.js'
import type {FlagValuesFor} from '../config/flags.js'
import {type DeployError, errorMessage, usageError} from '../errors.js'
import {PLACEHOLDER} from '../images.js'
import {AwsClients, awsSettingsFor, registerAwsSecrets, resolveRegion} from '../systems/aws/index.js'
import {SETUP_PLAN} from '../steps/codebuild/setup.js'
import {type DescribedStep, describePlan, newRun, runPlans, type StepRecord} from './engine.js'
import type {IoHost} from './io-host.js'
import {type SetupConfig, SetupState} from './setup-state.js'

export type SetupFlags = FlagValuesFor<'builder setup'>

/** Flags, then the environment (no project: a setup belongs to the account, not to a target). */
export function resolveSetupConfig(
  builder: string | undefined,
  flags: SetupFlags,
  processEnv: NodeJS.ProcessEnv,
): SetupConfig {
  if (builder !== 'codebuild')
    throw usageError(
      `Builder ${JSON.stringify(builder ?? '')} has no setup.`,
      'Use: mldeploy builder setup codebuild --role-arn <arn> (remote engines need none).',
    )
  const read = new SettingsReader(flags, new EnvLayers(processEnv, []))
  const roleArn = read.get(SETTINGS.codebuildRoleArn)
  if (roleArn === undefined)
    throw usageError(
      'Missing --role-arn: the IAM role CodeBuild builds with.',
      'Pass --role-arn arn:aws:iam::<account>:role/<name> (README "Remote builds" lists what it needs).',
    )
  return {
    project: read.must(SETTINGS.codebuildProject),
    bucket: read.get(SETTINGS.codebuildBucket),
    roleArn,
    computeType: read.must(SETTINGS.codebuildComputeType) as Sourced<string>,
    vpc: read.get(SETTINGS.codebuildVpcConfig),
    region: read.get(SETTINGS.region),
    profile: read.get(SETTINGS.profile),
    dryRun: flags['dry-run'] ?? false,
    env: new EnvLayers(processEnv, []).childEnv(),
  }
}

export interface SetupResult {
  status: 'created' | 'updated' | 'planned'
  dryRun: boolean
  project: string
  bucket: string
  prefix: string
  region: string
  account: string | null
  roleArn: string
  computeType: string
  image: string
  vpc: VpcConfig | null
  bucketCreated: boolean
  steps: StepRecord[]
  plan?: DescribedStep[]
}

export async function prepareSetup(config: SetupConfig): Promise<SetupState> {
  const region = await resolveRegion({region: config.region, profile: config.profile, childEnv: config.env})
  const aws = new AwsClients(
    awsSettingsFor(config.env, {region: region.value, profile: config.profile?.value, quick: config.dryRun}),
  )
  const state = new SetupState(config, region, aws)
  registerAwsSecrets(config.env, state.secrets)
  aws.shareSecretsWith(state.secrets)
  return state
}

/** Walk the setup plan; a dry run reads the account (STS, read-only) and describes every call. */
export async function setup(
  state: SetupState,
  options: {host: IoHost; signal: AbortSignal},
): Promise<{result: SetupResult; failure: DeployError | undefined}> {
  if (state.config.dryRun) {
    try {
      state.account = (
        await state.aws.identity(AbortSignal.any([options.signal, AbortSignal.timeout(8000)]))
      ).account
    } catch (error) {
      options.host.warn(
        `No AWS account could be read (${errorMessage(error).split('\n')[0]}); the default bucket shows ${PLACEHOLDER.account}.`,
      )
    }
    state.aws.close()
    return {result: {...setupResult(state, []), plan: describePlan(SETUP_PLAN, state)}, failure: undefined}
  }
  const run = newRun(SETUP_PLAN, state)
  try {
    await runPlans(SETUP_PLAN, [run], options)
  } finally {
    state.aws.close()
  }
  return {result: setupResult(state, run.steps), failure: run.failure}
}

function setupResult(state: SetupState, steps: StepRecord[]): SetupResult {
  const {config} = state
  return {
    status: config.dryRun ? 'planned' : state.projectExisted === true ? 'updated' : 'created',
    dryRun: config.dryRun,
    project: config.project.value,
    bucket: state.bucketName,
    prefix: CODEBUILD_PREFIX,
    region: state.region.value,
    account: state.account ?? null,
    roleArn: config.roleArn.value,
    computeType: config.computeType.value,
    image: CODEBUILD_IMAGE,
    vpc: config.vpc?.value ?? null,
    bucketCreated: state.bucketExisted === false,
    steps,
  }
}

export function formatSetup(result: SetupResult): string {
  const head = result.dryRun
    ? `CodeBuild setup plan (dry run: nothing was changed)`
    : `CodeBuild project ${result.project} ${result.status} in ${result.region}`
  const lines = [
    head,
    `  project       ${result.project} (${result.image}, ${result.computeType}, privileged, local caches)`,
    `  role          ${result.roleArn}`,
    `  sources       s3://${result.bucket}/${result.prefix}${result.bucketCreated ? ' (bucket created)' : ''}`,
    `  vpc           ${result.vpc === null ? 'none' : `${result.vpc.vpcId} (${result.vpc.subnets.join(', ')})`}`,
  ]
  for (const [index, step] of (result.plan ?? []).entries()) {
    lines.push('', `${index + 1}. ${step.title}`)
    for (const action of step.actions)
      lines.push(`   - ${action.when === undefined ? '' : `only when ${action.when}: `}${action.text}`)
  }
  if (!result.dryRun)
    lines.push(
      '',
      `Next: mldeploy push <model>/<version> --builder codebuild --project ${result.project} --bucket ${result.bucket}`,
    )
  return lines.join('\n')
}
