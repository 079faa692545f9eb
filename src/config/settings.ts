import {usageError} from '../errors.js'
import {
  defaultRepository,
  normalizeRegistryHost,
  parseDestination,
  validateAccountId,
  validateDigest,
  validateImageTag,
  validateRegion,
  validateRepository,
  validateRoleArn,
} from '../images.js'
import {
  defaultBentoModel,
  parseColumns,
  validateBentoModel,
  validateModelUri,
  validatePythonVersion,
  validateTrackingUri,
} from './names.js'
import {type Backend, BACKENDS} from '../systems/backend.js'
import {BENTO_VERSION} from '../systems/bentoml.js'
import {hostPortFromTrackingUri, parseVpnCheck} from '../systems/vpn.js'
import {BUILDER_FORMS, DEFAULT_BUILDER, parseBuilder} from './builder.js'
import {
  CODEBUILD_PREFIX,
  COMPUTE_TYPES,
  DEFAULT_CODEBUILD_PROJECT,
  DEFAULT_COMPUTE_TYPE,
  parseBucketName,
  parseProjectName,
  parseRoleArn,
  parseVpcConfig,
} from './codebuild-settings.js'
import type {EnvFile, EnvLayers, Sourced} from './env-layers.js'
import {type Threshold, THRESHOLDS} from '../scan-findings.js'
import {DEFAULT_TIMEOUTS_MS, formatDuration, parseDuration, resolveTimeouts} from './timeouts.js'
import {
  DEFAULT_INSTANCE_TYPE,
  DEFAULT_POLL_SECONDS,
  DEFAULT_TRAFFIC_STEP,
  DEFAULT_TRAFFIC_WAIT_SECONDS,
  DEFAULT_VARIANT_NAME,
  DEFAULT_WAIT_TIMEOUT,
  MAX_TRAFFIC_WAIT_SECONDS,
  parseInstanceType,
  parseSageMakerName,
  parseTrafficStep,
  sageMakerName,
  TRAFFIC_SHIFTING,
  type TrafficShifting,
} from './deploy-settings.js'
import {
  DEFAULT_DEPLOY_TARGET,
  DEFAULT_IMAGE_FORMAT,
  DEPLOY_TARGETS,
  type DeployTarget,
  IMAGE_FORMATS,
  type ImageFormat,
} from './image-settings.js'

/**
 * Every setting and flag of every command, declared once. The commands' oclif flags
 * (flagsFor), the resolution with provenance (SettingsReader), doctor's settings view,
 * init's mldeploy.yaml template and the README's flag tables are all generated from this table.
 */

export const COMMAND_IDS = [
  'push',
  'promote',
  'deploy',
  'inspect',
  'doctor',
  'list',
  'init',
  'migrate',
  'builder setup',
] as const
export type CommandId = (typeof COMMAND_IDS)[number]

/** oclif's helpGroup: `AWS FLAGS`, `BUILD FLAGS`... in --help; no group = the main FLAGS section. */
export const HELP_GROUPS = ['AWS', 'BUILD', 'TAGS', 'OUTPUT', 'ADVANCED'] as const
export type HelpGroup = (typeof HELP_GROUPS)[number]

export type SettingKind = 'string' | 'option' | 'integer' | 'boolean' | 'list'

/** What a flag of that kind parses to, and what an environment value is turned into first. */
export type RawValue<K extends SettingKind> = K extends 'integer'
  ? number
  : K extends 'boolean'
    ? boolean
    : K extends 'list'
      ? string[]
      : string

/** What a derived default may look at. */
export interface DefaultContext {
  target?: {name: string; model: string; version: string}
  layers?: EnvLayers
  /** For settings read from the process environment only (envSource 'process'). */
  processEnv?: NodeJS.ProcessEnv
}

export interface SettingDefault<K extends SettingKind> {
  /** How --help, the README and .env comments describe it (`<model>/<version> lowercased`). */
  describe: string
  /** Used when nothing is set; it goes through the setting's own parse like any other value. */
  value?: RawValue<K>
  /** A default computed from the target or another variable, with its own source. */
  derive?(context: DefaultContext): Sourced<RawValue<K>> | undefined
}

export interface SettingSpec<K extends SettingKind = SettingKind> {
  kind: K
  /** The flag's name (without --). Unique per command; two rows may share it in different commands. */
  flag: string
  aliases?: readonly string[]
  char?: 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'p' | 'q' | 'r' | 's' | 't' | 'v'
  /** Environment variables in precedence order (process environment, then the .env layers). */
  env?: readonly string[]
  /** 'process': only the process environment counts (e.g. the stage chooses the .env files). */
  envSource?: 'process'
  /**
   * Standard variables that CI sets for every job (configure-aws-credentials' AWS_REGION): in the
   * process environment they rank below the target's own files, so a multi-region project keeps
   * each target's region; the other names of `env` (MLDEPLOY_REGION) override the files.
   */
  ambientEnv?: readonly string[]
  /** Why there is no environment variable (required when `env` is absent). */
  noEnv?: string
  default?: SettingDefault<K>
  options?: readonly string[]
  /** Option values are compared upper-cased (MUTABLE/IMMUTABLE from a .env in any case). */
  upperCase?: boolean
  min?: number
  max?: number
  /** Boolean with --no-<flag>. */
  allowNo?: boolean
  required?: boolean
  /** oclif applies default.value itself: per-run flags that need no provenance (--dry-run, --concurrency). */
  oclifDefault?: boolean
  /** Provided by BaseCommand (--json, --verbose): documented here, not emitted by flagsFor. */
  base?: boolean
  /** Help text, once; `[alias] [env] [default]` are appended from the fields above. */
  help: string
  /** Another text for one command (its dry run, its --registry). */
  helpFor?: Partial<Record<CommandId, string>>
  group?: HelpGroup
  commands: readonly CommandId[]
  /** What messages call it: `Repository (from env MLDEPLOY_REPOSITORY) ...`. */
  label: string
  // Method syntax: rows of every kind fit AnySetting (parameters are checked bivariantly).
  parse?(raw: RawValue<K>, source: string): unknown
  /** A line in init's mldeploy.yaml template (commented out unless given); `comment` replaces the help there. */
  dotenv?: {example?: string; comment?: string}
}

export type AnySetting = SettingSpec<SettingKind>

/** The value a setting resolves to: what its parse returns, else the raw flag value. */
export type ValueOf<S> = S extends {parse(...args: never[]): infer V}
  ? V
  : S extends {kind: infer K extends SettingKind}
    ? RawValue<K>
    : never

// One helper per kind, so `parse` gets its raw type and the row keeps its literal flag/commands.
const string = <const S extends Omit<SettingSpec<'string'>, 'kind'>>(spec: S) => ({
  ...spec,
  kind: 'string' as const,
})
const option = <const S extends Omit<SettingSpec<'option'>, 'kind'> & {options: readonly string[]}>(
  spec: S,
) => ({
  ...spec,
  kind: 'option' as const,
})
const integer = <const S extends Omit<SettingSpec<'integer'>, 'kind'>>(spec: S) => ({
  ...spec,
  kind: 'integer' as const,
})
const boolean = <const S extends Omit<SettingSpec<'boolean'>, 'kind'>>(spec: S) => ({
  ...spec,
  kind: 'boolean' as const,
})
const list = <const S extends Omit<SettingSpec<'list'>, 'kind'>>(spec: S) => ({
  ...spec,
  kind: 'list' as const,
})

const RESOLVING: readonly CommandId[] = ['push', 'promote', 'doctor']
const PER_RUN = 'a choice for one run, not a project setting'

export const DEFAULT_BACKEND: Backend = 'podman'
export const DEFAULT_TAGS = ['latest']
export const DEFAULT_REGION = 'us-east-1'
export const DEFAULT_VPN_TIMEOUT_SECONDS = 3
export const DEFAULT_COLUMNS = ['col1', 'col2', 'col3']
export const DEFAULT_PYTHON_VERSION = '3.11'
const STAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/
const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/

export const SETTINGS = {
  // --- the project and the run ---
  root: string({
    flag: 'root',
    noEnv: 'the root decides which .env files are read, so it cannot come from them',
    default: {describe: 'the nearest folder above the working directory that holds deploy/'},
    help: 'Project root (the folder holding deploy/).',
    commands: ['push', 'promote', 'deploy', 'inspect', 'doctor', 'list', 'init', 'migrate'],
    label: 'Project root',
  }),
  stage: string({
    flag: 'stage',
    env: ['MLDEPLOY_STAGE'],
    envSource: 'process',
    default: {describe: 'none'},
    help: 'Stage (e.g. development, production): loads .env.<stage> of the target and the root over their .env.',
    commands: ['push', 'promote', 'deploy', 'inspect', 'doctor', 'list'],
    label: 'Stage',
    parse: (raw, source) => {
      if (!STAGE_NAME.test(raw))
        throw usageError(
          `${source === 'flag --stage' ? '--stage' : `Stage (from ${source})`} ${JSON.stringify(raw.slice(0, 60))} is not a stage name.`,
          'Use e.g. development or production.',
        )
      return raw
    },
  }),
  all: boolean({
    flag: 'all',
    noEnv: 'it selects targets: name them or pass --all',
    default: {describe: 'off', value: false},
    oclifDefault: true,
    help: 'Push every complete target under deploy/.',
    helpFor: {migrate: 'Migrate every target under deploy/ that holds an ecr.sh.'},
    commands: ['push', 'migrate'],
    label: '--all',
  }),
  concurrency: integer({
    flag: 'concurrency',
    noEnv: 'how heavy this machine can go is a choice for one run',
    default: {describe: '2', value: 2},
    oclifDefault: true,
    min: 1,
    max: 16,
    help: 'How many targets run at once (containerize is heavy: a laptop copes with 2).',
    commands: ['push'],
    label: 'Concurrency',
  }),
  dryRun: boolean({
    flag: 'dry-run',
    noEnv: PER_RUN,
    default: {describe: 'off', value: false},
    oclifDefault: true,
    help: 'Print the plan (commands, image references) and run only the read-only checks it marks (AWS identity, repository, tags, tools, VPN); change nothing.',
    helpFor: {
      promote: 'Show what would change, with read-only calls only; change nothing.',
      init: 'List the files it would write and write nothing.',
      migrate: 'Show each mldeploy.yaml change as a unified diff and write nothing.',
      'builder setup': 'Show every API call it would make (read-only lookups included) and change nothing.',
    },
    commands: ['push', 'promote', 'deploy', 'init', 'migrate', 'builder setup'],
    label: '--dry-run',
  }),
  offline: boolean({
    flag: 'offline',
    noEnv: PER_RUN,
    default: {describe: 'off', value: false},
    oclifDefault: true,
    help: 'With --dry-run: print the plan only, with no AWS call, no child process and no network probe.',
    commands: ['push'],
    label: '--offline',
  }),
  json: boolean({
    flag: 'json',
    base: true,
    noEnv: 'an output format for one run',
    default: {describe: 'off', value: false},
    help: 'One JSON object on stdout; progress and warnings stay on stderr.',
    group: 'OUTPUT',
    commands: COMMAND_IDS,
    label: '--json',
  }),
  verbose: boolean({
    flag: 'verbose',
    base: true,
    noEnv: 'an output choice for one run',
    default: {describe: 'off', value: false},
    help: 'Show the original error text (a child process output, an AWS SDK message) with errors.',
    group: 'OUTPUT',
    commands: COMMAND_IDS,
    label: '--verbose',
  }),
  quiet: boolean({
    flag: 'quiet',
    char: 'q',
    base: true,
    noEnv: 'an output choice for one run',
    default: {describe: 'off', value: false},
    help: 'Only the result, warnings and errors: no progress.',
    group: 'OUTPUT',
    commands: COMMAND_IDS,
    label: '--quiet',
  }),

  // --- promote ---
  promoteFrom: string({
    flag: 'from',
    noEnv: 'names the image of this promotion',
    required: true,
    help: 'The tag whose image is promoted (it must exist).',
    commands: ['promote'],
    label: '--from',
    parse: (raw) => validateImageTag(raw, '--from'),
  }),
  promoteTo: list({
    flag: 'to',
    noEnv: 'names the tags of this promotion',
    required: true,
    help: 'The tag to point at that image; repeat for several.',
    commands: ['promote'],
    label: '--to',
    parse: (raw) => [...new Set(raw.map((tag) => validateImageTag(tag, '--to')))],
  }),

  // --- promote into another account or region (issue 25 §2) ---
  toRegistry: string({
    flag: 'to-registry',
    env: ['MLDEPLOY_TO_REGISTRY'],
    default: {describe: 'none: the tags move within the source repository'},
    help: "Copy the image by digest into another ECR registry, <account>.dkr.ecr.<region>.amazonaws.com[/<repository>] (another account or region; the repository defaults to the source's), before pointing the --to tags there: only the blobs it lacks are sent, streamed. A host[:port][/<repository>] that is not ECR's is written through its own API with the destination's ECR login token (tests, VPC endpoints).",
    group: 'AWS',
    commands: ['promote'],
    label: 'Destination registry',
    parse: (raw, source) => parseDestination(raw, `Destination registry (from ${source})`),
  }),
  toProfile: string({
    flag: 'to-profile',
    env: ['MLDEPLOY_TO_PROFILE'],
    default: {describe: "the source's credentials"},
    help: 'AWS named profile for the destination of --to-registry (its identity, repository, login token and tags).',
    group: 'AWS',
    commands: ['promote'],
    label: 'Destination profile',
  }),
  toRoleArn: string({
    flag: 'to-role-arn',
    env: ['MLDEPLOY_TO_ROLE_ARN'],
    default: {describe: 'none'},
    help: "IAM role the destination of --to-registry is reached with: assumed (STS AssumeRole) with the --to-profile credentials, else the source's.",
    group: 'AWS',
    commands: ['promote'],
    label: 'Destination role',
    parse: (raw, source) => validateRoleArn(raw, `Destination role (from ${source})`),
  }),
  toRegion: string({
    flag: 'to-region',
    env: ['MLDEPLOY_TO_REGION'],
    default: {describe: "the --to-registry host's region, else the source's"},
    help: 'AWS region of the destination: where its login token and tags are asked for (needed only when --to-registry is not an ECR host).',
    group: 'AWS',
    commands: ['promote'],
    label: 'Destination region',
    parse: (raw, source) => validateRegion(raw, `Destination region (from ${source})`),
  }),

  // --- deploy to a SageMaker endpoint (issue 24 §3) ---
  deploy: boolean({
    flag: 'deploy',
    noEnv: PER_RUN,
    default: {describe: 'off', value: false},
    help: "After the tags moved and were verified, deploy their image (by digest) to the target's SageMaker endpoint, as mldeploy deploy does with the settings below; its preflight (role, permissions) runs with this command's, before anything is built or any tag moves. Not with --to-registry or --registry.",
    commands: ['push', 'promote'],
    label: '--deploy',
  }),
  executionRoleArn: string({
    flag: 'execution-role-arn',
    env: ['MLDEPLOY_SAGEMAKER_ROLE_ARN'],
    default: {describe: 'none: required by deploy'},
    help: "IAM role SageMaker runs the model with (pulls the image from ECR, writes its logs): an ARN of the target's account. The caller needs iam:PassRole on it.",
    group: 'AWS',
    commands: ['deploy', 'push', 'promote'],
    label: 'Execution role',
    parse: (raw, source) => validateRoleArn(raw, `Execution role (from ${source})`),
    dotenv: {example: 'arn:aws:iam::123456789012:role/sagemaker-execution'},
  }),
  instanceType: string({
    flag: 'instance-type',
    env: ['MLDEPLOY_SAGEMAKER_INSTANCE_TYPE'],
    default: {describe: DEFAULT_INSTANCE_TYPE, value: DEFAULT_INSTANCE_TYPE},
    help: 'SageMaker real-time hosting instance type, ml.<family>.<size> (x86: the images are linux/amd64).',
    commands: ['deploy', 'push', 'promote'],
    label: 'Instance type',
    parse: (raw, source) => parseInstanceType(raw, `Instance type (from ${source})`),
    dotenv: {example: 'ml.c5.xlarge'},
  }),
  instanceCount: integer({
    flag: 'instance-count',
    env: ['MLDEPLOY_SAGEMAKER_INSTANCE_COUNT'],
    min: 1,
    max: 100,
    default: {describe: '1', value: 1},
    help: 'Instances behind the endpoint.',
    commands: ['deploy', 'push', 'promote'],
    label: 'Instance count',
    dotenv: {example: '2'},
  }),
  variantName: string({
    flag: 'variant-name',
    env: ['MLDEPLOY_SAGEMAKER_VARIANT'],
    default: {describe: DEFAULT_VARIANT_NAME, value: DEFAULT_VARIANT_NAME},
    help: "The endpoint configuration's production variant.",
    group: 'ADVANCED',
    commands: ['deploy', 'push', 'promote'],
    label: 'Variant name',
    parse: (raw, source) => parseSageMakerName(raw, `Variant name (from ${source})`),
  }),
  endpointName: string({
    flag: 'endpoint-name',
    env: ['MLDEPLOY_SAGEMAKER_ENDPOINT'],
    default: {
      describe: '<model>-<version> lowercased',
      derive: ({target}) =>
        target && {value: sageMakerName(target.name), source: `derived from ${target.name}`},
    },
    help: 'SageMaker endpoint to create or update.',
    commands: ['deploy', 'push', 'promote'],
    label: 'Endpoint name',
    parse: (raw, source) => parseSageMakerName(raw, `Endpoint name (from ${source})`),
    dotenv: {example: 'modela-v1'},
  }),
  deployImageTag: string({
    flag: 'image-tag',
    noEnv: 'names the image of this deploy',
    default: {describe: 'latest'},
    help: "The pushed image to deploy, by tag in the target's repository (its digest is what is deployed).",
    commands: ['deploy'],
    label: '--image-tag',
    parse: (raw) => validateImageTag(raw, '--image-tag'),
  }),
  deployImageDigest: string({
    flag: 'image-digest',
    noEnv: 'names the image of this deploy',
    default: {describe: 'the digest of --image-tag'},
    help: "The pushed image to deploy, by digest (sha256:...) in the target's repository.",
    commands: ['deploy'],
    label: '--image-digest',
    parse: (raw) => validateDigest(raw, '--image-digest'),
  }),
  trafficShifting: option({
    flag: 'traffic-shifting',
    env: ['MLDEPLOY_SAGEMAKER_TRAFFIC_SHIFTING'],
    options: TRAFFIC_SHIFTING,
    default: {
      describe: "none: UpdateEndpoint without DeploymentConfig (SageMaker's own blue/green, all at once)",
    },
    help: 'Deployment guardrails of an update (blue/green): all-at-once, canary (--traffic-step first, the rest after --traffic-wait) or linear (--traffic-step every --traffic-wait).',
    group: 'ADVANCED',
    commands: ['deploy', 'push', 'promote'],
    label: 'Traffic shifting',
    parse: (raw) => raw as TrafficShifting,
    dotenv: {example: 'canary'},
  }),
  trafficStep: string({
    flag: 'traffic-step',
    env: ['MLDEPLOY_SAGEMAKER_TRAFFIC_STEP'],
    default: {describe: `canary ${DEFAULT_TRAFFIC_STEP.canary}, linear ${DEFAULT_TRAFFIC_STEP.linear}`},
    help: "The canary's size or each linear step: a share of the capacity (10%) or a number of instances (2).",
    group: 'ADVANCED',
    commands: ['deploy', 'push', 'promote'],
    label: 'Traffic step',
    parse: (raw, source) => parseTrafficStep(raw, `Traffic step (from ${source})`),
  }),
  trafficWaitSeconds: integer({
    flag: 'traffic-wait',
    env: ['MLDEPLOY_SAGEMAKER_TRAFFIC_WAIT'],
    min: 0,
    max: MAX_TRAFFIC_WAIT_SECONDS,
    default: {describe: String(DEFAULT_TRAFFIC_WAIT_SECONDS), value: DEFAULT_TRAFFIC_WAIT_SECONDS},
    help: 'Seconds SageMaker watches each traffic step (and the alarms) before the next one, with guardrails.',
    group: 'ADVANCED',
    commands: ['deploy', 'push', 'promote'],
    label: 'Traffic wait',
  }),
  terminationWaitSeconds: integer({
    flag: 'termination-wait',
    env: ['MLDEPLOY_SAGEMAKER_TERMINATION_WAIT'],
    min: 0,
    max: MAX_TRAFFIC_WAIT_SECONDS,
    default: {describe: '0', value: 0},
    help: 'Seconds the old fleet is kept after all traffic moved (a rollback is still instant then), with guardrails.',
    group: 'ADVANCED',
    commands: ['deploy', 'push', 'promote'],
    label: 'Termination wait',
  }),
  maxExecutionSeconds: integer({
    flag: 'max-execution-timeout',
    env: ['MLDEPLOY_SAGEMAKER_MAX_EXECUTION_TIMEOUT'],
    min: 600,
    max: 14400,
    default: {describe: "SageMaker's"},
    help: 'Seconds the whole blue/green update may take before SageMaker rolls it back, with guardrails.',
    group: 'ADVANCED',
    commands: ['deploy', 'push', 'promote'],
    label: 'Max execution timeout',
  }),
  rollbackAlarms: list({
    flag: 'rollback-alarm',
    env: ['MLDEPLOY_SAGEMAKER_ROLLBACK_ALARMS'],
    default: {describe: 'none', value: []},
    help: 'CloudWatch alarm that rolls an update back when it fires (repeat for several); implies guardrails (all-at-once unless --traffic-shifting says otherwise).',
    group: 'ADVANCED',
    commands: ['deploy', 'push', 'promote'],
    label: 'Rollback alarm',
  }),
  wait: boolean({
    flag: 'wait',
    allowNo: true,
    noEnv: PER_RUN,
    default: {describe: 'on', value: true},
    help: 'Wait until the endpoint is InService (--no-wait returns after the create or update call).',
    commands: ['deploy', 'push', 'promote'],
    label: '--wait',
  }),
  waitTimeout: string({
    flag: 'wait-timeout',
    env: ['MLDEPLOY_SAGEMAKER_WAIT_TIMEOUT'],
    default: {describe: DEFAULT_WAIT_TIMEOUT, value: DEFAULT_WAIT_TIMEOUT},
    help: 'How long to wait for InService (90s, 45m, 2h) before giving up (exit 11; the update goes on in AWS).',
    group: 'ADVANCED',
    commands: ['deploy', 'push', 'promote'],
    label: 'Wait timeout',
    parse: (raw, source) => parseDuration(raw, `Wait timeout (from ${source})`),
  }),
  pollSeconds: integer({
    flag: 'poll-interval',
    env: ['MLDEPLOY_SAGEMAKER_POLL_SECONDS'],
    min: 1,
    max: 300,
    default: {describe: String(DEFAULT_POLL_SECONDS), value: DEFAULT_POLL_SECONDS},
    help: "Seconds between reads of the endpoint's status while waiting.",
    group: 'ADVANCED',
    commands: ['deploy', 'push', 'promote'],
    label: 'Poll interval',
  }),

  // --- inspect ---
  inspectTag: string({
    flag: 'tag',
    noEnv: 'names the image of this inspection',
    default: {describe: "the first of the target's push tags (MLDEPLOY_TAGS), else latest"},
    help: 'The tag to inspect.',
    commands: ['inspect'],
    label: '--tag',
    parse: (raw) => validateImageTag(raw, '--tag'),
  }),
  inspectDigest: string({
    flag: 'digest',
    noEnv: 'names the image of this inspection',
    help: 'The image digest (sha256:...) to inspect, instead of a tag.',
    commands: ['inspect'],
    label: '--digest',
  }),

  // --- init (the new target's own files) ---
  initFrom: string({
    flag: 'from',
    noEnv: 'names the version to copy for this one target',
    help: 'Copy this existing <model>/<version> as the start of the new one.',
    commands: ['init'],
    label: '--from',
  }),
  bentoModel: string({
    flag: 'bento-model',
    noEnv: 'written into create_bento_model.py and service.py, not read later',
    default: {
      describe: '<model>-<version> lowercased; with --from, the old name with the new version',
      derive: ({target}) =>
        target && {
          value: defaultBentoModel(target.model, target.version),
          source: `derived from ${target.name}`,
        },
    },
    help: 'Model name in the BentoML store.',
    commands: ['init'],
    label: 'BentoML model name',
    parse: (raw, source) =>
      validateBentoModel(raw, source === 'flag --bento-model' ? '--bento-model' : source),
  }),
  modelUri: string({
    flag: 'model-uri',
    noEnv: 'written into create_bento_model.py, not read later',
    default: {describe: 'models:/<model>/latest'},
    help: 'MLflow model URI to import, e.g. runs:/<run-id>/model or models:/<name>/latest.',
    commands: ['init'],
    label: 'Model URI',
    parse: (raw) => validateModelUri(raw, '--model-uri'),
  }),
  columns: string({
    flag: 'columns',
    noEnv: 'written into common.py and example_input.csv, not read later',
    default: {describe: DEFAULT_COLUMNS.join(','), value: DEFAULT_COLUMNS.join(',')},
    help: 'Columns of the sample input (example_input.csv), comma-separated.',
    commands: ['init'],
    label: 'Columns',
    parse: (raw) => parseColumns(raw),
  }),
  pythonVersion: string({
    flag: 'python-version',
    noEnv: "written into service.py's image, not read later",
    default: {describe: DEFAULT_PYTHON_VERSION, value: DEFAULT_PYTHON_VERSION},
    help: 'Python of the service image.',
    commands: ['init'],
    label: 'Python version',
    parse: (raw) => validatePythonVersion(raw),
  }),

  // --- AWS ---
  repository: string({
    flag: 'repository',
    aliases: ['ecr-name'],
    env: ['MLDEPLOY_REPOSITORY'],
    default: {
      describe: '<model>/<version> lowercased',
      derive: ({target}) =>
        target && {
          value: defaultRepository(target.model, target.version),
          source: `derived from ${target.name}`,
        },
    },
    help: 'ECR repository.',
    group: 'AWS',
    commands: ['push', 'promote', 'deploy', 'inspect', 'doctor', 'init'],
    label: 'Repository',
    parse: (raw, source) => validateRepository(raw, `Repository (from ${source})`),
    dotenv: {},
  }),
  backend: option({
    flag: 'backend',
    env: ['MLDEPLOY_BACKEND'],
    options: BACKENDS,
    default: {describe: DEFAULT_BACKEND, value: DEFAULT_BACKEND},
    help: 'Container backend.',
    group: 'BUILD',
    commands: ['push', 'doctor', 'init'],
    label: 'Backend',
    parse: (raw) => raw as Backend,
    dotenv: {comment: `Container backend: ${BACKENDS.join(' or ')}`},
  }),
  tags: list({
    flag: 'tag',
    env: ['MLDEPLOY_TAGS'],
    default: {describe: DEFAULT_TAGS.join(','), value: DEFAULT_TAGS},
    help: 'Image tag; repeat for several. The bento version is always added.',
    group: 'TAGS',
    commands: ['push', 'init'],
    label: 'Tag',
    parse: (raw, source) => [...new Set(raw.map((tag) => validateImageTag(tag, `Tag (from ${source})`)))],
    dotenv: {comment: 'Image tags, comma-separated; the bento version is always added'},
  }),
  region: string({
    flag: 'region',
    env: ['MLDEPLOY_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION'],
    ambientEnv: ['AWS_REGION', 'AWS_DEFAULT_REGION'],
    // The profile's region needs the AWS SDK: the engine applies it and DEFAULT_REGION (resolveRegion).
    default: {describe: `the profile's, else ${DEFAULT_REGION}`},
    help: 'AWS region.',
    group: 'AWS',
    commands: ['push', 'promote', 'deploy', 'inspect', 'doctor', 'init', 'builder setup'],
    label: 'Region',
    parse: (raw, source) => validateRegion(raw, `Region (from ${source})`),
    dotenv: {example: DEFAULT_REGION},
  }),
  profile: string({
    flag: 'profile',
    env: ['MLDEPLOY_PROFILE', 'AWS_PROFILE'],
    ambientEnv: ['AWS_PROFILE'],
    default: {describe: "the SDK's default credential chain"},
    help: 'AWS named profile (SSO and credential_process included).',
    group: 'AWS',
    commands: [...RESOLVING, 'deploy', 'inspect', 'builder setup'],
    label: 'Profile',
  }),
  accountId: string({
    flag: 'account-id',
    env: ['MLDEPLOY_ACCOUNT_ID'],
    default: {describe: 'from STS'},
    help: 'Expected AWS account id: other credentials fail the preflight; a dry run without credentials uses it for the image references.',
    helpFor: {
      doctor: 'Expected AWS account id: other credentials fail the AWS check.',
      init: 'Expected AWS account id, written into mldeploy.yaml: other credentials fail the preflight.',
    },
    group: 'AWS',
    commands: ['push', 'promote', 'deploy', 'inspect', 'doctor', 'init'],
    label: 'Account id',
    parse: (raw, source) => validateAccountId(raw, `Account id (from ${source})`),
    dotenv: {
      example: '123456789012',
      comment: 'Expected AWS account id: other credentials fail the preflight',
    },
  }),
  registry: string({
    flag: 'registry',
    env: ['MLDEPLOY_REGISTRY'],
    default: {describe: "the login token's proxyEndpoint host"},
    help: 'Registry host to log in and push to, instead of the one ECR names (VPC endpoints, tests).',
    helpFor: {
      promote:
        "Registry host holding the images, read and tagged through its own API with an ECR login token, instead of ECR's API (VPC endpoints, tests).",
      inspect:
        "Registry host to read through its own API with an ECR login token, instead of ECR's API (VPC endpoints, tests).",
    },
    group: 'AWS',
    commands: ['push', 'promote', 'inspect'],
    label: 'Registry',
    parse: (raw, source) => normalizeRegistryHost(raw, `Registry (from ${source})`),
  }),
  createRepository: boolean({
    flag: 'create-repository',
    env: ['MLDEPLOY_CREATE_REPOSITORY'],
    default: {describe: 'off', value: false},
    help: 'Create the ECR repository when it is missing (before the long steps) instead of failing.',
    group: 'AWS',
    commands: ['push'],
    label: 'Create repository',
    dotenv: {example: 'true'},
  }),
  imageTagMutability: option({
    flag: 'image-tag-mutability',
    env: ['MLDEPLOY_IMAGE_TAG_MUTABILITY'],
    options: ['MUTABLE', 'IMMUTABLE'],
    upperCase: true,
    default: {describe: 'MUTABLE', value: 'MUTABLE'},
    help: 'Tag mutability of a repository that --create-repository creates.',
    group: 'AWS',
    commands: ['push'],
    label: 'Image tag mutability',
    parse: (raw) => raw as 'MUTABLE' | 'IMMUTABLE',
  }),
  scanOnPush: boolean({
    flag: 'scan-on-push',
    allowNo: true,
    noEnv: 'only for a repository --create-repository creates; AWS account settings usually decide it',
    default: {describe: 'on', value: true},
    help: 'Scan on push for a repository that --create-repository creates (--no-scan-on-push to turn off).',
    group: 'AWS',
    commands: ['push'],
    label: 'Scan on push',
  }),
  lifecyclePolicy: boolean({
    flag: 'lifecycle-policy',
    allowNo: true,
    env: ['MLDEPLOY_LIFECYCLE_POLICY'],
    default: {describe: 'on', value: true},
    help: 'Attach the default lifecycle policy (see "Repository growth": old builds expire, deployment tags stay) to a repository that --create-repository creates; --no-lifecycle-policy leaves it without one.',
    group: 'AWS',
    commands: ['push'],
    label: 'Lifecycle policy',
    dotenv: {example: 'false'},
  }),

  // --- build ---
  python: string({
    flag: 'python',
    env: ['MLDEPLOY_PYTHON'],
    default: {describe: 'the active virtualenv, else pipenv run python with a Pipfile, else python3'},
    help: 'Python of the project environment.',
    group: 'BUILD',
    commands: RESOLVING.filter((id) => id !== 'promote'),
    label: 'Python',
  }),
  builder: string({
    flag: 'builder',
    env: ['MLDEPLOY_BUILDER'],
    default: {describe: DEFAULT_BUILDER, value: DEFAULT_BUILDER},
    help: `Where containerize, login and push run: ${BUILDER_FORMS.join(', ')} (see "Remote builds").`,
    group: 'BUILD',
    commands: ['push', 'doctor'],
    label: 'Builder',
    parse: (raw, source) => parseBuilder(raw, source),
    dotenv: {
      comment: 'Builder: local, a remote engine (docker-host:<url>, podman-url:<url>, ...) or codebuild',
    },
  }),
  // --- CodeBuild (issue 13) ---
  codebuildProject: string({
    flag: 'project',
    env: ['MLDEPLOY_CODEBUILD_PROJECT'],
    default: {describe: DEFAULT_CODEBUILD_PROJECT, value: DEFAULT_CODEBUILD_PROJECT},
    help: 'CodeBuild project that runs the build with --builder codebuild (made by mldeploy builder setup codebuild).',
    helpFor: {'builder setup': 'CodeBuild project to create, or update when it exists.'},
    group: 'BUILD',
    commands: ['push', 'builder setup'],
    label: 'CodeBuild project',
    parse: (raw, source) => parseProjectName(raw, source),
  }),
  codebuildBucket: string({
    flag: 'bucket',
    env: ['MLDEPLOY_CODEBUILD_BUCKET'],
    default: {describe: 'mldeploy-codebuild-<account>-<region>'},
    help: `S3 bucket that carries sources to CodeBuild and results back (under ${CODEBUILD_PREFIX}), with --builder codebuild.`,
    helpFor: {
      'builder setup': `S3 bucket for sources and results (under ${CODEBUILD_PREFIX}); created when missing.`,
    },
    group: 'BUILD',
    commands: ['push', 'builder setup'],
    label: 'CodeBuild bucket',
    parse: (raw, source) => parseBucketName(raw, source),
  }),
  codebuildPoll: integer({
    flag: 'codebuild-poll',
    env: ['MLDEPLOY_CODEBUILD_POLL_SECONDS'],
    min: 1,
    max: 60,
    default: {describe: '5', value: 5},
    help: "Seconds between reads of the CodeBuild build's status and log, with --builder codebuild.",
    group: 'ADVANCED',
    commands: ['push'],
    label: 'CodeBuild poll interval',
  }),
  codebuildRoleArn: string({
    flag: 'role-arn',
    env: ['MLDEPLOY_CODEBUILD_ROLE_ARN'],
    help: 'IAM role the CodeBuild project builds with (ECR push, S3 on the prefix, CloudWatch Logs). Required.',
    group: 'AWS',
    commands: ['builder setup'],
    label: 'CodeBuild role',
    parse: (raw, source) => parseRoleArn(raw, source),
  }),
  codebuildComputeType: option({
    flag: 'compute-type',
    env: ['MLDEPLOY_CODEBUILD_COMPUTE_TYPE'],
    options: COMPUTE_TYPES,
    upperCase: true,
    default: {describe: DEFAULT_COMPUTE_TYPE, value: DEFAULT_COMPUTE_TYPE},
    help: 'CodeBuild compute type (memory and vCPUs of the build machine).',
    group: 'BUILD',
    commands: ['builder setup'],
    label: 'Compute type',
  }),
  codebuildVpcConfig: string({
    flag: 'vpc-config',
    env: ['MLDEPLOY_CODEBUILD_VPC_CONFIG'],
    default: {describe: 'none (the build reaches the internet, not your VPC)'},
    help: 'Run builds in your VPC (to reach an MLflow server behind the VPN): vpcId=vpc-...,subnets=subnet-a,subnet-b,securityGroupIds=sg-...',
    group: 'AWS',
    commands: ['builder setup'],
    label: 'VPC config',
    parse: (raw, source) => parseVpcConfig(raw, source),
  }),
  imageFormat: option({
    flag: 'image-format',
    env: ['MLDEPLOY_IMAGE_FORMAT'],
    options: IMAGE_FORMATS,
    default: {describe: DEFAULT_IMAGE_FORMAT, value: DEFAULT_IMAGE_FORMAT},
    help: 'Manifest format in the registry: docker (Docker V2 schema 2, which every AWS runtime runs) or oci.',
    group: 'BUILD',
    commands: ['push'],
    label: 'Image format',
    parse: (raw) => raw as ImageFormat,
    dotenv: {comment: 'Image manifest format: docker (every AWS runtime) or oci'},
  }),
  deployTarget: option({
    flag: 'deploy-target',
    env: ['MLDEPLOY_DEPLOY_TARGET'],
    options: DEPLOY_TARGETS,
    default: {describe: DEFAULT_DEPLOY_TARGET, value: DEFAULT_DEPLOY_TARGET},
    help: "Where the image will run: sagemaker checks the pushed image against SageMaker's rules before any tag moves; any checks nothing.",
    group: 'BUILD',
    commands: ['push'],
    label: 'Deploy target',
    parse: (raw) => raw as DeployTarget,
    dotenv: {comment: 'Where the image runs: sagemaker (checked before tagging) or any'},
  }),
  // --- SageMaker adapter and contract run (issue 24 §1, §2) ---
  sagemakerAdapter: boolean({
    flag: 'sagemaker-adapter',
    env: ['MLDEPLOY_SAGEMAKER_ADAPTER'],
    allowNo: true,
    default: {describe: 'on (with --deploy-target sagemaker)', value: true},
    help: "With --deploy-target sagemaker, build a thin layer on the bento image that meets SageMaker's serving contract (serve, port 8080, /ping, /invocations, root); --no-sagemaker-adapter for a service that meets it itself.",
    group: 'BUILD',
    commands: ['push'],
    label: 'SageMaker adapter',
  }),
  sagemakerApi: string({
    flag: 'sagemaker-api',
    env: ['MLDEPLOY_SAGEMAKER_API'],
    default: {describe: "the service's only API"},
    help: 'The API of the service that POST /invocations calls (with the SageMaker adapter).',
    group: 'BUILD',
    commands: ['push'],
    label: 'SageMaker API',
    parse: (raw, source) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(raw))
        throw usageError(
          `SageMaker API ${JSON.stringify(raw.slice(0, 60))} (from ${source}) is not an API name.`,
          'Use the name of a @bentoml.api method, e.g. predict.',
        )
      return raw
    },
  }),
  checkServing: boolean({
    flag: 'check-serving',
    env: ['MLDEPLOY_CHECK_SERVING'],
    default: {describe: 'off', value: false},
    help: 'With --deploy-target sagemaker: before the scan and tags, run the pushed image locally as SageMaker does (serve, no network, --serving-memory), wait for GET /ping and POST the sample input to /invocations; a failure is exit 10.',
    group: 'BUILD',
    commands: ['push'],
    label: 'Check serving',
  }),
  servingMemory: string({
    flag: 'serving-memory',
    env: ['MLDEPLOY_SERVING_MEMORY'],
    default: {describe: '4g', value: '4g'},
    help: "The contract run's memory limit (the backend's --memory), e.g. 4g for an ml.m5.large's 8 GiB less the system's share.",
    group: 'BUILD',
    commands: ['push'],
    label: 'Serving memory',
    parse: (raw, source) => {
      if (!/^[1-9]\d{0,5}[bkmg]$/i.test(raw))
        throw usageError(
          `Serving memory ${JSON.stringify(raw.slice(0, 40))} (from ${source}) is not a size.`,
          'Use a number with b, k, m or g, e.g. 4g or 1536m.',
        )
      return raw.toLowerCase()
    },
  }),
  sampleInput: string({
    flag: 'sample-input',
    env: ['MLDEPLOY_SAMPLE_INPUT'],
    default: {describe: "the target's example_input.csv (or .json)"},
    help: 'The request body --check-serving posts to /invocations: a file, relative to the target folder.',
    group: 'BUILD',
    commands: ['push'],
    label: 'Sample input',
  }),
  sampleContentType: string({
    flag: 'sample-content-type',
    env: ['MLDEPLOY_SAMPLE_CONTENT_TYPE'],
    default: {describe: 'from the extension: .csv text/csv, .json application/json'},
    help: 'The Content-Type --check-serving posts the sample input with.',
    group: 'BUILD',
    commands: ['push'],
    label: 'Sample content type',
    parse: (raw, source) => {
      if (!/^[a-z0-9][a-z0-9.+-]*\/[a-z0-9][a-z0-9.+-]*(?:\s*;\s*[a-z0-9-]+=[A-Za-z0-9._-]+)?$/i.test(raw))
        throw usageError(
          `Sample content type ${JSON.stringify(raw.slice(0, 60))} (from ${source}) is not a media type.`,
          'Use e.g. text/csv or application/json.',
        )
      return raw
    },
  }),
  // --- end SageMaker ---
  maxSeverity: option({
    flag: 'max-severity',
    env: ['MLDEPLOY_MAX_SEVERITY'],
    options: THRESHOLDS,
    upperCase: true,
    default: {describe: 'no scan gate'},
    help: "Scan gate: after the upload and before any tag moves, read the image's ECR scan findings (starting a scan when there is none, waiting for it) and fail (exit 9) on a finding at or above this severity that scan-allowlist.yaml does not accept; NONE: any finding fails.",
    group: 'BUILD',
    commands: ['push', 'promote'],
    label: 'Max severity',
    parse: (raw) => raw.toUpperCase() as Threshold,
    dotenv: {
      example: 'HIGH',
      comment: 'Scan gate: fail on an ECR scan finding at or above CRITICAL, HIGH, MEDIUM, LOW or NONE (any)',
    },
  }),
  platform: string({
    flag: 'platform',
    env: ['MLDEPLOY_PLATFORM'],
    default: {describe: "the backend's"},
    help: 'Target platform for the image, e.g. linux/amd64.',
    group: 'BUILD',
    commands: ['push'],
    label: 'Platform',
    parse: (raw, source) => {
      if (!PLATFORM.test(raw))
        throw usageError(
          `Platform ${JSON.stringify(raw.slice(0, 80))} (from ${source}) is not os/arch.`,
          'Use e.g. linux/amd64 or linux/arm64.',
        )
      return raw
    },
    dotenv: {example: 'linux/amd64'},
  }),
  bentoVersion: string({
    flag: 'bento-version',
    env: ['MLDEPLOY_BENTO_VERSION'],
    default: {describe: 'generated by bentoml'},
    help: 'Bento version to build (bentoml build --version), so the image tag is known before the run.',
    group: 'BUILD',
    commands: ['push'],
    label: 'Bento version',
    parse: (raw, source) => {
      if (!BENTO_VERSION.test(raw))
        throw usageError(
          `Bento version ${JSON.stringify(raw.slice(0, 80))} (from ${source}) is not valid.`,
          'Use up to 63 lowercase letters, digits, ".", "_" and "-", starting and ending with a letter or digit.',
        )
      return validateImageTag(raw, 'Bento version')
    },
  }),

  // --- reuse and disk (issue 12) ---
  rebuild: boolean({
    flag: 'rebuild',
    env: ['MLDEPLOY_REBUILD'],
    default: {describe: 'off', value: false},
    help: 'Containerize even when an image with the same content digest is in the repository or the local engine (see "Reusing images").',
    group: 'BUILD',
    commands: ['push'],
    label: 'Rebuild',
  }),
  skipDiskCheck: boolean({
    flag: 'skip-disk-check',
    noEnv: 'a check skipped for one run',
    default: {describe: 'off', value: false},
    oclifDefault: true,
    help: 'Do not check the free disk space of the BentoML store and the backend storage in the preflight.',
    group: 'ADVANCED',
    commands: ['push'],
    label: '--skip-disk-check',
  }),
  // --- end reuse and disk ---

  // --- tags ---
  gitShaTag: boolean({
    flag: 'git-sha-tag',
    env: ['MLDEPLOY_GIT_SHA_TAG'],
    default: {describe: 'off', value: false},
    help: "Also tag the image with the project's git commit (12 characters).",
    group: 'TAGS',
    commands: ['push'],
    label: 'Git SHA tag',
    dotenv: {example: 'true'},
  }),

  // --- the VPN, MLflow, limits ---
  vpnCheck: string({
    flag: 'vpn-check',
    env: ['MLDEPLOY_VPN_CHECK'],
    default: {
      describe: 'MLFLOW_TRACKING_URI (http/https)',
      // The URI itself: the check then asks MLflow's API, not just the port.
      derive: ({layers}) => {
        const tracking = layers?.get('MLFLOW_TRACKING_URI')
        const hostPort = tracking && hostPortFromTrackingUri(tracking.value)
        return hostPort && {value: tracking.value, source: tracking.source}
      },
    },
    help: "host:port that answers only on the VPN (a TCP connect), or an MLflow http(s) URL (MLflow's API must answer).",
    group: 'ADVANCED',
    commands: ['push', 'doctor', 'init'],
    label: 'VPN check',
    parse: (raw, source) => parseVpnCheck(raw, `VPN check (from ${source})`),
    dotenv: {example: 'mlflow.internal.example.com:443'},
  }),
  skipVpnCheck: boolean({
    flag: 'skip-vpn-check',
    noEnv: 'leave MLDEPLOY_VPN_CHECK and MLFLOW_TRACKING_URI unset where no VPN is needed',
    default: {describe: 'off', value: false},
    oclifDefault: true,
    help: 'Do not check the VPN.',
    group: 'ADVANCED',
    commands: ['push', 'doctor'],
    label: '--skip-vpn-check',
  }),
  vpnTimeout: integer({
    flag: 'vpn-timeout',
    env: ['MLDEPLOY_VPN_TIMEOUT'],
    min: 1,
    max: 120,
    default: {describe: String(DEFAULT_VPN_TIMEOUT_SECONDS), value: DEFAULT_VPN_TIMEOUT_SECONDS},
    help: 'Seconds the VPN check waits.',
    group: 'ADVANCED',
    commands: ['push', 'doctor'],
    label: 'VPN check timeout',
    dotenv: {},
  }),
  trackingUri: string({
    flag: 'tracking-uri',
    env: ['MLFLOW_TRACKING_URI'],
    help: 'MLflow server that create_bento_model.py resolves the model URI against.',
    commands: ['init'],
    label: 'Tracking URI',
    parse: (raw, source) =>
      validateTrackingUri(raw, source === 'flag --tracking-uri' ? '--tracking-uri' : source),
    dotenv: {example: 'https://mlflow.internal.example.com'},
  }),
  timeouts: list({
    flag: 'timeout',
    env: ['MLDEPLOY_TIMEOUTS'],
    default: {
      describe: Object.entries(DEFAULT_TIMEOUTS_MS)
        .map(([step, ms]) => `${step}=${formatDuration(ms)}`)
        .join(', '),
      value: [],
    },
    help: 'Time limit of a step as <step>=<duration> (90s, 45m, 2h); repeatable. A hung step is stopped and reported.',
    group: 'ADVANCED',
    commands: ['push', 'promote'],
    label: 'Timeout',
    parse: (raw, source) =>
      resolveTimeouts(raw, source === 'flag --timeout' ? '--timeout' : `Timeouts (from ${source})`),
    dotenv: {example: 'containerize=2h', comment: 'Step time limits as <step>=<duration>, comma-separated'},
  }),
  checkTimeout: integer({
    flag: 'timeout',
    noEnv: 'a limit for one run of doctor',
    min: 1,
    max: 600,
    default: {describe: '30'},
    help: 'Seconds doctor may take in all: the checks run at once, and one still running then fails with "no answer".',
    group: 'ADVANCED',
    commands: ['doctor'],
    label: 'Check timeout',
  }),
  keepLogin: boolean({
    flag: 'keep-login',
    noEnv: "keeping a token in the user's own config is a choice for one run",
    default: {describe: 'off', value: false},
    oclifDefault: true,
    help: "Keep the registry login in the backend's usual config instead of a private one removed after the run.",
    group: 'ADVANCED',
    commands: ['push'],
    label: '--keep-login',
  }),
} as const

export type Settings = typeof SETTINGS
export type SettingKey = keyof Settings

/** The rows in table order, with their keys. */
export function settingRows(): Array<[SettingKey, AnySetting]> {
  return Object.entries(SETTINGS) as Array<[SettingKey, AnySetting]>
}

/** The rows a command takes as flags, in table order (BaseCommand's own flags included when asked). */
export function settingsOf(command: CommandId, withBase = false): Array<[SettingKey, AnySetting]> {
  return settingRows().filter(
    ([, setting]) => setting.commands.includes(command) && (withBase || setting.base !== true),
  )
}

const TRUE = /^(?:1|true|yes|on)$/i
const FALSE = /^(?:0|false|no|off)$/i

/** A value from the environment that differs from the target's own files, and which one won. */
export interface Shadowed {
  label: string
  used: Sourced<string>
  unused: Sourced<string>
  /** 'environment': an explicit variable overrides a file; 'files': a file wins over CI's variable. */
  winner: 'environment' | 'files'
  /** What overrides the files on purpose: `--region or MLDEPLOY_REGION`. */
  override: string
}

/** A value that came from a file: which file, and whether a committed file would give one too. */
export interface FromFile {
  label: string
  /** The file as shown (relative to the root). */
  file: string
  key: string
  committed: boolean
  /** A committed settings file also sets it: without the local file, a clone still has a value. */
  committedFallback: boolean
}

/**
 * Reads settings with provenance: flag > the process environment's explicit variables > the files
 * (`.env` over `mldeploy.yaml`, target over root, stage first) > the process environment's ambient
 * variables (AWS_REGION, AWS_PROFILE: see `ambientEnv`) > the table's default. Every value,
 * defaults included, goes through the setting's validation; errors are usage errors naming where
 * the value came from. A value the environment and the files disagree on is kept in `shadowed`.
 */
export class SettingsReader {
  /** Every setting read so far whose environment and file values differ (once per setting). */
  readonly shadowed: Shadowed[] = []
  /** Every setting read so far whose value came from a file (once per setting). */
  readonly fromFiles: FromFile[] = []

  constructor(
    /** oclif's parsed flags, keyed by flag name; only the rows the caller asks for are read. */
    private readonly flags: object,
    readonly layers: EnvLayers,
    private readonly context: DefaultContext = {},
  ) {}

  /** The raw value (before the setting's parse) and where it came from; undefined when nothing applies. */
  raw<S extends AnySetting>(setting: S): Sourced<RawValue<S['kind']>> | undefined {
    const fromFlag = this.fromFlag(setting)
    if (fromFlag !== undefined) return fromFlag as Sourced<RawValue<S['kind']>>
    const found = this.fromEnvironment(setting)
    if (found !== undefined)
      return {value: fromText(setting, found), source: found.source} as Sourced<RawValue<S['kind']>>
    const fallback = setting.default
    if (fallback?.derive !== undefined) {
      const derived = fallback.derive({...this.context, layers: this.layers})
      if (derived !== undefined) return derived as Sourced<RawValue<S['kind']>>
    }
    if (fallback?.value !== undefined)
      return {value: fallback.value, source: 'default'} as Sourced<RawValue<S['kind']>>
    return undefined
  }

  /** The validated value and its source; undefined when the setting is unset and has no default. */
  get<S extends AnySetting>(setting: S): Sourced<ValueOf<S>> | undefined {
    const raw = this.raw(setting)
    return raw && {value: parseValue(setting, raw) as ValueOf<S>, source: raw.source}
  }

  /** As get, for a setting that always has a default here (an internal error otherwise). */
  must<S extends AnySetting>(setting: S): Sourced<ValueOf<S>> {
    const found = this.get(setting)
    if (found === undefined) throw new Error(`Setting --${setting.flag} has no value and no default.`)
    return found
  }

  private fromEnvironment(setting: AnySetting): Sourced<string> | undefined {
    const names = setting.env ?? []
    if (setting.envSource === 'process') {
      for (const name of names) {
        const found = this.fromProcess(name)
        if (found !== undefined) return found
      }
      return undefined
    }
    const ambient = setting.ambientEnv ?? []
    const explicit = names.filter((name) => !ambient.includes(name))
    const fromProcess = (list: readonly string[]): Sourced<string> | undefined => {
      for (const name of list) {
        const found = this.layers.fromProcess(name)
        if (found !== undefined) return found
      }
      return undefined
    }
    const overriding = fromProcess(explicit)
    // One look through the files: its value, its source, and which file it was.
    const inFile = this.layers.fileOf(names)
    const fromFiles = inFile && {value: inFile.value, source: inFile.source}
    const fromAmbient = fromProcess(ambient)
    const used = overriding ?? fromFiles ?? fromAmbient
    if (inFile !== undefined && used === fromFiles) this.recordFile(setting, names, inFile)
    // Said whenever the environment and the target's files disagree, whichever won.
    if (fromFiles !== undefined && fromFiles.value !== (overriding ?? fromAmbient)?.value) {
      if (overriding !== undefined) this.shadow(setting, overriding, fromFiles, 'environment')
      else if (fromAmbient !== undefined) this.shadow(setting, fromFiles, fromAmbient, 'files')
    }
    return used
  }

  private shadow(
    setting: AnySetting,
    used: Sourced<string>,
    unused: Sourced<string>,
    winner: Shadowed['winner'],
  ): void {
    if (this.shadowed.some((each) => each.label === setting.label)) return
    const explicit = (setting.env ?? []).filter((name) => !(setting.ambientEnv ?? []).includes(name))
    const override = [`--${setting.flag}`, ...explicit].join(' or ')
    this.shadowed.push({label: setting.label, used, unused, winner, override})
  }

  private recordFile(
    setting: AnySetting,
    names: readonly string[],
    found: {file: EnvFile; key: string},
  ): void {
    if (this.fromFiles.some((each) => each.label === setting.label)) return
    const committedFallback = this.layers.files.some(
      (file) => file.committed === true && names.some((name) => (file.values[name] ?? '') !== ''),
    )
    this.fromFiles.push({
      label: setting.label,
      file: found.file.shown,
      key: found.key,
      committed: found.file.committed === true,
      committedFallback,
    })
  }

  private fromFlag(setting: AnySetting): Sourced<unknown> | undefined {
    const value = (this.flags as Record<string, unknown>)[setting.flag]
    if (value === undefined) return undefined
    const source = `flag --${setting.flag}`
    if (setting.kind === 'list') {
      if (!Array.isArray(value) || value.length === 0) return undefined
      return {value, source}
    }
    if (typeof value === 'string' && value.trim() === '')
      throw usageError(`--${setting.flag} is empty.`, 'Give it a value or leave it out.')
    return {value, source}
  }

  private fromProcess(name: string): Sourced<string> | undefined {
    const value = this.context.processEnv?.[name]
    return value === undefined || value === '' ? undefined : {value, source: `env ${name}`}
  }
}

/** An environment value in the flag's shape: lists split on commas, numbers and booleans parsed. */
function fromText(setting: AnySetting, {value, source}: Sourced<string>): unknown {
  switch (setting.kind) {
    case 'list':
      return value.split(',').map((item) => item.trim())
    case 'integer':
      if (!/^\s*\d+\s*$/.test(value))
        throw usageError(
          `${setting.label} ${JSON.stringify(value.slice(0, 40))} (from ${source}) is not a whole number.`,
          rangeHint(setting),
        )
      return Number(value)
    case 'boolean':
      if (TRUE.test(value)) return true
      if (FALSE.test(value)) return false
      throw usageError(
        `${setting.label} ${JSON.stringify(value.slice(0, 40))} (from ${source}) is neither true nor false.`,
        'Use true or false (1/0, yes/no also work).',
      )
    default:
      return value
  }
}

function rangeHint(setting: AnySetting): string | undefined {
  return setting.min === undefined ? undefined : `Use a whole number from ${setting.min} to ${setting.max}.`
}

/** The table's own checks (options, ranges), then the setting's parse. */
export function parseValue<S extends AnySetting>(setting: S, {value, source}: Sourced<unknown>): ValueOf<S> {
  let raw = value
  if (setting.kind === 'option') {
    const text = setting.upperCase === true ? String(raw).toUpperCase() : String(raw)
    if (!(setting.options ?? []).includes(text))
      throw usageError(
        `Unknown ${setting.label.toLowerCase()} ${JSON.stringify(String(raw).slice(0, 60))} (from ${source}).`,
        `Use one of: ${(setting.options ?? []).join(', ')}.`,
      )
    raw = text
  }
  if (setting.kind === 'integer') {
    const number = raw as number
    if (
      !Number.isInteger(number) ||
      (setting.min !== undefined && number < setting.min) ||
      (setting.max !== undefined && number > setting.max)
    )
      throw usageError(
        `${setting.label} ${JSON.stringify(String(raw))} (from ${source}) is out of range.`,
        rangeHint(setting),
      )
  }
  const parse = setting.parse as ((raw: unknown, source: string) => unknown) | undefined
  return (parse === undefined ? raw : parse(raw, source)) as ValueOf<S>
}

/** `--stage` or MLDEPLOY_STAGE (the process environment only: the stage chooses the .env files). */
export function readStage(
  flags: {stage?: unknown},
  processEnv: NodeJS.ProcessEnv,
): Sourced<string> | undefined {
  const value = flags.stage
  if (value !== undefined)
    return {value: parseValue(SETTINGS.stage, {value, source: 'flag --stage'}), source: 'flag --stage'}
  const fromEnv = processEnv.MLDEPLOY_STAGE
  if (fromEnv === undefined || fromEnv === '') return undefined
  const source = 'env MLDEPLOY_STAGE'
  return {value: parseValue(SETTINGS.stage, {value: fromEnv, source}), source}
}

// ---------------------------------------------------------------------------------------------
// Text generated from the table: --help descriptions, .env comments, the README.

/** `[env: A, then B, comma-separated]`, or undefined when the setting has no variable. */
export function envText(setting: AnySetting): string | undefined {
  if (setting.env === undefined || setting.env.length === 0) return undefined
  const names = setting.env.join(', then ')
  if (setting.kind === 'boolean') return `${names}=true`
  if (setting.kind === 'list') return `${names}, comma-separated`
  return names
}

/** The default as --help shows it; undefined when there is none worth printing (a boolean that is off). */
export function defaultText(setting: AnySetting): string | undefined {
  const fallback = setting.default
  if (fallback === undefined) return undefined
  if (setting.kind === 'boolean' && fallback.value === false) return undefined
  return fallback.describe
}

/** The flag's description in --help: the help text, then alias, environment and default, each once. */
export function describeFlag(setting: AnySetting, command: CommandId): string {
  const help = setting.helpFor?.[command] ?? setting.help
  const parts = [help]
  if (setting.aliases !== undefined && setting.aliases.length > 0)
    parts.push(`[alias: ${setting.aliases.map((alias) => `--${alias}`).join(', ')}]`)
  if (command === 'init' && setting.env !== undefined) {
    // init writes the setting into the new target's mldeploy.yaml instead of resolving it.
    parts.push(`Written to mldeploy.yaml as ${setting.flag}.`)
    return parts.join(' ')
  }
  const env = envText(setting)
  if (env !== undefined) parts.push(`[env: ${env}]`)
  // oclif prints an option flag's own default itself.
  const shownByOclif = setting.oclifDefault === true && setting.kind !== 'boolean'
  const fallback = defaultText(setting)
  if (fallback !== undefined && !shownByOclif) parts.push(`[default: ${fallback}]`)
  return parts.join(' ')
}
