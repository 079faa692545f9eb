import {createHash} from 'node:crypto'

import type {Sourced} from '../config/env-layers.js'
import {sageMakerName} from '../config/deploy-settings.js'
import type {DeployConfig} from '../config/endpoint-config.js'
import type {ImageFacts} from '../image-facts.js'
import type {ImageManifest} from '../systems/image-source.js'
import {ecrRegistryHost, PLACEHOLDER} from '../images.js'
import {WarningLog} from './warnings.js'
import {SecretRegistry} from '../secrets.js'
import {
  AwsClients,
  type EndpointFacts,
  type EndpointStatus,
  Iam,
  registerAwsSecrets,
  SageMaker,
  targetAws,
} from '../systems/aws/index.js'

// What a deploy to a SageMaker endpoint learns as it goes (its steps: src/steps/endpoint.ts), for
// `mldeploy deploy` and for push --deploy / promote --deploy, which chain it after their own steps.

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
  readonly secrets: SecretRegistry
  readonly warningLog: WarningLog
  readonly sagemaker: SageMaker
  readonly iam: Iam
  account: Sourced<string> | undefined
  /** The caller's principal as IAM simulates it (an assumed role mapped to its role). */
  principalArn: string | undefined
  digest: string | undefined
  /** push --deploy: the manifest of `digest` as push's check read it (the deploy's check reuses it). */
  digestManifest: ImageManifest | undefined
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
    /** A chained deploy shares its push's or promote's secrets and warnings. */
    shared?: {secrets: SecretRegistry; warningLog: WarningLog},
  ) {
    this.secrets = shared?.secrets ?? new SecretRegistry()
    this.warningLog = shared?.warningLog ?? new WarningLog()
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
  const {region, aws} = await targetAws(config.push)
  const state = new EndpointDeployState(config, region, aws)
  registerAwsSecrets(config.push.childEnv, state.secrets)
  aws.shareSecretsWith(state.secrets)
  return state
}

/**
 * The deploy block of push's and promote's results (push --deploy, promote --deploy): what the
 * endpoint served before and after, and what changed; `mldeploy deploy`'s result has the same.
 */
export interface EndpointBlock {
  /** deployed: InService on the new configuration; started: --no-wait; unchanged: nothing to do. */
  status: 'deployed' | 'started' | 'unchanged' | 'planned' | 'failed' | 'not-started'
  endpoint: {name: string; arn: string | null; status: string | null; failureReason: string | null}
  image: {reference: string; digest: string | null}
  model: {name: string; change: ResourceChange}
  endpointConfig: {
    name: string
    change: ResourceChange
    variantName: string
    instanceType: string
    instanceCount: number
  }
  endpointChange: ResourceChange
  before: EndpointView
  after: EndpointView
  changed: boolean
  rolledBack: boolean
  executionRole: string
  guardrails: DeployConfig['guardrails'] | null
}

/**
 * `failed`: the run failed; `reached`: a deploy step was running then (push's own failure, or an
 * interrupt before the deploy, leaves the deploy `not-started`).
 */
export function endpointBlock(state: EndpointDeployState, failed: boolean, reached = true): EndpointBlock {
  const {config} = state
  const {dryRun} = config.push
  const {changes} = state
  const changed = [changes.model, changes.config, changes.endpoint].some(
    (change) => change === 'created' || change === 'updated',
  )
  const status: EndpointBlock['status'] = dryRun
    ? 'planned'
    : failed
      ? reached
        ? 'failed'
        : 'not-started'
      : !changed && state.waited !== 'skipped'
        ? 'unchanged'
        : state.waited === 'skipped'
          ? 'started'
          : 'deployed'
  const endpoint = state.endpoint ?? state.existing?.endpoint
  return {
    status,
    endpoint: {
      name: state.endpointName,
      arn: endpoint?.arn ?? null,
      status: endpoint?.status ?? null,
      failureReason: endpoint?.failureReason ?? null,
    },
    image: {reference: state.imageReference, digest: state.digest ?? null},
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
  }
}

/** The deploy settings a result lists, with where each came from. */
export function endpointSettings(
  state: EndpointDeployState,
): Record<string, {value: unknown; source: string}> {
  const {config} = state
  return {
    executionRole: config.roleArn,
    instanceType: config.instanceType,
    instanceCount: config.instanceCount,
    variantName: config.variantName,
    endpointName: config.endpointName,
  }
}

/** The deploy block of a chained run, from its step records (`deploy-*`: the chained steps' ids). */
export function chainedEndpointBlock(
  state: EndpointDeployState,
  steps: ReadonlyArray<{id: string; status: string}>,
): EndpointBlock {
  const ended = steps.filter((step) => step.status === 'failed' || step.status === 'interrupted')
  return endpointBlock(
    state,
    ended.length > 0,
    ended.some((step) => step.id.startsWith('deploy-')),
  )
}

/** One line of push's and promote's text result: `Deploy: modela-v1 InService, serving <config> (deployed)`. */
export function formatEndpointLine(block: EndpointBlock): string {
  const serving = block.after.configName ?? block.endpointConfig.name
  return `Deploy: ${block.endpoint.name} ${block.endpoint.status ?? '?'}, ${block.status === 'planned' ? 'would serve' : 'serving'} ${serving} (${block.status}${block.rolledBack ? ', rolled back' : ''})`
}
