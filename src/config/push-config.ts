import {statSync} from 'node:fs'
import path from 'node:path'

import {usageError} from '../errors.js'
import {defaultLifecyclePolicy, type LifecyclePolicy} from '../lifecycle-policy.js'
import {resolveRoot, resolveTarget, type Target} from './target.js'
import type {Backend} from '../systems/backend.js'
import type {RepositorySettings} from '../systems/aws/index.js'
import {resolvePython, type PythonCommand} from '../systems/python.js'
import {registryScheme} from '../systems/registry-api.js'
import type {HostPort} from '../systems/vpn.js'
import {backendOfBuilder, type Builder, describeBuilder} from './builder.js'
import {EnvLayers, type Sourced} from './env-layers.js'
import {loadAllowlists} from './scan-allowlist.js'
import type {AllowEntry, Threshold} from '../scan-findings.js'
import {loadEnvLayers} from './target-layers.js'
import {SETTINGS_FILE} from './settings-file.js'
import type {FlagValuesFor} from './flags.js'
import {checkBackendFormat, checkTargetFormat, type DeployTarget, type ImageFormat} from './image-settings.js'
import {readStage, SETTINGS, SettingsReader, type FromFile, type Shadowed} from './settings.js'
import type {StepId} from '../step-ids.js'

export {DEFAULT_BACKEND, DEFAULT_REGION, DEFAULT_TAGS, DEFAULT_VPN_TIMEOUT_SECONDS} from './settings.js'

/** The flags `mldeploy push` takes, as oclif parsed them (undefined = not given); from the settings table. */
export type PushFlags = FlagValuesFor<'push'> & {verbose?: boolean}

export interface PushConfig {
  target: Target
  backend: Sourced<Backend>
  /** Where containerize, login and push run (issue 13). */
  builder: Sourced<Builder>
  /** With --builder codebuild: the project, the bucket (default from the account) and the poll interval. */
  codebuild: {project: Sourced<string>; bucket: Sourced<string> | undefined; pollSeconds: number} | undefined
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
  /** The lifecycle policy a repository created here gets; undefined without --create-repository or with --no-lifecycle-policy. */
  lifecyclePolicy: LifecyclePolicy | undefined
  gitShaTag: boolean
  stage: string | undefined
  /** Per step, in milliseconds. */
  timeouts: Record<StepId, number>
  dryRun: boolean
  /** --offline: the dry run prints the plan only (no AWS call, no child, no probe). */
  offline: boolean
  verbose: boolean
  /** Environment for every child process: the process environment over the .env files. */
  childEnv: Record<string, string>
  envFiles: string[]
  /** Values where the environment and the target's files disagree, and which won (see SettingsReader). */
  shadowed: Shadowed[]
  /** The settings that came from a file, and which (see SettingsReader). */
  fromFiles: FromFile[]
  /** docker (Docker V2 schema 2, the default) or oci: what the registry ends up holding. */
  imageFormat: Sourced<ImageFormat>
  /** Where the image will run: sagemaker checks what was pushed against its rules; any: no rules. */
  deployTarget: Sourced<DeployTarget>
  /** --rebuild: containerize even when an image with the same content exists (issue 12). */
  rebuild: boolean
  /** --skip-disk-check (issue 12). */
  skipDiskCheck: boolean
  /** Issue 25: --max-severity and the accepted risks of scan-allowlist.yaml; undefined: no gate. */
  scanGate: ScanGate | undefined
  /** Issue 24: the SageMaker adapter and the local contract run; undefined unless --deploy-target sagemaker. */
  sagemaker: SageMakerSettings | undefined
}

export interface SageMakerSettings {
  /** Build the adapter layer on the bento image (--no-sagemaker-adapter: the service meets the contract). */
  adapter: boolean
  /** --sagemaker-api; undefined: the service's only API. */
  api: Sourced<string> | undefined
  /** --check-serving: the local contract run; undefined when not asked. */
  serving: ServingCheck | undefined
}

export interface ServingCheck {
  memory: Sourced<string>
  /** The sample input's file (absolute), its content type, and where each came from. */
  sampleInput: {file: string; contentType: string; source: string}
}

export interface ScanGate {
  threshold: Sourced<Threshold>
  allowlist: AllowEntry[]
  /** The allow-list files that hold entries (relative to the root). */
  allowlistFiles: string[]
}

/** Flags, then environment, then .env files (target over root), then defaults. Throws usage errors only. */
export function resolvePushConfig(
  targetSpec: string,
  flags: PushFlags,
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
): PushConfig {
  const root = resolveRoot(flags.root, cwd)
  // `.` is the target holding the working directory.
  const target = resolveTarget(targetSpec, root, cwd)
  const stage = readStage(flags, processEnv)?.value
  const layers = loadLayers(processEnv, root, target.dir, stage, `${target.dir} or ${root}`)
  const read = new SettingsReader(flags, layers, {target})

  const builder = read.must(SETTINGS.builder)
  const backend = backendForBuilder(read.must(SETTINGS.backend), builder)
  const imageFormat = read.must(SETTINGS.imageFormat)
  const deployTarget = read.must(SETTINGS.deployTarget)
  // Before anything runs: sagemaker + oci, and docker + oci with the classic builder (DOCKER_BUILDKIT=0;
  // without it, the preflight's `docker buildx version` probe decides), are bad input.
  checkTargetFormat(deployTarget, imageFormat)
  checkBackendFormat(
    backend.value,
    imageFormat,
    layers.get('DOCKER_BUILDKIT')?.value === '0' ? 'classic' : undefined,
  )
  const registryRaw = read.raw(SETTINGS.registry)
  const childEnv = layers.childEnv()
  const skipVpnCheck = flags['skip-vpn-check'] ?? false
  return {
    target,
    backend,
    builder,
    codebuild:
      builder.value.kind === 'codebuild'
        ? {
            project: read.must(SETTINGS.codebuildProject),
            bucket: read.get(SETTINGS.codebuildBucket),
            pollSeconds: read.must(SETTINGS.codebuildPoll).value,
          }
        : undefined,
    repository: read.must(SETTINGS.repository),
    tags: read.must(SETTINGS.tags),
    region: read.get(SETTINGS.region),
    profile: read.get(SETTINGS.profile),
    accountId: read.get(SETTINGS.accountId),
    registry: read.get(SETTINGS.registry),
    registryScheme: registryScheme(registryRaw?.value ?? ''),
    platform: read.get(SETTINGS.platform),
    python: resolvePython(read.get(SETTINGS.python), childEnv, root, cwd),
    vpnCheck: skipVpnCheck ? undefined : read.get(SETTINGS.vpnCheck),
    vpnTimeoutMs: read.must(SETTINGS.vpnTimeout).value * 1000,
    bentoVersion: read.get(SETTINGS.bentoVersion),
    keepLogin: flags['keep-login'] ?? false,
    createRepository: resolveCreateRepository(read, flags),
    lifecyclePolicy:
      read.must(SETTINGS.createRepository).value && read.must(SETTINGS.lifecyclePolicy).value
        ? defaultLifecyclePolicy(read.must(SETTINGS.tags).value)
        : undefined,
    gitShaTag: read.must(SETTINGS.gitShaTag).value,
    stage,
    timeouts: read.must(SETTINGS.timeouts).value,
    dryRun: flags['dry-run'] ?? false,
    offline: flags.offline ?? false,
    verbose: flags.verbose ?? false,
    childEnv,
    envFiles: layers.fileNames(),
    // The same array the reads above filled, complete once this object is built.
    shadowed: read.shadowed,
    fromFiles: read.fromFiles,
    imageFormat,
    deployTarget,
    rebuild: read.must(SETTINGS.rebuild).value,
    skipDiskCheck: flags['skip-disk-check'] ?? false,
    scanGate: resolveScanGate(read, root, target.dir, registryRaw),
    sagemaker: resolveSageMaker(read, target.dir, deployTarget),
  }
}

/** SageMaker's contract run posts at most its real-time payload limit. */
const MAX_SAMPLE_BYTES = 6 * 1024 * 1024
const SAMPLE_TYPES: Record<string, string> = {'.csv': 'text/csv', '.json': 'application/json'}
const DEFAULT_SAMPLES = ['example_input.csv', 'example_input.json']

function resolveSageMaker(
  read: SettingsReader,
  targetDir: string,
  deployTarget: Sourced<DeployTarget>,
): SageMakerSettings | undefined {
  const check = read.must(SETTINGS.checkServing)
  if (deployTarget.value !== 'sagemaker') {
    if (check.value)
      throw usageError(
        `Check serving (from ${check.source}) runs the image as SageMaker does, and the deploy target (from ${deployTarget.source}) is ${deployTarget.value}.`,
        'Add --deploy-target sagemaker, or drop --check-serving.',
      )
    return undefined
  }
  return {
    adapter: read.must(SETTINGS.sagemakerAdapter).value,
    api: read.get(SETTINGS.sagemakerApi),
    serving: check.value
      ? {memory: read.must(SETTINGS.servingMemory), sampleInput: resolveSampleInput(read, targetDir)}
      : undefined,
  }
}

/** Read before anything runs: a missing or unusable sample input is bad input (exit 2). */
function resolveSampleInput(read: SettingsReader, targetDir: string): ServingCheck['sampleInput'] {
  const named = read.get(SETTINGS.sampleInput)
  let file: string
  let source: string
  if (named !== undefined) {
    file = path.resolve(targetDir, named.value)
    source = named.source
    let stats
    try {
      stats = statSync(file)
    } catch {
      throw usageError(
        `Sample input ${JSON.stringify(named.value.slice(0, 120))} (from ${named.source}) does not exist (looked for ${file}).`,
        'Name a file relative to the target folder, e.g. --sample-input example_input.csv.',
      )
    }
    if (!stats.isFile())
      throw usageError(
        `Sample input ${JSON.stringify(named.value.slice(0, 120))} (from ${named.source}) is not a file.`,
        'Name the file --check-serving should post to /invocations.',
      )
  } else {
    const found = DEFAULT_SAMPLES.find((name) =>
      statSync(path.join(targetDir, name), {throwIfNoEntry: false})?.isFile(),
    )
    if (found === undefined)
      throw usageError(
        `--check-serving posts the target's sample input to /invocations, and ${targetDir} has no ${DEFAULT_SAMPLES.join(' or ')}.`,
        'Add one beside create_bento_model.py, or name a file with --sample-input.',
      )
    file = path.join(targetDir, found)
    source = 'default: the target folder'
  }
  if (statSync(file).size > MAX_SAMPLE_BYTES)
    throw usageError(
      `Sample input ${file} is over 6 MB, SageMaker's limit for a real-time request.`,
      'Post a smaller sample (a few rows are enough to prove the contract).',
    )
  const typed = read.get(SETTINGS.sampleContentType)
  const contentType = typed?.value ?? SAMPLE_TYPES[path.extname(file).toLowerCase()]
  if (contentType === undefined)
    throw usageError(
      `Sample input ${file}: no content type for ${path.extname(file) || 'a file without an extension'}.`,
      'Name it .csv or .json, or pass --sample-content-type (e.g. application/json).',
    )
  return {file, contentType, source}
}

/** The gate reads ECR's findings: --registry (another registry) has none to read. */
function resolveScanGate(
  read: SettingsReader,
  root: string,
  targetDir: string,
  registry: Sourced<string> | undefined,
): ScanGate | undefined {
  const threshold = read.get(SETTINGS.maxSeverity)
  if (threshold === undefined) return undefined
  if (registry !== undefined)
    throw usageError(
      `Max severity (from ${threshold.source}) reads ECR's scan findings, and the registry (from ${registry.source}) is not ECR's.`,
      'Push to ECR without --registry, or drop --max-severity.',
    )
  // Read before anything runs: a bad entry is bad input (exit 2), not a failed push.
  const {entries, files} = loadAllowlists(root, targetDir)
  return {threshold, allowlist: entries, allowlistFiles: files}
}

/**
 * The .env layers of a target (or of the root alone), the stage's files first. A stage with no
 * file anywhere is an error: a mistyped stage must not fall back silently to the plain .env.
 */
export function loadLayers(
  processEnv: NodeJS.ProcessEnv,
  root: string,
  targetDir: string | undefined,
  stage: string | undefined,
  where: string,
  hint = `Create .env.${stage} there or check the stage name.`,
): EnvLayers {
  const layers = loadEnvLayers(processEnv, root, targetDir, stage)
  if (stage !== undefined && !layers.files.some((file) => file.stage === stage))
    throw usageError(
      `--stage ${stage}: no .env.${stage} nor a stages: ${stage} entry of ${SETTINGS_FILE} in ${where}.`,
      hint,
    )
  return layers
}

/**
 * A reader of more settings of a target push resolved (deploy's, promote's destination): the same
 * files, stage and precedence, with the command's own flags.
 */
export function targetSettingsReader(
  push: PushConfig,
  flags: object,
  processEnv: NodeJS.ProcessEnv,
): SettingsReader {
  const {target} = push
  const layers = loadLayers(
    processEnv,
    target.root,
    target.dir,
    push.stage,
    `${target.dir} or ${target.root}`,
  )
  return new SettingsReader(flags, layers, {target})
}

/**
 * A remote engine or CodeBuild fixes the backend: a backend left at its default follows the
 * builder; one set to the other backend is bad input.
 */
export function backendForBuilder(backend: Sourced<Backend>, builder: Sourced<Builder>): Sourced<Backend> {
  const needed = backendOfBuilder(builder.value)
  if (needed === undefined || needed === backend.value) return backend
  if (backend.source === 'default')
    return {value: needed, source: `needed by builder ${describeBuilder(builder.value)}`}
  throw usageError(
    `Builder ${describeBuilder(builder.value)} (from ${builder.source}) runs ${needed}, but the backend is ${backend.value} (from ${backend.source}).`,
    `Use --backend ${needed}, or another builder.`,
  )
}

function resolveCreateRepository(read: SettingsReader, flags: PushFlags): RepositorySettings | undefined {
  const mutability = read.must(SETTINGS.imageTagMutability)
  if (!read.must(SETTINGS.createRepository).value) {
    if (flags['image-tag-mutability'] !== undefined) {
      throw usageError(
        '--image-tag-mutability only applies with --create-repository.',
        'Add --create-repository.',
      )
    }
    return undefined
  }
  return {mutability: mutability.value, scanOnPush: read.must(SETTINGS.scanOnPush).value}
}

/** The flags that locate a repository, for commands that only read or retag (promote, inspect). */
export interface LocatingFlags {
  root?: string | undefined
  repository?: string | undefined
  region?: string | undefined
  profile?: string | undefined
  'account-id'?: string | undefined
  registry?: string | undefined
  stage?: string | undefined
  verbose?: boolean | undefined
}

/**
 * Push's flags for a command that locates the repository the way push does and builds nothing:
 * no VPN check (an MLFLOW_TRACKING_URI must not shape what is resolved).
 */
export function locatingPushFlags(flags: LocatingFlags, dryRun = false): PushFlags {
  const given = Object.fromEntries(
    (['root', 'repository', 'region', 'profile', 'account-id', 'registry', 'stage'] as const)
      .filter((name) => flags[name] !== undefined)
      .map((name) => [name, flags[name]]),
  )
  return {...given, 'skip-vpn-check': true, 'dry-run': dryRun, verbose: flags.verbose ?? false} as PushFlags
}
