import {EnvLayers, type Sourced} from '../config/env-layers.js'
import type {FlagValuesFor} from '../config/flags.js'
import type {Builder} from '../config/builder.js'
import type {DeployTarget} from '../config/image-settings.js'
import {type DeployConfig, resolveDeployForDoctor} from '../config/endpoint-config.js'
import {
  backendForBuilder,
  loadLayers,
  type PushConfig,
  type PushFlags,
  resolvePushConfig,
} from '../config/push-config.js'
import {readStage, SETTINGS, SettingsReader, type FromFile, type Shadowed} from '../config/settings.js'
import {usageError} from '../errors.js'
import {findProjectRoot, resolveRoot} from '../config/target.js'
import type {Backend} from '../systems/backend.js'
import {resolvePython, type PythonCommand} from '../systems/python.js'
import type {HostPort} from '../systems/vpn.js'

/** The flags of `mldeploy doctor` (from the settings table); all but --timeout are push's. */
export type DoctorFlags = FlagValuesFor<'doctor'>

/** What push would use, as far as doctor checks it. */
export interface DoctorSettings {
  target: string | undefined
  root: string | undefined
  /** Where probes run: the target folder, else the project root, else the working directory. */
  cwd: string
  backend: Sourced<Backend>
  /** Where containerize, login and push run (issue 13). */
  builder: Sourced<Builder>
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
  /** Values where the environment and the files disagree (see SettingsReader). */
  shadowed: Shadowed[]
  /** The settings that came from a file, and which (see SettingsReader). */
  fromFiles: FromFile[]
  /**
   * With a target: what `mldeploy deploy` would use (`config` undefined: no execution role set;
   * `error`: its settings are bad input), and the deploy target, to say when a role is missing.
   */
  deploy?: {config?: DeployConfig; error?: unknown; deployTarget: Sourced<DeployTarget>}
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
  // doctor's --timeout (seconds per check) is not push's --timeout (step=duration).
  const {timeout: _checkTimeout, ...shared} = flags
  if (targetSpec !== undefined) {
    const config = resolvePushConfig(targetSpec, shared as PushFlags, processEnv, cwd)
    return {
      target: config.target.name,
      root: config.target.root,
      cwd: config.target.dir,
      backend: config.backend,
      builder: config.builder,
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
      shadowed: config.shadowed,
      fromFiles: config.fromFiles,
      deploy: deployForDoctor(config, processEnv),
    }
  }
  return resolveWithoutTarget(shared, processEnv, cwd)
}

/** A deploy setting's bad input is the deploy check's failure, not the end of every check. */
function deployForDoctor(push: PushConfig, processEnv: NodeJS.ProcessEnv): DoctorSettings['deploy'] {
  const {deployTarget} = push
  try {
    return {config: resolveDeployForDoctor(push, processEnv), deployTarget}
  } catch (error) {
    return {error, deployTarget}
  }
}

function resolveWithoutTarget(
  flags: Omit<DoctorFlags, 'timeout'>,
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
): DoctorSettings {
  const root = flags.root === undefined ? findProjectRoot(cwd) : resolveRoot(flags.root, cwd)
  const stage = readStage(flags, processEnv)?.value
  if (stage !== undefined && root === undefined) {
    throw usageError(
      `--stage ${stage} needs a project: no deploy/ folder in ${cwd} or above.`,
      'Run mldeploy doctor inside the project or pass --root.',
    )
  }
  const layers =
    root === undefined
      ? new EnvLayers(processEnv, [])
      : loadLayers(
          processEnv,
          root,
          undefined,
          stage,
          root,
          `Create .env.${stage} there, check the stage name, or name a target (mldeploy doctor <model>/<version>).`,
        )
  // No target: the same table rows, without the target-derived defaults (the repository).
  const read = new SettingsReader(flags, layers)
  const childEnv = layers.childEnv()
  const skipVpnCheck = flags['skip-vpn-check'] ?? false
  const builder = read.must(SETTINGS.builder)
  return {
    target: undefined,
    root,
    cwd: root ?? cwd,
    backend: backendForBuilder(read.must(SETTINGS.backend), builder),
    builder,
    repository: read.get(SETTINGS.repository),
    region: read.get(SETTINGS.region),
    profile: read.get(SETTINGS.profile),
    accountId: read.get(SETTINGS.accountId),
    python: resolvePython(read.get(SETTINGS.python), childEnv, root ?? cwd, cwd),
    vpnCheck: skipVpnCheck ? undefined : read.get(SETTINGS.vpnCheck),
    skipVpnCheck,
    vpnTimeoutMs: read.must(SETTINGS.vpnTimeout).value * 1000,
    stage,
    childEnv,
    envFiles: layers.fileNames(),
    shadowed: read.shadowed,
    fromFiles: read.fromFiles,
  }
}
