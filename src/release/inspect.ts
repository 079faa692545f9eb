import type {FlagValuesFor} from '../config/flags.js'
import {locatingPushFlags, type PushConfig, resolvePushConfig} from '../config/push-config.js'
import {type DeployError, errorMessage, usageError} from '../errors.js'
import {readImageFacts} from '../deploy-target-rules.js'
import {type IndexEntry, platformOf} from '../image-facts.js'
import {ecrRegistryHost, PLACEHOLDER, validateImageTag} from '../images.js'
import {newRun, runPlans, type StepRecord} from '../pipeline/engine.js'
import type {IoHost} from '../pipeline/io-host.js'
import type {PlannedAction, Step} from '../pipeline/step.js'
import {describeLabels} from '../provenance.js'
import {SecretRegistry} from '../secrets.js'
import {AwsClients, type EcrImageSource, registerAwsSecrets, targetAws} from '../systems/aws/index.js'
import {isDigest} from '../systems/backend.js'
import {type ImageSource, RegistryImageSource, registryTagsOf} from '../systems/image-source.js'
import {registryCalls} from '../systems/registry-api.js'

/**
 * `mldeploy inspect`: what an image in the repository is, without pulling it: ECR's API
 * (BatchGetImage, GetDownloadUrlForLayer, DescribeImages), or with --registry that registry's own
 * API with an ECR login token. Fields a source cannot give are null (the registry API has no push
 * time).
 */

/** Inspect's own flags, from the settings table (`verbose` is the base command's). */
export type InspectFlags = FlagValuesFor<'inspect'> & {verbose?: boolean}

export interface InspectConfig {
  push: PushConfig
  /** A tag or a digest. */
  reference: string
  /** Where the reference came from: a flag, or the target's first tag as push resolves it. */
  referenceSource: string
}

export interface InspectResult {
  target: string
  source: 'ecr' | 'registry'
  registry: string
  repository: string
  /** The registry's account (--account-id / MLDEPLOY_ACCOUNT_ID, else STS); null with --registry or when unknown. */
  account: string | null
  reference: string
  referenceSource: string
  digest: string
  /** Every tag naming the image; null when the source cannot list them. */
  tags: string[] | null
  mediaType: string
  kind: string
  platform: string | null
  layers: number
  /** ECR's size when it gives one, else the sum of the manifest's layer and config sizes. */
  sizeBytes: number
  pushedAt: string | null
  labels: Record<string, string>
  /** The labels in plain words. */
  provenance: string
  exposedPorts: string[]
  entrypoint: string[] | null
  cmd: string[] | null
  user: string | null
  manifests: IndexEntry[] | null
  warnings: string[]
  steps: StepRecord[]
}

/** What the inspection reads, as a plan of one step on the engine (records, interrupts). */
type Inspected = Omit<InspectResult, 'steps'>

export function resolveInspectConfig(
  targetSpec: string,
  flags: InspectFlags,
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
): InspectConfig {
  if (flags.tag !== undefined && flags.digest !== undefined)
    throw usageError('Give --tag or --digest, not both.')
  if (flags.digest !== undefined && !isDigest(flags.digest))
    throw usageError(
      `--digest ${JSON.stringify(flags.digest.slice(0, 80))} is not a sha256 digest.`,
      'Use sha256:<64 hex digits>.',
    )
  const tag = flags.tag === undefined ? undefined : validateImageTag(flags.tag, '--tag')
  const push = resolvePushConfig(targetSpec, locatingPushFlags(flags), processEnv, cwd)
  if (flags.digest !== undefined) return {push, reference: flags.digest, referenceSource: 'flag --digest'}
  if (tag !== undefined) return {push, reference: tag, referenceSource: 'flag --tag'}
  // The tag this target's pushes move (MLDEPLOY_TAGS in the environment or its .env files, else latest).
  const [first = 'latest'] = push.tags.value
  return {push, reference: first, referenceSource: `the target's first tag (from ${push.tags.source})`}
}

/** The one step's state: the configuration, the target's AWS clients, and what was read. */
export class InspectState {
  readonly secrets = new SecretRegistry()
  inspected: Inspected | undefined

  constructor(
    readonly config: InspectConfig,
    readonly region: string,
    readonly aws: AwsClients,
  ) {}
}

export async function prepareInspect(config: InspectConfig): Promise<InspectState> {
  const {push} = config
  const {region, aws} = await targetAws(push)
  const state = new InspectState(config, region.value, aws)
  registerAwsSecrets(push.childEnv, state.secrets)
  aws.shareSecretsWith(state.secrets)
  return state
}

function readActions(state: InspectState): PlannedAction[] {
  const {push, reference} = state.config
  const repository = push.repository.value
  const index = 'the manifest is an image, not an index'
  if (push.registry === undefined)
    return [
      ...(push.accountId === undefined
        ? [
            {
              text: 'The account, for the registry host: STS GetCallerIdentity',
              calls: ['aws:sts:GetCallerIdentity'],
            },
          ]
        : []),
      {
        text: `Read the manifest of ${repository}:${reference}: ECR BatchGetImage`,
        calls: ['aws:ecr:BatchGetImage'],
      },
      {
        text: 'Read its config (platform, labels, ports, entrypoint): ECR GetDownloadUrlForLayer, then a GET of that URL',
        calls: ['aws:ecr:GetDownloadUrlForLayer', 'http:GET <presigned-url-path>'],
        when: index,
      },
      {text: 'Its tags, size and push time: ECR DescribeImages', calls: ['aws:ecr:DescribeImages']},
    ]
  return [
    {
      text: `A login token for the registry API of ${push.registry.value}: ECR GetAuthorizationToken`,
      calls: ['aws:ecr:GetAuthorizationToken'],
    },
    {
      text: `Read the manifest of ${repository}:${reference}: registry API of ${push.registry.value}`,
      calls: [registryCalls.getManifest(repository)],
    },
    {
      text: 'Read its config (platform, labels, ports, entrypoint): registry API',
      calls: [`http:GET /v2/${repository}/blobs/<config-digest>`],
      when: index,
    },
    {text: 'Its tags: registry API', calls: [`http:GET /v2/${repository}/tags/list`]},
  ]
}

/** Only reads: a missing tag or repository, or AWS refusing, is a preflight failure (exit 3). */
const inspectStep: Step<InspectState> = {
  id: 'inspect',
  title: 'Read the image',
  failure: 'preflight',
  describe: (state) => ({actions: readActions(state), commands: []}),
  async run(state, io) {
    state.inspected = await readInspected(state.config, state.aws, state.region, state.secrets, io.signal)
  },
}

export const INSPECT_PLAN: readonly Step<InspectState>[] = [inspectStep]

/** Reads the image on the engine; the failure (if any) carries the step's exit class. */
export async function inspectImage(
  state: InspectState,
  options: {host: IoHost; signal: AbortSignal},
): Promise<{result: InspectResult | undefined; steps: StepRecord[]; failure: DeployError | undefined}> {
  const run = newRun(INSPECT_PLAN, state)
  try {
    await runPlans(INSPECT_PLAN, [run], options)
  } finally {
    state.aws.close()
  }
  const result = state.inspected && {...state.inspected, steps: run.steps}
  return {result, steps: run.steps, failure: run.failure}
}

async function readInspected(
  config: InspectConfig,
  aws: AwsClients,
  region: string,
  secrets: SecretRegistry,
  signal: AbortSignal | undefined,
): Promise<Inspected> {
  const {push} = config
  const repository = push.repository.value
  const warnings: string[] = []
  let source: ImageSource
  let ecr: EcrImageSource | undefined
  let access
  if (push.registry !== undefined) {
    const authorization = await aws.authorization(secrets, signal)
    access = {
      scheme: push.registryScheme,
      host: push.registry.value,
      username: authorization.username,
      password: authorization.password,
    }
    source = new RegistryImageSource(access, repository)
  } else {
    ecr = await aws.imageSource(repository, push.accountId?.value)
    source = ecr
  }
  // Asked alongside the manifest, so the header names the real registry rather than a placeholder;
  // both are awaited, so the step's record holds both calls whichever fails.
  const [read, named] = await Promise.allSettled([
    readImageFacts(source, config.reference, signal),
    ecr === undefined ? undefined : (push.accountId?.value ?? accountFromSts(aws, warnings, signal)),
  ])
  if (read.status === 'rejected') throw read.reason
  const facts = read.value
  const account = named.status === 'fulfilled' ? named.value : undefined
  const registry = push.registry?.value ?? ecrRegistryHost(account ?? PLACEHOLDER.account, region)
  let tags: string[] | null = null
  let sizeBytes = facts.totalSizeBytes
  let pushedAt: string | null = null
  if (ecr !== undefined) {
    const described = await ecr.describe(facts.digest, signal)
    tags = described.tags
    sizeBytes = described.sizeBytes ?? sizeBytes
    pushedAt = described.pushedAt
  } else if (access !== undefined) {
    tags = await registryTagsOf(access, repository, facts.digest, signal)
    warnings.push('The registry API has no push time: pushedAt is unknown.')
  }
  return {
    target: push.target.name,
    source: ecr === undefined ? 'registry' : 'ecr',
    registry,
    repository,
    account: account ?? null,
    reference: config.reference,
    referenceSource: config.referenceSource,
    digest: facts.digest,
    tags,
    mediaType: facts.mediaType,
    kind: facts.kind,
    platform: platformOf(facts),
    layers: facts.layers,
    sizeBytes,
    pushedAt,
    labels: facts.labels,
    provenance: describeLabels(facts.labels),
    exposedPorts: facts.exposedPorts,
    entrypoint: facts.entrypoint,
    cmd: facts.cmd,
    user: facts.user,
    manifests: facts.manifests,
    warnings,
  }
}

/** The caller's account; a failure is a warning (the image was still read), never the step's. */
function accountFromSts(
  aws: AwsClients,
  warnings: string[],
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  return aws.identity(signal).then(
    (who) => who.account,
    (error: unknown) => {
      const reason = (errorMessage(error).split('\n')[0] ?? '').replace(/\.$/, '')
      warnings.push(
        `The account could not be read (${reason}): the registry shows as ${PLACEHOLDER.account}. Pass --account-id to name it.`,
      )
      return undefined
    },
  )
}

function megabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`
}

export function formatInspect(result: InspectResult): string {
  const lines = [
    `${result.registry}/${result.repository}:${result.reference}`,
    `  digest     ${result.digest}`,
    `  tags       ${result.tags === null ? 'unknown' : result.tags.join(', ') || 'none'}`,
    `  media type ${result.mediaType}`,
    `  platform   ${result.platform ?? 'unknown'}`,
    `  size       ${megabytes(result.sizeBytes)} in ${result.layers} layers (compressed)`,
    `  pushed     ${result.pushedAt ?? 'unknown'}`,
    `  provenance ${result.provenance}`,
  ]
  for (const [key, value] of Object.entries(result.labels).sort()) lines.push(`  label      ${key}=${value}`)
  for (const entry of result.manifests ?? [])
    lines.push(
      `  manifest   ${entry.digest} ${entry.platform ?? 'unknown'}${entry.attestation ? ' (attestation)' : ''}`,
    )
  return lines.join('\n')
}
