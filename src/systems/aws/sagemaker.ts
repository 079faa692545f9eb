import type {IAMClient} from '@aws-sdk/client-iam'
import type {SageMakerClient} from '@aws-sdk/client-sagemaker'

import {AwsError} from '../../errors.js'
import type {AwsClients} from './clients.js'
import {errorName} from './errors.js'
import {iamModule, sagemakerModule} from './sdk.js'

/**
 * SageMaker hosting (models, endpoint configurations, endpoints) and the IAM reads a deploy's
 * preflight makes (the execution role, the caller's permissions), for `mldeploy deploy`. The SDK
 * modules are loaded on first use only.
 */
export interface ModelFacts {
  name: string
  arn: string
  image: string | undefined
  roleArn: string | undefined
}

export interface VariantSpec {
  variantName: string
  modelName: string
  instanceType: string
  instanceCount: number
}

export interface EndpointConfigFacts {
  name: string
  arn: string
  variants: VariantSpec[]
}

export type EndpointStatus =
  | 'OutOfService'
  | 'Creating'
  | 'Updating'
  | 'SystemUpdating'
  | 'RollingBack'
  | 'InService'
  | 'Deleting'
  | 'Failed'
  | 'UpdateRollbackFailed'

export interface EndpointFacts {
  name: string
  arn: string
  status: EndpointStatus
  /** The configuration the endpoint serves (during an update: the one it moves to). */
  configName: string | undefined
  failureReason: string | undefined
}

/** UpdateEndpoint's `DeploymentConfig`: blue/green traffic shifting and auto-rollback alarms. */
export interface DeploymentGuardrails {
  traffic: {
    type: 'ALL_AT_ONCE' | 'CANARY' | 'LINEAR'
    size?: {type: 'INSTANCE_COUNT' | 'CAPACITY_PERCENT'; value: number}
  }
  waitIntervalSeconds: number
  terminationWaitSeconds: number
  maxExecutionTimeoutSeconds: number | undefined
  alarms: string[]
}

export function deploymentConfigInput(guardrails: DeploymentGuardrails) {
  const {traffic} = guardrails
  return {
    BlueGreenUpdatePolicy: {
      TrafficRoutingConfiguration: {
        Type: traffic.type,
        WaitIntervalInSeconds: guardrails.waitIntervalSeconds,
        ...(traffic.type === 'CANARY' && traffic.size !== undefined
          ? {CanarySize: {Type: traffic.size.type, Value: traffic.size.value}}
          : {}),
        ...(traffic.type === 'LINEAR' && traffic.size !== undefined
          ? {LinearStepSize: {Type: traffic.size.type, Value: traffic.size.value}}
          : {}),
      },
      TerminationWaitInSeconds: guardrails.terminationWaitSeconds,
      ...(guardrails.maxExecutionTimeoutSeconds === undefined
        ? {}
        : {MaximumExecutionTimeoutInSeconds: guardrails.maxExecutionTimeoutSeconds}),
    },
    ...(guardrails.alarms.length === 0
      ? {}
      : {AutoRollbackConfiguration: {Alarms: guardrails.alarms.map((AlarmName) => ({AlarmName}))}}),
  }
}

/** SageMaker answers a Describe* of something that does not exist with a ValidationException. */
function isMissing(error: unknown): boolean {
  return errorName(error) === 'ValidationException' && /could not find/i.test((error as Error).message ?? '')
}

export class SageMaker {
  private client?: Promise<SageMakerClient>

  constructor(private readonly aws: AwsClients) {}

  private sagemaker(): Promise<SageMakerClient> {
    this.client ??= sagemakerModule().then(({SageMakerClient}) =>
      this.aws.serviceClient('sagemaker', (config) => new SageMakerClient(config)),
    )
    return this.client
  }

  /** The model of that name; undefined when there is none. */
  async model(name: string, signal?: AbortSignal): Promise<ModelFacts | undefined> {
    const {DescribeModelCommand} = await sagemakerModule()
    const client = await this.sagemaker()
    try {
      const out = await client.send(new DescribeModelCommand({ModelName: name}), this.aws.callOptions(signal))
      return {
        name,
        arn: out.ModelArn ?? '',
        image: out.PrimaryContainer?.Image ?? out.Containers?.[0]?.Image,
        roleArn: out.ExecutionRoleArn,
      }
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.aws.failure(error, 'sagemaker:DescribeModel', `Reading SageMaker model ${name}`)
    }
  }

  async createModel(
    spec: {name: string; image: string; roleArn: string},
    signal?: AbortSignal,
  ): Promise<string> {
    const {CreateModelCommand} = await sagemakerModule()
    const client = await this.sagemaker()
    try {
      const out = await client.send(
        new CreateModelCommand({
          ModelName: spec.name,
          ExecutionRoleArn: spec.roleArn,
          PrimaryContainer: {Image: spec.image, Mode: 'SingleModel'},
          Tags: [{Key: 'created-by', Value: 'mldeploy'}],
        }),
        this.aws.callOptions(signal),
      )
      return out.ModelArn ?? ''
    } catch (error) {
      throw this.aws.failure(error, 'sagemaker:CreateModel', `Creating SageMaker model ${spec.name}`)
    }
  }

  async endpointConfig(name: string, signal?: AbortSignal): Promise<EndpointConfigFacts | undefined> {
    const {DescribeEndpointConfigCommand} = await sagemakerModule()
    const client = await this.sagemaker()
    try {
      const out = await client.send(
        new DescribeEndpointConfigCommand({EndpointConfigName: name}),
        this.aws.callOptions(signal),
      )
      return {
        name,
        arn: out.EndpointConfigArn ?? '',
        variants: (out.ProductionVariants ?? []).map((variant) => ({
          variantName: variant.VariantName ?? '',
          modelName: variant.ModelName ?? '',
          instanceType: variant.InstanceType ?? '',
          instanceCount: variant.InitialInstanceCount ?? 0,
        })),
      }
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.aws.failure(
        error,
        'sagemaker:DescribeEndpointConfig',
        `Reading SageMaker endpoint configuration ${name}`,
      )
    }
  }

  async createEndpointConfig(
    spec: {name: string; variant: VariantSpec},
    signal?: AbortSignal,
  ): Promise<string> {
    const {CreateEndpointConfigCommand} = await sagemakerModule()
    const client = await this.sagemaker()
    const {variant} = spec
    try {
      const out = await client.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: spec.name,
          ProductionVariants: [
            {
              VariantName: variant.variantName,
              ModelName: variant.modelName,
              InstanceType: variant.instanceType as never,
              InitialInstanceCount: variant.instanceCount,
            },
          ],
          Tags: [{Key: 'created-by', Value: 'mldeploy'}],
        }),
        this.aws.callOptions(signal),
      )
      return out.EndpointConfigArn ?? ''
    } catch (error) {
      throw this.aws.failure(
        error,
        'sagemaker:CreateEndpointConfig',
        `Creating SageMaker endpoint configuration ${spec.name}`,
      )
    }
  }

  async endpoint(name: string, signal?: AbortSignal): Promise<EndpointFacts | undefined> {
    const {DescribeEndpointCommand} = await sagemakerModule()
    const client = await this.sagemaker()
    try {
      const out = await client.send(
        new DescribeEndpointCommand({EndpointName: name}),
        this.aws.callOptions(signal),
      )
      return {
        name,
        arn: out.EndpointArn ?? '',
        status: (out.EndpointStatus ?? 'Creating') as EndpointStatus,
        configName: out.EndpointConfigName,
        failureReason: out.FailureReason,
      }
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.aws.failure(error, 'sagemaker:DescribeEndpoint', `Reading SageMaker endpoint ${name}`)
    }
  }

  async createEndpoint(name: string, configName: string, signal?: AbortSignal): Promise<string> {
    const {CreateEndpointCommand} = await sagemakerModule()
    const client = await this.sagemaker()
    try {
      const out = await client.send(
        new CreateEndpointCommand({
          EndpointName: name,
          EndpointConfigName: configName,
          Tags: [{Key: 'created-by', Value: 'mldeploy'}],
        }),
        this.aws.callOptions(signal),
      )
      return out.EndpointArn ?? ''
    } catch (error) {
      throw this.aws.failure(error, 'sagemaker:CreateEndpoint', `Creating SageMaker endpoint ${name}`)
    }
  }

  async updateEndpoint(
    name: string,
    configName: string,
    guardrails: DeploymentGuardrails | undefined,
    signal?: AbortSignal,
  ): Promise<string> {
    const {UpdateEndpointCommand} = await sagemakerModule()
    const client = await this.sagemaker()
    try {
      const out = await client.send(
        new UpdateEndpointCommand({
          EndpointName: name,
          EndpointConfigName: configName,
          ...(guardrails === undefined ? {} : {DeploymentConfig: deploymentConfigInput(guardrails)}),
        }),
        this.aws.callOptions(signal),
      )
      return out.EndpointArn ?? ''
    } catch (error) {
      throw this.aws.failure(error, 'sagemaker:UpdateEndpoint', `Updating SageMaker endpoint ${name}`)
    }
  }
}

/** One action's verdict from iam:SimulatePrincipalPolicy. */
export interface SimulatedAction {
  action: string
  resource: string
  allowed: boolean
  decision: string
}

export class Iam {
  private client?: Promise<IAMClient>

  constructor(private readonly aws: AwsClients) {}

  private iam(): Promise<IAMClient> {
    this.client ??= iamModule().then(({IAMClient}) =>
      // IAM is a global service: its endpoint is in us-east-1 whatever the target's region.
      this.aws.serviceClient('iam', (config) => new IAMClient({...config, region: 'us-east-1'})),
    )
    return this.client
  }

  /** The role's ARN (path included); undefined when no role has that name in the account. */
  async roleArn(name: string, signal?: AbortSignal): Promise<string | undefined> {
    const {GetRoleCommand} = await iamModule()
    const client = await this.iam()
    try {
      const out = await client.send(new GetRoleCommand({RoleName: name}), this.aws.callOptions(signal))
      return out.Role?.Arn
    } catch (error) {
      if (errorName(error) === 'NoSuchEntityException' || errorName(error) === 'NoSuchEntity')
        return undefined
      throw this.aws.failure(error, 'iam:GetRole', `Reading IAM role ${name}`)
    }
  }

  /** What the principal's policies say about each action on each resource (every page read). */
  async simulate(
    principalArn: string,
    actions: readonly string[],
    resourceArns: readonly string[],
    signal?: AbortSignal,
  ): Promise<SimulatedAction[]> {
    const {SimulatePrincipalPolicyCommand} = await iamModule()
    const client = await this.iam()
    const results: SimulatedAction[] = []
    let marker: string | undefined
    do {
      let out
      try {
        out = await client.send(
          new SimulatePrincipalPolicyCommand({
            PolicySourceArn: principalArn,
            ActionNames: [...actions],
            ResourceArns: [...resourceArns],
            ...(marker === undefined ? {} : {Marker: marker}),
          }),
          this.aws.callOptions(signal),
        )
      } catch (error) {
        throw this.aws.failure(
          error,
          'iam:SimulatePrincipalPolicy',
          `Checking the permissions of ${principalArn} (IAM SimulatePrincipalPolicy)`,
        )
      }
      for (const each of out.EvaluationResults ?? []) {
        const decision = each.EvalDecision ?? 'implicitDeny'
        results.push({
          action: each.EvalActionName ?? '?',
          resource: each.EvalResourceName ?? resourceArns[0] ?? '*',
          allowed: decision === 'allowed',
          decision,
        })
      }
      marker = out.IsTruncated === true ? out.Marker : undefined
    } while (marker !== undefined)
    if (results.length === 0)
      throw new AwsError(
        'malformed',
        'iam:SimulatePrincipalPolicy',
        `IAM SimulatePrincipalPolicy returned no verdict for ${principalArn}.`,
      )
    return results
  }
}
