import path from 'node:path'

import {CODEBUILD_PREFIX, defaultBucket} from '../config/codebuild-settings.js'
import type {Sourced} from '../config/env-layers.js'
import type {PushConfig} from '../config/push-config.js'
import {buildspec, type BuildspecInput, pythonSetupFor, resultKey} from '../codebuild/buildspec.js'
import {MLDEPLOY_PACKAGE_PATH, type SourceFiles, sourceFiles} from '../codebuild/package.js'
import type {Zip} from '../codebuild/zip.js'
import {DEFAULT_PYTHON_VERSION} from '../config/settings.js'
import {PLACEHOLDER} from '../images.js'
import type {AwsClients} from '../systems/aws/index.js'
import type {BuildFacts} from '../systems/aws/codebuild.js'
import {CodeBuild} from '../systems/aws/codebuild.js'
import {SourceBucket} from '../systems/aws/s3.js'
import {formatVpnCheck} from '../systems/vpn.js'
import {DeployState} from './state.js'

/** What a `--builder codebuild` push learns: the package, its key, the build and its result. */
export class CodeBuildState extends DeployState {
  readonly codebuild: CodeBuild
  /** The target folder and environment files, read when the state is made (the dry run lists them). */
  readonly source: SourceFiles
  /** The zip with the packed mldeploy (the package step makes it). */
  zip: Zip | undefined
  /** Whether the upload step found the key already there. */
  uploadSkipped: boolean | undefined
  build: BuildFacts | undefined
  /** The last lines of the build's log, for errors. */
  readonly logTail: string[] = []
  /** The remote mldeploy's JSON, read back from S3. */
  remote: Record<string, unknown> | undefined

  constructor(config: PushConfig, region: Sourced<string>, aws: AwsClients) {
    super(config, region, aws)
    this.codebuild = new CodeBuild(aws)
    this.source = sourceFiles(config.target, config.stage)
    for (const {file, key} of this.source.omitted)
      this.warn(
        `${file}: ${key} holds a secret and stays out of the CodeBuild source package; give it to the project as an environment variable from Secrets Manager or Parameter Store (README "Remote builds").`,
      )
  }

  private get settings(): NonNullable<PushConfig['codebuild']> {
    const found = this.config.codebuild
    if (found === undefined) throw new Error('CodeBuildState without --builder codebuild settings')
    return found
  }

  get project(): string {
    return this.settings.project.value
  }

  get bucketName(): string {
    return (
      this.settings.bucket?.value ??
      defaultBucket(this.account?.value ?? PLACEHOLDER.account, this.region.value)
    )
  }

  get bucket(): SourceBucket {
    return new SourceBucket(this.aws, this.bucketName)
  }

  get pollMs(): number {
    return this.settings.pollSeconds * 1000
  }

  get sourceKey(): string {
    return `${CODEBUILD_PREFIX}sources/${this.zip?.sha256 ?? '<sha256>'}.zip`
  }

  get resultKey(): string {
    return resultKey(CODEBUILD_PREFIX, this.build?.id ?? '<build-id>')
  }

  /** The listing the zip will hold: the source files and the packed mldeploy. */
  get listing(): string[] {
    return [...this.source.entries.map((entry) => entry.path), MLDEPLOY_PACKAGE_PATH].sort()
  }

  get buildspecInput(): BuildspecInput {
    return {
      target: this.config.target.name,
      pushFlags: remotePushFlags(this),
      bucket: this.bucketName,
      prefix: CODEBUILD_PREFIX,
      python: pythonSetupFor(this.listing),
      pythonVersion: DEFAULT_PYTHON_VERSION,
    }
  }

  get buildspec(): string {
    return buildspec(this.buildspecInput)
  }
}

const seconds = (ms: number): string => `${Math.max(1, Math.round(ms / 1000))}s`

/**
 * This run's settings as flags for the mldeploy inside the build, so it resolves what this one
 * did (the environment here does not travel; the .env files do, without secrets). Tags are final
 * (--git-sha-tag is resolved here: the package holds no git checkout).
 */
export function remotePushFlags(state: DeployState): string[] {
  const {config} = state
  const flags = ['--repository', config.repository.value, '--region', state.region.value]
  for (const tag of config.tags.value) flags.push('--tag', tag)
  if (config.accountId !== undefined) flags.push('--account-id', config.accountId.value)
  if (config.registry !== undefined)
    flags.push(
      '--registry',
      `${config.registryScheme}://${config.registry.value.replace(/^https?:\/\//, '')}`,
    )
  if (config.platform !== undefined) flags.push('--platform', config.platform.value)
  if (config.bentoVersion !== undefined) flags.push('--bento-version', config.bentoVersion.value)
  flags.push('--image-format', config.imageFormat.value, '--deploy-target', config.deployTarget.value)
  if (config.createRepository !== undefined) {
    flags.push('--create-repository', '--image-tag-mutability', config.createRepository.mutability)
    if (!config.createRepository.scanOnPush) flags.push('--no-scan-on-push')
    if (config.lifecyclePolicy === undefined) flags.push('--no-lifecycle-policy')
  }
  if (config.rebuild) flags.push('--rebuild')
  // Issue 25: the remote push runs the scan gate (the package carries the target's scan-allowlist.yaml).
  if (config.scanGate !== undefined) flags.push('--max-severity', config.scanGate.threshold.value)
  if (config.skipDiskCheck) flags.push('--skip-disk-check')
  if (config.stage !== undefined) flags.push('--stage', config.stage)
  if (config.vpnCheck === undefined) flags.push('--skip-vpn-check')
  else
    flags.push(
      '--vpn-check',
      // An MLflow URL stays one (without its credentials): the build asks MLflow's API too.
      formatVpnCheck(config.vpnCheck.value),
      '--vpn-timeout',
      String(Math.round(config.vpnTimeoutMs / 1000)),
    )
  for (const [step, ms] of Object.entries(config.timeouts)) flags.push('--timeout', `${step}=${seconds(ms)}`)
  flags.push(...sagemakerFlags(config))
  return flags
}

/**
 * Issue 24: the adapter and the contract run travel too. The contract run runs inside the build,
 * on its docker (privileged, as the build needs anyway): `--network none` and `--memory` work
 * there, and it proves the image before any tag moves, as a local push does.
 */
function sagemakerFlags(config: DeployState['config']): string[] {
  const sagemaker = config.sagemaker
  if (sagemaker === undefined) return []
  const flags = sagemaker.adapter ? [] : ['--no-sagemaker-adapter']
  if (sagemaker.api !== undefined) flags.push('--sagemaker-api', sagemaker.api.value)
  const serving = sagemaker.serving
  if (serving === undefined) return flags
  // The package holds the project as it is here: the same file, relative to the target folder.
  const sample = path.relative(config.target.dir, serving.sampleInput.file).split(path.sep).join('/')
  flags.push(
    '--check-serving',
    '--serving-memory',
    serving.memory.value,
    '--sample-input',
    sample,
    '--sample-content-type',
    serving.sampleInput.contentType,
  )
  return flags
}
