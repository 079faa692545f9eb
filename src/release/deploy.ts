import type {DeployError} from '../errors.js'
import {type DescribedStep, describePlan, newRun, runPlans, type StepRecord} from '../pipeline/engine.js'
import type {IoHost} from '../pipeline/io-host.js'
import type {EndpointDeployState, EndpointView, ResourceChange} from './deploy-state.js'
import {DEPLOY_CHECKS, DEPLOY_PLAN} from './deploy-steps.js'

export {
  type DeployConfig,
  type DeployFlags,
  EndpointDeployState,
  prepareDeploy,
  resolveDeployConfig,
} from './deploy-state.js'
export {DEPLOY_CHECKS, DEPLOY_PLAN, deployPermissions} from './deploy-steps.js'

export interface DeployResult {
  /** deployed: InService on the new configuration; started: --no-wait; unchanged: nothing to do. */
  status: 'deployed' | 'started' | 'unchanged' | 'planned' | 'failed'
  dryRun: boolean
  target: string
  account: string | null
  region: string
  endpoint: {name: string; arn: string | null; status: string | null; failureReason: string | null}
  image: {reference: string; tag: string | null; digest: string | null}
  model: {name: string; change: ResourceChange}
  endpointConfig: {
    name: string
    change: ResourceChange
    variantName: string
    instanceType: string
    instanceCount: number
  }
  endpointChange: ResourceChange
  /** What the endpoint served before this run and after it. */
  before: EndpointView
  after: EndpointView
  changed: boolean
  rolledBack: boolean
  executionRole: string
  guardrails: EndpointDeployState['config']['guardrails'] | null
  settings: Record<string, {value: unknown; source: string}>
  envFiles: string[]
  warnings: string[]
  steps: StepRecord[]
  plan?: DescribedStep[]
}

/**
 * Create or update the target's endpoint with the image: model, endpoint configuration, endpoint,
 * then wait. A dry run walks the read-only steps only and describes the rest.
 */
export async function deploy(
  state: EndpointDeployState,
  options: {host: IoHost; signal: AbortSignal},
): Promise<{result: DeployResult; failure: DeployError | undefined}> {
  const plan = state.config.push.dryRun ? DEPLOY_CHECKS : DEPLOY_PLAN
  const run = newRun(plan, state)
  try {
    await runPlans(plan, [run], options)
  } finally {
    state.aws.close()
  }
  return {result: deployResult(state, run.steps, run.failure), failure: run.failure}
}

export function deployResult(
  state: EndpointDeployState,
  steps: StepRecord[],
  failure: DeployError | undefined,
): DeployResult {
  const {config} = state
  const {dryRun} = config.push
  const changes = state.changes
  const changed = [changes.model, changes.config, changes.endpoint].some(
    (change) => change === 'created' || change === 'updated',
  )
  const status: DeployResult['status'] = dryRun
    ? 'planned'
    : failure !== undefined
      ? 'failed'
      : !changed && state.waited !== 'skipped'
        ? 'unchanged'
        : state.waited === 'skipped'
          ? 'started'
          : 'deployed'
  const endpoint = state.endpoint ?? state.existing?.endpoint
  const settings: DeployResult['settings'] = {
    executionRole: config.roleArn,
    instanceType: config.instanceType,
    instanceCount: config.instanceCount,
    variantName: config.variantName,
    endpointName: config.endpointName,
    repository: config.push.repository,
    region: state.region,
  }
  if (config.push.profile !== undefined) settings.profile = config.push.profile
  if (state.account !== undefined) settings.account = state.account
  return {
    status,
    dryRun,
    target: config.push.target.name,
    account: state.account?.value ?? null,
    region: state.region.value,
    endpoint: {
      name: state.endpointName,
      arn: endpoint?.arn ?? null,
      status: endpoint?.status ?? null,
      failureReason: endpoint?.failureReason ?? null,
    },
    image: {reference: state.imageReference, tag: config.image.tag ?? null, digest: state.digest ?? null},
    model: {name: state.modelName, change: changes.model},
    endpointConfig: {
      name: state.configName,
      change: changes.config,
      variantName: config.variantName.value,
      instanceType: config.instanceType.value,
      instanceCount: config.instanceCount.value,
    },
    endpointChange: changes.endpoint,
    before: state.before,
    // A dry run's "after" is the configuration the endpoint would serve.
    after: dryRun
      ? {configName: state.digest === undefined ? null : state.configName, status: null}
      : {configName: endpoint?.configName ?? null, status: endpoint?.status ?? null},
    changed,
    rolledBack: state.rolledBack,
    executionRole: config.roleArn.value,
    guardrails: config.guardrails ?? null,
    settings,
    envFiles: config.push.envFiles,
    warnings: state.warnings,
    steps,
    ...(dryRun ? {plan: describePlan(DEPLOY_PLAN.slice(DEPLOY_CHECKS.length), state)} : {}),
  }
}

const CHANGE_WORDS: Record<ResourceChange, [done: string, planned: string]> = {
  created: ['created', 'would be created'],
  reused: ['reused (same image)', 'exists: reused'],
  updated: ['updated', 'would be updated'],
  unchanged: ['unchanged', 'unchanged'],
  unknown: ['?', 'unknown (see the warnings)'],
}

export function formatDeploy(result: DeployResult): string {
  const word = (change: ResourceChange): string => CHANGE_WORDS[change][result.dryRun ? 1 : 0]
  const head = result.dryRun
    ? `Deploy plan for ${result.target} (dry run: nothing was changed)`
    : result.status === 'unchanged'
      ? `Nothing to deploy for ${result.target}: ${result.endpoint.name} already serves this image and configuration`
      : result.status === 'started'
        ? `Deploy of ${result.target} started (--no-wait): ${result.endpoint.name} is ${result.endpoint.status ?? '?'}`
        : `Deployed ${result.target}: ${result.endpoint.name} is ${result.endpoint.status ?? '?'}`
  return [
    head,
    `  image     ${result.image.reference}`,
    `  model     ${result.model.name}  ${word(result.model.change)}`,
    `  config    ${result.endpointConfig.name}  ${word(result.endpointConfig.change)} (${result.endpointConfig.instanceCount} x ${result.endpointConfig.instanceType}, ${result.endpointConfig.variantName})`,
    `  endpoint  ${result.endpoint.name}  ${word(result.endpointChange)}: ${result.before.configName ?? '(none)'} -> ${result.after.configName ?? result.endpointConfig.name}`,
    ...(result.endpoint.arn === null ? [] : [`  ${result.endpoint.arn}`]),
  ].join('\n')
}
