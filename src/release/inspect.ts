import {locatingPushFlags, type PushConfig, type PushFlags, resolvePushConfig} from '../config/push-config.js'
import {type DeployError, usageError} from '../errors.js'
import {readImageFacts} from '../deploy-target-rules.js'
import {type IndexEntry, platformOf} from '../image-facts.js'
import {ecrRegistryHost, PLACEHOLDER, validateImageTag} from '../images.js'
import {newRun, runPlans, type StepRecord} from '../pipeline/engine.js'
import type {IoHost} from '../pipeline/io-host.js'
import type {PlannedAction, Step} from '../pipeline/step.js'
import {describeLabels} from '../provenance.js'
import {SecretRegistry} from '../secrets.js'
import {
  AwsClients,
  awsSettingsFor,
  type EcrImageSource,
  registerAwsSecrets,
  resolveRegion,
} from '../systems/aws/index.js'
import {isDigest} from '../systems/backend.js'
import {type ImageSource, RegistryImageSource, registryTagsOf} from '../systems/image-source.js'
import {registryCalls} from '../systems/registry-api.js'

/**
 * `mldeploy inspect`: what an image in the repository is, without pulling it: ECR's API
 * (BatchGetImage, GetDownloadUrlForLayer, DescribeImages), or with --registry that registry's own
 * API with an ECR login token. Fields a source cannot give are null (the registry API has no push
 * time).
 */
export type InspectFlags = Pick<
  PushFlags,
  'root' | 'repository' | 'region' | 'profile' | 'account-id' | 'registry' | 'stage' | 'verbose'
> & {tag?: string; digest?: string}

export interface InspectConfig {
  push: PushConfig
  /** A tag or a digest. */
  reference: string
}

export interface InspectResult {
  target: string
  source: 'ecr' | 'registry'
  registry: string
  repository: string
  reference: string
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
  let reference = 'latest'
  if (flags.digest !== undefined) {
    if (!isDigest(flags.digest))
      throw usageError(
        `--digest ${JSON.stringify(flags.digest.slice(0, 80))} is not a sha256 digest.`,
        'Use sha256:<64 hex digits>.',
      )
    reference = flags.digest
  } else if (flags.tag !== undefined) reference = validateImageTag(flags.tag, '--tag')
  const pushFlags = locatingPushFlags(flags)
  return {push: resolvePushConfig(targetSpec, pushFlags, processEnv, cwd), reference}
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
  const region = await resolveRegion(push)
  // This target's own endpoint and credentials, from its environment record (not process.env).
  const aws = new AwsClients(
    awsSettingsFor(push.childEnv, {region: region.value, profile: push.profile?.value}),
  )
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
  let registry: string
  let ecr: EcrImageSource | undefined
  let access
  if (push.registry !== undefined) {
    const authorization = await aws.authorization(secrets, signal)
    registry = push.registry.value
    access = {
      scheme: push.registryScheme,
      host: registry,
      username: authorization.username,
      password: authorization.password,
    }
    source = new RegistryImageSource(access, repository)
  } else {
    ecr = await aws.imageSource(repository, push.accountId?.value)
    source = ecr
    registry = ecrRegistryHost(push.accountId?.value ?? PLACEHOLDER.account, region)
  }
  const facts = await readImageFacts(source, config.reference, signal)
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
    reference: config.reference,
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
