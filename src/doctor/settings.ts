import {EnvLayers, type Sourced} from '../config/env-layers.js'
import {
  DEFAULT_BACKEND,
  type PushFlags,
  resolvePushConfig,
  resolveVpnCheck,
  resolveVpnTimeout,
} from '../config/push-config.js'
import {usageError} from '../errors.js'
import {validateAccountId, validateRegion, validateRepository} from '../images.js'
import {findProjectRoot, resolveRoot} from '../project/target.js'
import {type Backend, BACKENDS, isBackend} from '../systems/backend.js'
import {resolvePython, type PythonCommand} from '../systems/python.js'
import type {HostPort} from '../systems/vpn.js'

/** The flags of `mldeploy push` that change what doctor checks. */
export type DoctorFlags = Pick<
  PushFlags,
  | 'root'
  | 'backend'
  | 'repository'
  | 'region'
  | 'profile'
  | 'account-id'
  | 'python'
  | 'vpn-check'
  | 'skip-vpn-check'
  | 'vpn-timeout'
  | 'stage'
>

/** What push would use, as far as doctor checks it. */
export interface DoctorSettings {
  target: string | undefined
  root: string | undefined
  /** Where probes run: the target folder, else the project root, else the working directory. */
  cwd: string
  backend: Sourced<Backend>
  repository: Sourced<string> | undefined
  region: Sourced<string> | undefined
  profile: Sourced<string> | undefined
  accountId: Sourced<string> | undefined
  python: Sourced<PythonCommand>
  vpnCheck: Sourced<HostPort> | undefined
  skipVpnCheck: boolean
  vpnTimeoutMs: number
  stage: string | undefined
  childEnv: Record<string, string>
  envFiles: string[]
}

/**
 * With a target, exactly push's resolution (resolvePushConfig: flags > environment > .env files of
 * the target and the root, stage files first). Without one, the same precedence over the root's
 * .env files only, and nothing target-specific; outside any project, flags and environment only.
 */
export function resolveDoctorSettings(
  targetSpec: string | undefined,
  flags: DoctorFlags,
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
): DoctorSettings {
  if (targetSpec !== undefined) {
    const config = resolvePushConfig(targetSpec, flags, processEnv, cwd)
    return {
      target: config.target.name,
      root: config.target.root,
      cwd: config.target.dir,
      backend: config.backend,
      repository: config.repository,
      region: config.region,
      profile: config.profile,
      accountId: config.accountId,
      python: config.python,
      vpnCheck: config.vpnCheck,
      skipVpnCheck: flags['skip-vpn-check'] ?? false,
      vpnTimeoutMs: config.vpnTimeoutMs,
      stage: config.stage,
      childEnv: config.childEnv,
      envFiles: config.envFiles,
    }
  }
  return resolveWithoutTarget(flags, processEnv, cwd)
}

function resolveWithoutTarget(
  flags: DoctorFlags,
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
): DoctorSettings {
  const root = flags.root === undefined ? findProjectRoot(cwd) : resolveRoot(flags.root, cwd)
  const stage = flags.stage
  if (stage !== undefined && root === undefined) {
    throw usageError(
      `--stage ${stage} needs a project: no deploy/ folder in ${cwd} or above.`,
      'Run mldeploy doctor inside the project or pass --root.',
    )
  }
  const layers =
    root === undefined ? new EnvLayers(processEnv, []) : EnvLayers.load(processEnv, root, undefined, stage)
  if (stage !== undefined && !layers.files.some((file) => file.path.endsWith(`.env.${stage}`))) {
    throw usageError(
      `--stage ${stage}: no .env.${stage} in ${root}.`,
      `Create .env.${stage} there, check the stage name, or name a target (mldeploy doctor <model>/<version>).`,
    )
  }
  const lookup = (
    flagValue: string | undefined,
    flag: string,
    envName: string,
  ): Sourced<string> | undefined => {
    if (flagValue !== undefined) {
      if (flagValue.trim() === '') throw usageError(`--${flag} is empty.`, 'Give it a value or leave it out.')
      return {value: flagValue, source: `flag --${flag}`}
    }
    return layers.get(envName)
  }
  const validated = (
    raw: Sourced<string> | undefined,
    check: (value: string, origin: string) => string,
    what: string,
  ) => raw && {...raw, value: check(raw.value, `${what} (from ${raw.source})`)}

  const backendRaw = lookup(flags.backend, 'backend', 'MLDEPLOY_BACKEND')
  if (backendRaw !== undefined && !isBackend(backendRaw.value)) {
    throw usageError(
      `Unknown backend ${JSON.stringify(backendRaw.value)} (from ${backendRaw.source}).`,
      `Use one of: ${BACKENDS.join(', ')}.`,
    )
  }
  const childEnv = layers.childEnv()
  return {
    target: undefined,
    root,
    cwd: root ?? cwd,
    backend: (backendRaw as Sourced<Backend> | undefined) ?? {value: DEFAULT_BACKEND, source: 'default'},
    repository: validated(
      lookup(flags.repository, 'repository', 'MLDEPLOY_REPOSITORY'),
      validateRepository,
      'Repository',
    ),
    region: validated(
      lookup(flags.region, 'region', 'AWS_REGION') ?? layers.get('AWS_DEFAULT_REGION'),
      validateRegion,
      'Region',
    ),
    profile: lookup(flags.profile, 'profile', 'AWS_PROFILE'),
    accountId: validated(
      lookup(flags['account-id'], 'account-id', 'MLDEPLOY_ACCOUNT_ID'),
      validateAccountId,
      'Account id',
    ),
    python: resolvePython(lookup(flags.python, 'python', 'MLDEPLOY_PYTHON'), childEnv, root ?? cwd, cwd),
    vpnCheck: flags['skip-vpn-check']
      ? undefined
      : resolveVpnCheck(lookup(flags['vpn-check'], 'vpn-check', 'MLDEPLOY_VPN_CHECK'), layers),
    skipVpnCheck: flags['skip-vpn-check'] ?? false,
    vpnTimeoutMs: resolveVpnTimeout(flags['vpn-timeout'], layers),
    stage,
    childEnv,
    envFiles: layers.files.map((file) => file.shown),
  }
}
