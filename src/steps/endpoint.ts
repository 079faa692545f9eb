import {setTimeout as sleep} from 'node:timers/promises'

import {checkSageMaker, readImageFacts} from '../deploy-target-rules.js'
import {formatDuration} from '../duration.js'
import {AwsError, CheckError, UsageError} from '../errors.js'
import {sageMakerName} from '../config/deploy-settings.js'
import {roleArnAccount, roleArnName} from '../config/endpoint-config.js'
import type {EndpointDeployState} from '../pipeline/endpoint-state.js'
import type {EngineState, Step, StepDescription, StepIO} from '../pipeline/step.js'
import {checkAccount} from '../systems/account.js'
import type {EndpointFacts, EndpointStatus, Identity} from '../systems/aws/index.js'
import type {ImageManifest} from '../systems/image-source.js'
import {identityOrMissing, identityOrWarn} from './identity.js'

/**
 * Every permission a deploy needs, on what: what the preflight simulates and the README's
 * Permissions section lists (a test holds the three together with what the code calls).
 * sts:GetCallerIdentity needs no permission.
 */
export function deployPermissions(state: EndpointDeployState): Array<{action: string; resource: string}> {
  const role = state.config.roleArn.value
  const endpoint = state.arnOf('endpoint', state.endpointName)
  // Before the image is known (a chained deploy's preflight runs before the push made it; doctor
  // reads no image), the names are the target's pattern.
  const pending = state.digest === undefined
  const target = state.config.push.target.name
  const config = state.arnOf('endpoint-config', pending ? sageMakerName(target, '*') : state.configName)
  const model = state.arnOf('model', pending ? sageMakerName(target, '*') : state.modelName)
  return [
    ...(state.config.image.tag === undefined
      ? []
      : [{action: 'ecr:DescribeImages', resource: state.repositoryArn}]),
    {action: 'ecr:BatchGetImage', resource: state.repositoryArn},
    {action: 'ecr:GetDownloadUrlForLayer', resource: state.repositoryArn},
    {action: 'iam:GetRole', resource: role},
    {action: 'iam:PassRole', resource: role},
    {action: 'iam:SimulatePrincipalPolicy', resource: state.principalArn ?? '<caller>'},
    {action: 'sagemaker:DescribeModel', resource: model},
    {action: 'sagemaker:CreateModel', resource: model},
    {action: 'sagemaker:DescribeEndpointConfig', resource: config},
    {action: 'sagemaker:CreateEndpointConfig', resource: config},
    {action: 'sagemaker:DescribeEndpoint', resource: endpoint},
    {action: 'sagemaker:CreateEndpoint', resource: endpoint},
    {action: 'sagemaker:UpdateEndpoint', resource: endpoint},
  ]
}

/** The statuses in which SageMaker is still working on the endpoint. */
const BUSY: ReadonlySet<EndpointStatus> = new Set([
  'Creating',
  'Updating',
  'SystemUpdating',
  'RollingBack',
  'Deleting',
])

/** How to follow an endpoint that mldeploy stopped watching. */
export function followHint(state: EndpointDeployState): string {
  const again =
    state.config.image.chained === undefined
      ? 'run the same mldeploy deploy again'
      : `run mldeploy deploy ${state.config.push.target.name} --image-digest ${state.digest ?? '<digest>'}`
  return `Follow it with: aws sagemaker describe-endpoint --endpoint-name ${state.endpointName} --region ${state.region.value} (or ${again}: it changes nothing and waits).`
}

/** `<text>: <SageMaker's reason>.`, with one full stop whether or not the reason ends with one. */
function withReason(text: string, reason: string | undefined): string {
  return reason === undefined ? `${text}.` : `${text}: ${reason.replace(/[.\s]+$/, '')}.`
}

/** A refusal said as the permission it lacked. */
function denied(error: unknown, permission: string, resource: string): unknown {
  if (!(error instanceof AwsError) || error.reason !== 'access-denied') return error
  return new CheckError(
    'permission-denied',
    `The caller may not call ${permission} on ${resource}: AWS refused it.`,
    {
      hint: `Grant ${permission} (the README's Permissions section lists what deploy needs).`,
      detail: error.detail ?? error.message,
      cause: error,
    },
  )
}

/**
 * The principal whose policies IAM simulates: an assumed role's session maps to its role (GetRole
 * gives the ARN with its path); users and roles are themselves; the root user and federated
 * sessions cannot be simulated (undefined).
 */
async function principalOf(
  state: EndpointDeployState,
  identity: Identity,
  signal: AbortSignal,
): Promise<string | undefined> {
  const assumed = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(identity.arn)
  if (assumed !== null) {
    const name = assumed[3]!
    const arn = await state.iam
      .roleArn(name, signal)
      .catch((error: unknown) => Promise.reject(denied(error, 'iam:GetRole', `role ${name}`)))
    return arn ?? `arn:${assumed[1]}:iam::${assumed[2]}:role/${name}`
  }
  if (/^arn:aws[a-z-]*:iam::\d{12}:(user|role)\//.test(identity.arn)) return identity.arn
  return undefined
}

/**
 * Identity, the execution role, the image's digest and the caller's permissions for exactly the
 * calls deploy makes. A dry run without usable credentials goes on with what it cannot know said
 * in a warning; a wrong account, a missing role or a denied permission stop it like a real run.
 */
const preflightStep: Step<EndpointDeployState> = {
  id: 'preflight',
  title: 'Identity, role, image and permissions',
  failure: 'preflight',
  describe(state) {
    const role = state.config.roleArn.value
    const {tag} = state.config.image
    return {
      actions: [
        {
          text: `AWS identity: STS GetCallerIdentity (region ${state.region.value})`,
          calls: ['aws:sts:GetCallerIdentity'],
        },
        {text: `Execution role ${role} exists in the account: IAM GetRole`, calls: ['aws:iam:GetRole']},
        ...(tag === undefined
          ? []
          : [
              {
                text: `The digest ${tag} names in ${state.repository}: ECR DescribeImages`,
                calls: ['aws:ecr:DescribeImages'],
              },
            ]),
        {
          text: "The caller's role ARN (path included), when the caller is an assumed role: IAM GetRole",
          calls: ['aws:iam:GetRole'],
          when: 'the caller is an assumed-role session',
        },
        {
          text: `The caller may call each of ${deployPermissions(state).length} actions (iam:PassRole on the execution role included): IAM SimulatePrincipalPolicy`,
          calls: ['aws:iam:SimulatePrincipalPolicy'],
          when: 'the caller is a user or a role (the root user and federated sessions cannot be simulated)',
        },
      ],
      commands: [],
    }
  },
  async run(state, io) {
    const identity = await identityOrWarn(
      state,
      state.config.push.dryRun,
      "the role, the image's digest and what exists in SageMaker are unknown",
      io.signal,
    )
    if (identity !== undefined) await checkCaller(state, identity, io)
  },
}

/** The preflight once the identity is read: the account, the role, the image's digest, the permissions. */
async function checkCaller(state: EndpointDeployState, identity: Identity, io: StepIO): Promise<void> {
  io.output(`account ${identity.account}; execution role ${await checkRole(state, identity, io.signal)}`)
  await readImageDigest(state, io.signal)
  io.output(
    state.config.image.chained === undefined
      ? `image ${state.imageReference}`
      : `image: what ${state.config.image.chained} gives (${state.digest ?? 'not known yet'})`,
  )
  await checkCallerPermissions(state, identity, io)
}

/**
 * doctor's deploy check: the preflight's account, role and permission checks for the identity
 * doctor read, without reading the image (the names are the target's pattern). Throws as the
 * preflight would; a caller IAM cannot simulate is a warning on the state.
 */
export async function checkDeployAccess(
  state: EndpointDeployState,
  identity: Identity,
  signal: AbortSignal,
): Promise<void> {
  await checkRole(state, identity, signal)
  await checkCallerPermissions(state, identity, {
    output: () => undefined,
    outputReady: () => undefined,
    signal,
  })
}

/** The account is the target's, and the execution role is of it and exists (as IAM names it). */
async function checkRole(
  state: EndpointDeployState,
  identity: Identity,
  signal: AbortSignal,
): Promise<string> {
  checkAccount(identity, state.account)
  state.account = {value: identity.account, source: 'STS GetCallerIdentity'}
  const role = state.config.roleArn
  if (roleArnAccount(role.value) !== identity.account)
    throw new UsageError(
      `Execution role (from ${role.source}) ${role.value} is in account ${roleArnAccount(role.value)}, and the credentials are of ${identity.account}.`,
      {hint: 'Name a role of the account the endpoint is deployed to.'},
    )
  const found = await state.iam
    .roleArn(roleArnName(role.value), signal)
    .catch((error: unknown) => Promise.reject(denied(error, 'iam:GetRole', role.value)))
  if (found === undefined)
    throw new CheckError(
      'role-missing',
      `Execution role ${role.value} (from ${role.source}) does not exist in account ${identity.account}.`,
      {
        hint: 'Create it (trusting sagemaker.amazonaws.com, allowed to read the ECR repository), or fix execution-role-arn.',
      },
    )
  if (found !== role.value)
    throw new CheckError(
      'role-arn',
      `Execution role (from ${role.source}) ${role.value} exists as ${found}.`,
      {
        hint: 'Use the ARN IAM gives (the path is part of it).',
      },
    )
  return found
}

/** The digest of the image deploy runs: named, or read from what the tag points at. */
async function readImageDigest(state: EndpointDeployState, signal: AbortSignal): Promise<void> {
  const {tag} = state.config.image
  if (tag !== undefined) {
    const images = await state.aws.imagesByTag(state.repository, [tag], signal)
    const digest = images.get(tag)?.digest
    if (digest === undefined)
      throw new CheckError(
        'tag-missing',
        `Tag ${tag} does not exist in ${state.registry}/${state.repository}.`,
        {
          hint: 'Push the target first, or name the image with --image-tag or --image-digest.',
        },
      )
    state.digest = digest
  } else if (state.config.image.digest !== undefined) state.digest = state.config.image.digest
}

/** The caller's permissions for every call deploy makes, simulated as its user or role. */
async function checkCallerPermissions(
  state: EndpointDeployState,
  identity: Identity,
  io: StepIO,
): Promise<void> {
  const principal = await principalOf(state, identity, io.signal)
  if (principal === undefined) {
    state.warn(
      `The caller ${identity.arn} is not a user or a role, so IAM cannot simulate its permissions: they were not checked before anything changes.`,
    )
    return
  }
  state.principalArn = principal
  await checkPermissions(state, principal, io)
}

/** One simulation per resource (a simulation pairs every action with every resource given). */
async function checkPermissions(state: EndpointDeployState, principal: string, io: StepIO): Promise<void> {
  const byResource = new Map<string, string[]>()
  for (const {action, resource} of deployPermissions(state))
    byResource.set(resource, [...(byResource.get(resource) ?? []), action])
  const refused: string[] = []
  for (const [resource, actions] of byResource) {
    const verdicts = await state.iam
      .simulate(principal, actions, [resource], io.signal)
      .catch((error: unknown) => Promise.reject(denied(error, 'iam:SimulatePrincipalPolicy', principal)))
    for (const each of verdicts)
      if (!each.allowed) refused.push(`${each.action} on ${resource} (${each.decision})`)
  }
  if (refused.length > 0)
    throw new CheckError(
      'permission-denied',
      `${principal} may not call ${refused.length} action(s) deploy needs: ${refused.join('; ')}.`,
      {
        hint: "Grant them (the README's Permissions section lists what deploy needs); nothing was changed.",
      },
    )
  io.output(`permissions: all ${deployPermissions(state).length} allowed for ${principal}`)
}

/**
 * The image as the registry holds it (manifest and config, no pull): SageMaker runs only a Docker
 * V2 schema 2 linux/amd64 image, so anything else is bad input (exit 2) before anything is made.
 * The serving contract's rules become warnings: the local contract run is their proof.
 */
const checkStep: Step<EndpointDeployState> = {
  id: 'check',
  title: 'Check the image',
  failure: 'preflight',
  describe: (state) => ({
    actions: [
      {
        text: `Read the manifest of ${state.imageReference}: ECR BatchGetImage`,
        calls: ['aws:ecr:BatchGetImage'],
        when: "the digest is known (a dry run may lack credentials) and push's check did not read it already",
      },
      {
        text: 'Read its config (platform, entrypoint, user): ECR GetDownloadUrlForLayer, then a GET of that URL',
        calls: ['aws:ecr:GetDownloadUrlForLayer', 'http:GET <presigned-url-path>'],
        when: 'the manifest is an image, not an index',
      },
      {text: 'SageMaker runs it: a Docker V2 schema 2 manifest, linux/amd64 (else exit 2)', calls: []},
    ],
    commands: [],
  }),
  async run(state, io) {
    if (state.digest === undefined || state.account === undefined) return
    const source = await state.aws.imageSource(state.repository, state.account.value)
    const facts = await readImageFacts(source, state.digest, io.signal, state.digestManifest)
    state.image = facts
    const results = checkSageMaker(facts)
    const broken = results.filter((each) => !each.ok && each.kind === 'format')
    if (broken.length > 0)
      throw new UsageError(
        `${state.imageReference} cannot run on SageMaker: ${broken.map((each) => `${each.rule}: ${each.message}`).join(' ')}`,
        {hint: `${broken[0]!.fix ?? 'Push it again as a Docker V2 linux/amd64 image.'} Nothing was created.`},
      )
    for (const each of results.filter((result) => !result.ok && result.kind === 'contract'))
      state.warn(
        `SageMaker contract, ${each.rule}: ${each.message} (push --deploy-target sagemaker --check-serving proves the contract locally${each.fix === undefined ? '' : `; ${each.fix}`}).`,
      )
    io.output(`${facts.mediaType}, ${facts.os ?? '?'}/${facts.architecture ?? '?'}`)
  },
}

/** What exists in SageMaker already: the endpoint (and the configuration it serves), the model and configuration of the derived names. */
const currentStep: Step<EndpointDeployState> = {
  id: 'current',
  title: 'Read the endpoint',
  failure: 'preflight',
  describe: (state) => ({
    actions: [
      {
        text: `Endpoint ${state.endpointName}: its status and configuration (SageMaker DescribeEndpoint)`,
        calls: ['aws:sagemaker:DescribeEndpoint'],
        when: 'the identity was read (a dry run may lack credentials)',
      },
      {
        text: `Model ${state.modelName} exists?: SageMaker DescribeModel`,
        calls: ['aws:sagemaker:DescribeModel'],
        when: 'the digest is known',
      },
      {
        text: `Endpoint configuration ${state.configName} exists?: SageMaker DescribeEndpointConfig`,
        calls: ['aws:sagemaker:DescribeEndpointConfig'],
        when: 'the digest is known',
      },
    ],
    commands: [],
  }),
  async run(state, io) {
    if (state.account === undefined) return
    const endpoint = await state.sagemaker
      .endpoint(state.endpointName, io.signal)
      .catch((error: unknown) =>
        Promise.reject(denied(error, 'sagemaker:DescribeEndpoint', state.endpointName)),
      )
    state.before = {configName: endpoint?.configName ?? null, status: endpoint?.status ?? null}
    io.output(
      endpoint === undefined
        ? `endpoint ${state.endpointName}: none yet`
        : `endpoint ${state.endpointName}: ${endpoint.status}, serving ${endpoint.configName ?? '?'}`,
    )
    if (state.digest === undefined) return
    const model = await state.sagemaker.model(state.modelName, io.signal)
    const config = await state.sagemaker.endpointConfig(state.configName, io.signal)
    state.existing = {model: model !== undefined, config: config !== undefined, endpoint}
    if (model?.roleArn !== undefined && model.roleArn !== state.config.roleArn.value)
      state.warn(
        `Model ${state.modelName} exists and runs with ${model.roleArn}, not ${state.config.roleArn.value}: it is reused as it is (delete it to change its role).`,
      )
    state.changes.model = model === undefined ? 'created' : 'reused'
    state.changes.config = config === undefined ? 'created' : 'reused'
    state.changes.endpoint = endpointChange(endpoint, state.configName)
  },
}

function endpointChange(
  endpoint: EndpointFacts | undefined,
  configName: string,
): 'created' | 'updated' | 'unchanged' {
  if (endpoint === undefined) return 'created'
  return endpoint.configName === configName ? 'unchanged' : 'updated'
}

const modelStep: Step<EndpointDeployState> = {
  id: 'model',
  title: 'Model',
  failure: 'deploy',
  describe: (state) => ({
    actions: [
      {
        text: `SageMaker CreateModel ${state.modelName}: image ${state.imageReference}, execution role ${state.config.roleArn.value}`,
        calls: ['aws:sagemaker:CreateModel'],
        when: 'no model of that name exists (the same image deployed before: it is reused)',
      },
    ],
    commands: [],
  }),
  async run(state, io) {
    if (state.existing?.model === true) return io.skip?.(`reused model ${state.modelName} (same image)`)
    await state.sagemaker.createModel(
      {name: state.modelName, image: state.imageReference, roleArn: state.config.roleArn.value},
      io.signal,
    )
    state.changes.model = 'created'
    io.output(`created model ${state.modelName}`)
  },
}

const configStep: Step<EndpointDeployState> = {
  id: 'endpoint-config',
  title: 'Endpoint configuration',
  failure: 'deploy',
  describe(state) {
    const {instanceType, instanceCount, variantName} = state.config
    return {
      actions: [
        {
          text: `SageMaker CreateEndpointConfig ${state.configName}: variant ${variantName.value}, model ${state.modelName}, ${instanceCount.value} x ${instanceType.value}`,
          calls: ['aws:sagemaker:CreateEndpointConfig'],
          when: 'no configuration of that name exists (same image and variant: it is reused)',
        },
      ],
      commands: [],
    }
  },
  async run(state, io) {
    if (state.existing?.config === true)
      return io.skip?.(`reused endpoint configuration ${state.configName} (same image and variant)`)
    const {instanceType, instanceCount, variantName} = state.config
    await state.sagemaker.createEndpointConfig(
      {
        name: state.configName,
        variant: {
          variantName: variantName.value,
          modelName: state.modelName,
          instanceType: instanceType.value,
          instanceCount: instanceCount.value,
        },
      },
      io.signal,
    )
    state.changes.config = 'created'
    io.output(`created endpoint configuration ${state.configName}`)
  },
}

function guardrailsText(state: EndpointDeployState): string {
  const guardrails = state.config.guardrails
  if (guardrails === undefined) return "no DeploymentConfig (SageMaker's default blue/green, all at once)"
  const {traffic} = guardrails
  const size =
    traffic.size === undefined
      ? ''
      : ` ${traffic.size.value}${traffic.size.type === 'CAPACITY_PERCENT' ? '%' : ' instance(s)'}`
  const alarms =
    guardrails.alarms.length === 0 ? 'no alarms' : `rollback on alarm(s) ${guardrails.alarms.join(', ')}`
  return `blue/green ${traffic.type}${size}, ${guardrails.waitIntervalSeconds} s per step, old fleet kept ${guardrails.terminationWaitSeconds} s, ${alarms}`
}

const endpointStep: Step<EndpointDeployState> = {
  id: 'endpoint',
  title: 'Endpoint',
  failure: 'deploy',
  describe: (state) => ({
    actions: [
      {
        text: `SageMaker CreateEndpoint ${state.endpointName} with ${state.configName}`,
        calls: ['aws:sagemaker:CreateEndpoint'],
        when: 'the endpoint does not exist',
      },
      {
        text: `SageMaker UpdateEndpoint ${state.endpointName} to ${state.configName}: ${guardrailsText(state)}`,
        calls: ['aws:sagemaker:UpdateEndpoint'],
        when: 'the endpoint serves another configuration',
      },
    ],
    commands: [],
  }),
  async run(state, io) {
    const endpoint = state.existing?.endpoint
    if (endpoint === undefined) {
      const arn = await state.sagemaker.createEndpoint(state.endpointName, state.configName, io.signal)
      state.endpoint = {
        name: state.endpointName,
        arn,
        status: 'Creating',
        configName: state.configName,
        failureReason: undefined,
      }
      state.changes.endpoint = 'created'
      return io.output(`creating endpoint ${state.endpointName}`)
    }
    state.endpoint = endpoint
    if (endpoint.configName === state.configName) {
      state.changes.endpoint = 'unchanged'
      if (endpoint.status === 'InService')
        return io.skip?.(`unchanged: ${state.endpointName} already serves ${state.configName}`)
      if (BUSY.has(endpoint.status))
        return io.skip?.(
          `${state.endpointName} is already ${endpoint.status} to ${state.configName}: waiting for it`,
        )
    }
    if (BUSY.has(endpoint.status))
      throw new CheckError(
        'endpoint-busy',
        `Endpoint ${state.endpointName} is ${endpoint.status} (to ${endpoint.configName ?? '?'}): SageMaker takes no update now.`,
        {
          hint: `Wait until it is InService, then deploy again. ${followHint(state)}`,
        },
      )
    if (endpoint.status === 'Failed')
      throw new CheckError(
        'endpoint-failed',
        `Endpoint ${state.endpointName} is Failed${endpoint.failureReason === undefined ? '' : ` (${endpoint.failureReason})`}: SageMaker does not update a failed endpoint.`,
        {
          hint: `Delete it (aws sagemaker delete-endpoint --endpoint-name ${state.endpointName}), then deploy again.`,
        },
      )
    await state.sagemaker.updateEndpoint(
      state.endpointName,
      state.configName,
      state.config.guardrails,
      io.signal,
    )
    state.endpoint = {...endpoint, status: 'Updating'}
    state.changes.endpoint = 'updated'
    io.output(`updating endpoint ${state.endpointName}: ${endpoint.configName ?? '?'} -> ${state.configName}`)
  },
}

/** Polls DescribeEndpoint until InService, a failure, a rollback or the time limit. */
const waitStep: Step<EndpointDeployState> = {
  id: 'wait',
  title: 'Wait for InService',
  failure: 'deploy',
  describe: (state) => ({
    actions: [
      {
        text: `SageMaker DescribeEndpoint ${state.endpointName} every ${state.config.pollMs / 1000} s until InService, at most ${formatDuration(state.config.waitTimeoutMs)}`,
        calls: ['aws:sagemaker:DescribeEndpoint'],
        when: 'the endpoint is changing and --no-wait was not given',
      },
    ],
    commands: [],
  }),
  async run(state, io) {
    if (!state.config.wait) {
      state.waited = 'skipped'
      return io.skip?.(`--no-wait: ${state.endpointName} goes on in AWS. ${followHint(state)}`)
    }
    if (state.endpoint?.status === 'InService' && state.changes.endpoint === 'unchanged') {
      state.waited = 'in-service'
      return io.skip?.('nothing changed: the endpoint is InService')
    }
    try {
      await waitForEndpoint(state, io)
    } catch (error) {
      if (io.signal.aborted) {
        state.waited = 'stopped'
        state.warn(
          `Stopped waiting: the endpoint ${state.endpointName} goes on changing in AWS. ${followHint(state)}`,
        )
      } else state.waited = 'failed'
      throw error
    }
  },
}

async function waitForEndpoint(state: EndpointDeployState, io: StepIO): Promise<void> {
  const started = performance.now()
  const elapsed = (): string =>
    formatDuration(Math.max(1000, Math.round((performance.now() - started) / 1000) * 1000))
  let last: EndpointStatus | undefined
  for (;;) {
    const facts = await state.sagemaker.endpoint(state.endpointName, io.signal)
    if (facts === undefined)
      throw new CheckError(
        'endpoint-gone',
        `Endpoint ${state.endpointName} disappeared while mldeploy waited for it.`,
        {
          hint: 'Someone deleted it: deploy again.',
        },
      )
    state.endpoint = facts
    if (facts.status !== last) io.output(`${facts.status} after ${elapsed()}`)
    last = facts.status
    if (facts.status === 'RollingBack') state.rolledBack = true
    if (facts.status === 'InService') {
      if (!state.rolledBack && facts.configName === state.configName) {
        state.waited = 'in-service'
        return
      }
      throw new CheckError(
        'rolled-back',
        withReason(`SageMaker rolled the update of ${state.endpointName} back`, facts.failureReason),
        {
          hint: `The previous configuration ${facts.configName ?? state.before.configName ?? '?'} still serves (InService).`,
        },
      )
    }
    if (
      facts.status === 'Failed' ||
      facts.status === 'UpdateRollbackFailed' ||
      facts.status === 'OutOfService'
    ) {
      const serving =
        facts.status === 'UpdateRollbackFailed'
          ? 'The rollback failed too: the endpoint may serve neither configuration; look at it in the console.'
          : state.before.configName === null
            ? 'Nothing served before: the endpoint serves nothing.'
            : `Look at the endpoint before deploying again: ${followHint(state)}`
      throw new CheckError(
        'endpoint-failed',
        withReason(`Endpoint ${state.endpointName} is ${facts.status}`, facts.failureReason),
        {hint: serving},
      )
    }
    if (performance.now() - started >= state.config.waitTimeoutMs)
      throw new CheckError(
        'wait-timeout',
        `Endpoint ${state.endpointName} is still ${facts.status} after ${formatDuration(state.config.waitTimeoutMs)} (--wait-timeout).`,
        {hint: `It goes on in AWS. ${followHint(state)}`},
      )
    await sleep(state.config.pollMs, undefined, {signal: io.signal})
  }
}

/** Read-only first (a dry run walks only these), then the changes and the wait. */
export const DEPLOY_CHECKS: readonly Step<EndpointDeployState>[] = [preflightStep, checkStep, currentStep]
export const DEPLOY_PLAN: readonly Step<EndpointDeployState>[] = [
  ...DEPLOY_CHECKS,
  modelStep,
  configStep,
  endpointStep,
  waitStep,
]

/**
 * What the deploy steps need from a run that chains them (push --deploy, promote --deploy), as
 * the tag step needs a `TagTarget`: the target's deploy (undefined: this target does not deploy,
 * and the steps pass it by) and the image the run settled on (push's pushed digest, promote's
 * --from digest), which the deploy serves.
 */
export interface EndpointTarget extends EngineState {
  readonly endpointDeploy: EndpointDeployState | undefined
  readonly digest: string | undefined
  /** The image's manifest, when the run read it already (push's check): the deploy's check reuses it. */
  readonly digestManifest?: ImageManifest | undefined
}

const NOTHING: StepDescription = {actions: [], commands: []}

/** A deploy step walked by a push or a promote: on its target's deploy, with the run's digest. */
function chained<S extends EndpointTarget>(step: Step<EndpointDeployState>): Step<S> {
  const deployOf = (state: S): EndpointDeployState | undefined => {
    const deploy = state.endpointDeploy
    if (deploy !== undefined && state.digest !== undefined) {
      deploy.digest = state.digest
      if (state.digestManifest?.digest === state.digest) deploy.digestManifest = state.digestManifest
    }
    return deploy
  }
  return {
    id: `deploy-${step.id}`,
    title: `Deploy: ${step.title.charAt(0).toLowerCase()}${step.title.slice(1)}`,
    failure: step.failure,
    describe: (state) => {
      const deploy = deployOf(state)
      return deploy === undefined ? NOTHING : step.describe(deploy)
    },
    async run(state, io) {
      const deploy = deployOf(state)
      if (deploy === undefined) return io.skip?.('no --deploy for this target')
      return step.run(deploy, io)
    },
  }
}

/**
 * The deploy steps as push and promote chain them: the preflight beside theirs (before anything
 * is built or any tag moves), the image check and the endpoint's reading once the digest is
 * known (before the tags move), the changes after the tags moved and were verified.
 */
export function chainedDeploySteps<S extends EndpointTarget>(): {
  preflight: Step<S>
  reads: Step<S>[]
  changes: Step<S>[]
} {
  return {
    preflight: chained<S>(preflightStep),
    reads: [chained<S>(checkStep), chained<S>(currentStep)],
    changes: [modelStep, configStep, endpointStep, waitStep].map((step) => chained<S>(step)),
  }
}

/**
 * push --deploy --dry-run: the deploy's read-only checks as one of the dry run's checks (see
 * src/steps/dry-run-checks.ts): the identity, the role, the permissions (the digest is not known
 * yet: the names as the target's pattern) and the endpoint's current state, as promote's dry run
 * walks them. Without credentials it is skipped, as push's own AWS checks are.
 */
export async function endpointDryRunCheck(
  state: EndpointDeployState,
  signal: AbortSignal,
): Promise<string | {skipped: string}> {
  const caller = await identityOrMissing(state.aws, signal)
  if ('missing' in caller)
    return {skipped: 'no AWS credentials found, so the role, permissions and endpoint were not checked'}
  const lines: string[] = []
  const io: StepIO = {
    output: (output) => void (typeof output === 'string' && lines.push(output)),
    outputReady: () => undefined,
    skip: (reason) => void lines.push(reason),
    signal,
  }
  await checkCaller(state, caller.identity, io)
  await currentStep.run(state, io)
  return lines.join('; ')
}
