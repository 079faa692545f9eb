import type {DeployError} from '../errors.js'
import {type DescribedStep, describePlan, newRun, runPlans, type StepRecord} from '../pipeline/engine.js'
import type {IoHost} from '../pipeline/io-host.js'
import {
  type EndpointBlock,
  endpointBlock,
  endpointSettings,
  type EndpointDeployState,
  type ResourceChange,
} from '../pipeline/endpoint-state.js'
import {DEPLOY_CHECKS, DEPLOY_PLAN} from '../steps/endpoint.js'

export {type DeployConfig, type DeployFlags, resolveDeployConfig} from '../config/endpoint-config.js'
export {EndpointDeployState, prepareDeploy} from '../pipeline/endpoint-state.js'
export {checkDeployAccess, DEPLOY_CHECKS, DEPLOY_PLAN, deployPermissions} from '../steps/endpoint.js'

/** The endpoint's block (as push --deploy and promote --deploy report it), with the target's own fields. */
export type DeployResult = Omit<EndpointBlock, 'status' | 'image'> & {
  status: Exclude<EndpointBlock['status'], 'not-started'>
  dryRun: boolean
  target: string
  account: string | null
  region: string
  image: {reference: string; tag: string | null; digest: string | null}
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
  const block = endpointBlock(state, failure !== undefined)
  const settings: DeployResult['settings'] = {
    ...endpointSettings(state),
    repository: config.push.repository,
    region: state.region,
  }
  if (config.push.profile !== undefined) settings.profile = config.push.profile
  if (state.account !== undefined) settings.account = state.account
  return {
    ...block,
    status: block.status === 'not-started' ? 'failed' : block.status,
    dryRun,
    target: config.push.target.name,
    account: state.account?.value ?? null,
    region: state.region.value,
    image: {...block.image, tag: config.image.tag ?? null},
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
