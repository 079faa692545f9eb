import {usageError} from '../errors.js'
import {
  defaultRepository,
  normalizeRegistryHost,
  validateAccountId,
  validateImageTag,
  validateRegion,
  validateRepository,
} from '../images.js'
import {resolveRoot, resolveTarget, type Target} from '../project/target.js'
import {BENTO_VERSION} from '../systems/bentoml.js'
import {type Backend, BACKENDS, isBackend} from '../systems/backend.js'
import type {RepositorySettings} from '../systems/aws.js'
import {resolvePython, type PythonCommand} from '../systems/python.js'
import {registryScheme} from '../systems/registry-api.js'
import {type HostPort, hostPortFromTrackingUri, parseHostPort} from '../systems/vpn.js'
import {EnvLayers, type Sourced} from './env-layers.js'
import {
  checkBackendFormat,
  type DeployTarget,
  type ImageFormat,
  resolveImageSettings,
} from './image-settings.js'
import {resolveTimeouts} from './timeouts.js'
import type {StepId} from '../pipeline/state.js'

/** The flags `mldeploy push` takes, as oclif parsed them (undefined = not given). */
export interface PushFlags {
  root?: string
  backend?: string
  repository?: string
  tag?: string[]
  region?: string
  profile?: string
  'account-id'?: string
  registry?: string
  platform?: string
  python?: string
  'vpn-check'?: string
  'skip-vpn-check'?: boolean
  'vpn-timeout'?: number
  'bento-version'?: string
  'keep-login'?: boolean
  'create-repository'?: boolean
  'image-tag-mutability'?: string
  'scan-on-push'?: boolean
  'git-sha-tag'?: boolean
  timeout?: string[]
  'dry-run'?: boolean
  stage?: string
  verbose?: boolean
  'image-format'?: string
  'deploy-target'?: string
}

export const DEFAULT_BACKEND: Backend = 'podman'
export const DEFAULT_TAGS = ['latest']
export const DEFAULT_REGION = 'us-east-1'
export const DEFAULT_VPN_TIMEOUT_SECONDS = 3

export interface PushConfig {
  target: Target
  backend: Sourced<Backend>
  repository: Sourced<string>
  tags: Sourced<string[]>
  /** Undefined until the AWS profile is consulted (see resolveRegion). */
  region: Sourced<string> | undefined
  profile: Sourced<string> | undefined
  accountId: Sourced<string> | undefined
  registry: Sourced<string> | undefined
  /** http or https for the registry's own API (tagging, verification) when --registry is set. */
  registryScheme: string
  platform: Sourced<string> | undefined
  python: Sourced<PythonCommand>
  vpnCheck: Sourced<HostPort> | undefined
  vpnTimeoutMs: number
  bentoVersion: Sourced<string> | undefined
  keepLogin: boolean
  /** How to create the repository when it is missing; undefined: a missing one is an error. */
  createRepository: RepositorySettings | undefined
  gitShaTag: boolean
  stage: string | undefined
  /** Per step, in milliseconds. */
  timeouts: Record<StepId, number>
  dryRun: boolean
  verbose: boolean
  /** Environment for every child process: the process environment over the .env files. */
  childEnv: Record<string, string>
  envFiles: string[]
  /** docker (Docker V2 schema 2, the default) or oci: what the registry ends up holding. */
  imageFormat: Sourced<ImageFormat>
  /** Where the image will run: sagemaker checks what was pushed against its rules; any: no rules. */
  deployTarget: Sourced<DeployTarget>
}

type Lookup = (flagValue: string | undefined, flag: string, envName: string) => Sourced<string> | undefined

/** Flags, then environment, then .env files (target over root), then defaults. Throws usage errors only. */
export function resolvePushConfig(
  targetSpec: string,
  flags: PushFlags,
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
): PushConfig {
  const root = resolveRoot(flags.root, cwd)
  const target = resolveTarget(targetSpec, root)
  if (flags.stage !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/.test(flags.stage)) {
    throw usageError(
      `--stage ${JSON.stringify(flags.stage)} is not a stage name.`,
      'Use e.g. development or production.',
    )
  }
  const layers = EnvLayers.load(processEnv, root, target.dir, flags.stage)
  if (flags.stage !== undefined && !layers.files.some((file) => file.path.endsWith(`.env.${flags.stage}`))) {
    // A mistyped stage must not fall back silently to the plain .env (another account, say).
    throw usageError(
      `--stage ${flags.stage}: no .env.${flags.stage} in ${target.dir} or ${root}.`,
      `Create .env.${flags.stage} there or check the stage name.`,
    )
  }
  const lookup: Lookup = (flagValue, flag, envName) => {
    if (flagValue !== undefined) {
      if (flagValue.trim() === '') throw usageError(`--${flag} is empty.`, `Give it a value or leave it out.`)
      return {value: flagValue, source: `flag --${flag}`}
    }
    return layers.get(envName)
  }

  const backendRaw = lookup(flags.backend, 'backend', 'MLDEPLOY_BACKEND')
  if (backendRaw !== undefined && !isBackend(backendRaw.value)) {
    throw usageError(
      `Unknown backend ${JSON.stringify(backendRaw.value)} (from ${backendRaw.source}).`,
      `Use one of: ${BACKENDS.join(', ')}.`,
    )
  }
  const backend = (backendRaw as Sourced<Backend> | undefined) ?? {value: DEFAULT_BACKEND, source: 'default'}

  // Before anything runs: sagemaker + oci, and docker + oci with the classic builder (DOCKER_BUILDKIT=0;
  // without it, the preflight's `docker buildx version` probe decides), are bad input.
  const {imageFormat, deployTarget} = resolveImageSettings(flags, lookup)
  checkBackendFormat(
    backend.value,
    imageFormat,
    layers.get('DOCKER_BUILDKIT')?.value === '0' ? 'classic' : undefined,
  )

  const repositoryRaw =
    lookup(flags.repository, 'repository', 'MLDEPLOY_REPOSITORY') ??
    ({value: defaultRepository(target.model, target.version), source: `derived from ${target.name}`} as const)
  const repository = {
    ...repositoryRaw,
    value: validateRepository(repositoryRaw.value, `Repository (from ${repositoryRaw.source})`),
  }

  const tags = resolveTags(flags.tag, layers)

  const regionRaw = lookup(flags.region, 'region', 'AWS_REGION') ?? layers.get('AWS_DEFAULT_REGION')
  const region = regionRaw && {
    ...regionRaw,
    value: validateRegion(regionRaw.value, `Region (from ${regionRaw.source})`),
  }
  const profile = lookup(flags.profile, 'profile', 'AWS_PROFILE')

  const accountRaw = lookup(flags['account-id'], 'account-id', 'MLDEPLOY_ACCOUNT_ID')
  const accountId = accountRaw && {
    ...accountRaw,
    value: validateAccountId(accountRaw.value, `Account id (from ${accountRaw.source})`),
  }

  const registryRaw = lookup(flags.registry, 'registry', 'MLDEPLOY_REGISTRY')
  const registry = registryRaw && {
    ...registryRaw,
    value: normalizeRegistryHost(registryRaw.value, `Registry (from ${registryRaw.source})`),
  }

  const platformRaw = lookup(flags.platform, 'platform', 'MLDEPLOY_PLATFORM')
  if (platformRaw !== undefined && !/^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/.test(platformRaw.value)) {
    throw usageError(
      `Platform ${JSON.stringify(platformRaw.value.slice(0, 80))} (from ${platformRaw.source}) is not os/arch.`,
      'Use e.g. linux/amd64 or linux/arm64.',
    )
  }

  const bentoVersionRaw = lookup(flags['bento-version'], 'bento-version', 'MLDEPLOY_BENTO_VERSION')
  if (bentoVersionRaw !== undefined && !BENTO_VERSION.test(bentoVersionRaw.value)) {
    throw usageError(
      `Bento version ${JSON.stringify(bentoVersionRaw.value.slice(0, 80))} (from ${bentoVersionRaw.source}) is not valid.`,
      'Use up to 63 lowercase letters, digits, ".", "_" and "-", starting and ending with a letter or digit.',
    )
  }
  if (bentoVersionRaw !== undefined) validateImageTag(bentoVersionRaw.value, 'Bento version')

  const childEnv = layers.childEnv()
  const python = resolvePython(lookup(flags.python, 'python', 'MLDEPLOY_PYTHON'), childEnv, root, cwd)
  const vpnTimeoutMs = resolveVpnTimeout(flags['vpn-timeout'], layers)
  const timeoutsFromEnv = layers.get('MLDEPLOY_TIMEOUTS')
  const timeouts =
    flags.timeout !== undefined && flags.timeout.length > 0
      ? resolveTimeouts(flags.timeout, '--timeout')
      : resolveTimeouts(
          timeoutsFromEnv?.value.split(',') ?? [],
          `MLDEPLOY_TIMEOUTS (from ${timeoutsFromEnv?.source})`,
        )

  return {
    target,
    backend,
    repository,
    tags,
    region,
    profile,
    accountId,
    registry,
    registryScheme: registryScheme(registryRaw?.value ?? ''),
    platform: platformRaw,
    python,
    vpnCheck: flags['skip-vpn-check']
      ? undefined
      : resolveVpnCheck(lookup(flags['vpn-check'], 'vpn-check', 'MLDEPLOY_VPN_CHECK'), layers),
    vpnTimeoutMs,
    bentoVersion: bentoVersionRaw,
    keepLogin: flags['keep-login'] ?? false,
    createRepository: resolveCreateRepository(flags, layers),
    gitShaTag: flags['git-sha-tag'] ?? isTrue(layers.get('MLDEPLOY_GIT_SHA_TAG')?.value),
    stage: flags.stage,
    timeouts,
    dryRun: flags['dry-run'] ?? false,
    verbose: flags.verbose ?? false,
    childEnv,
    envFiles: layers.files.map((file) => file.shown),
    imageFormat,
    deployTarget,
  }
}

function resolveTags(flagTags: string[] | undefined, layers: EnvLayers): Sourced<string[]> {
  let raw: Sourced<string[]>
  if (flagTags !== undefined && flagTags.length > 0) {
    raw = {value: flagTags, source: 'flag --tag'}
  } else {
    const fromEnv = layers.get('MLDEPLOY_TAGS')
    raw = fromEnv
      ? {value: fromEnv.value.split(',').map((tag) => tag.trim()), source: fromEnv.source}
      : {value: DEFAULT_TAGS, source: 'default'}
  }
  const value = [...new Set(raw.value.map((tag) => validateImageTag(tag, `Tag (from ${raw.source})`)))]
  return {value, source: raw.source}
}

export function resolveVpnCheck(
  explicit: Sourced<string> | undefined,
  layers: EnvLayers,
): Sourced<HostPort> | undefined {
  if (explicit !== undefined) {
    return {
      value: parseHostPort(explicit.value, `VPN check (from ${explicit.source})`),
      source: explicit.source,
    }
  }
  const tracking = layers.get('MLFLOW_TRACKING_URI')
  const hostPort = tracking && hostPortFromTrackingUri(tracking.value)
  return hostPort ? {value: hostPort, source: tracking.source} : undefined
}

export function resolveVpnTimeout(flagSeconds: number | undefined, layers: EnvLayers): number {
  const fromEnv = layers.get('MLDEPLOY_VPN_TIMEOUT')
  const seconds = flagSeconds ?? (fromEnv === undefined ? DEFAULT_VPN_TIMEOUT_SECONDS : Number(fromEnv.value))
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 120) {
    throw usageError(
      `VPN check timeout ${JSON.stringify(String(flagSeconds ?? fromEnv?.value))} is not a number of seconds between 0 and 120.`,
    )
  }
  return Math.round(seconds * 1000)
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && /^(?:1|true|yes)$/i.test(value)
}

function resolveCreateRepository(flags: PushFlags, layers: EnvLayers): RepositorySettings | undefined {
  const mutabilityRaw = flags['image-tag-mutability'] ?? layers.get('MLDEPLOY_IMAGE_TAG_MUTABILITY')?.value
  const mutability = (mutabilityRaw ?? 'MUTABLE').toUpperCase()
  if (mutability !== 'MUTABLE' && mutability !== 'IMMUTABLE') {
    throw usageError(
      `Image tag mutability ${JSON.stringify(mutabilityRaw)} is neither MUTABLE nor IMMUTABLE.`,
    )
  }
  const create = flags['create-repository'] ?? isTrue(layers.get('MLDEPLOY_CREATE_REPOSITORY')?.value)
  if (!create) {
    if (mutabilityRaw !== undefined && flags['image-tag-mutability'] !== undefined) {
      throw usageError(
        '--image-tag-mutability only applies with --create-repository.',
        'Add --create-repository.',
      )
    }
    return undefined
  }
  return {mutability, scanOnPush: flags['scan-on-push'] ?? true}
}
