import {setMaxListeners} from 'node:events'
import os from 'node:os'
import path from 'node:path'

import {type ChildResult, runChild} from '../process.js'
import {SecretRegistry} from '../secrets.js'
import {AwsClients, awsSettingsFor, type Identity, resolveRegion} from '../systems/aws/index.js'
import {type Backend} from '../systems/backend.js'
import {formatBytes} from '../bytes.js'
import {bentomlStoreDir, defaultBackendDir, freeSpace, GIB} from '../systems/disk.js'
import {
  BENTOML_VERSION_PROBE,
  judgeBentomlProbe,
  MIN_BENTOML_VERSION,
  versionAtLeast,
} from '../systems/bentoml.js'
import {checkAccount} from '../systems/account.js'
import {findExecutable} from '../systems/executables.js'
import {describeChosenPython} from '../systems/python.js'
import {checkVpn, formatVpnCheck} from '../systems/vpn.js'
import {isRemoteEngine, probeEngine, resolveEngine} from '../systems/engine.js'
import {describeBuilder} from '../config/builder.js'
import type {DeployConfig} from '../config/endpoint-config.js'
import type {Sourced} from '../config/env-layers.js'
import type {DeployTarget} from '../config/image-settings.js'
import {
  type Check,
  type CheckOutcome,
  type CheckResult,
  type CheckStatus,
  countStatuses,
  failedOutcome,
  runChecks,
} from './checks.js'
import {lifecycleOutcome} from './lifecycle.js'
import type {DoctorSettings} from './settings.js'

/**
 * Oldest Node mldeploy runs on (package.json engines): Node 20 reached its end of life on
 * 2026-04-30, and 22.13 is the first 22 that every package of the lockfile accepts.
 */
export const MIN_NODE = '22.13.0'
/** Free space below which a build is bound to fail, and below which it may. */
export const DISK_FAIL_BELOW = 2 * GIB
export const DISK_WARN_BELOW = 10 * GIB

export interface DoctorResult {
  status: 'ok' | 'warnings' | 'failed'
  target: string | null
  root: string | null
  stage: string | null
  envFiles: string[]
  settings: Record<string, {value: unknown; source: string}>
  checks: CheckResult[]
  counts: Record<CheckStatus, number>
}

export interface DoctorOptions {
  settings: DoctorSettings
  mldeployVersion: string
  mldeployRoot: string
  nodeVersion?: string
  /** What doctor may take in all: every check runs at once and is stopped by then. */
  timeoutMs?: number
  /** An interrupt: the checks still running stop and report it. */
  signal?: AbortSignal
}

/** Doctor's time limit when --timeout does not say: a CI step must never hang on a silent endpoint. */
export const DOCTOR_TIMEOUT_MS = 30_000

const PYTHON_PROBE =
  'import sys; print(sys.executable); print("%d.%d.%d" % sys.version_info[:3]); print(int(sys.prefix != sys.base_prefix))'

export async function runDoctor(options: DoctorOptions): Promise<DoctorResult> {
  const {settings} = options
  // Aborted when doctor ends: no request or child outlives it (an open socket would keep it alive).
  const done = new AbortController()
  const signal = AbortSignal.any([done.signal, ...(options.signal === undefined ? [] : [options.signal])])
  // Every check (and its children) listens on it: more than Node's default 10 is expected here.
  setMaxListeners(50, signal)
  const limit = options.timeoutMs ?? DOCTOR_TIMEOUT_MS
  const {checks, close} = doctorChecks(options, signal)
  let results: CheckResult[]
  try {
    results = await runChecks(
      checks.map((check) => ({...check, timeoutMs: Math.min(check.timeoutMs, limit)})),
      signal,
    )
  } finally {
    done.abort()
    close()
  }
  const counts = countStatuses(results)
  const out: Record<string, {value: unknown; source: string} | undefined> = {
    backend: settings.backend,
    builder: {value: describeBuilder(settings.builder.value), source: settings.builder.source},
    python: {value: settings.python.value.description, source: settings.python.source},
    repository: settings.repository,
    region: settings.region,
    profile: settings.profile,
    account: settings.accountId,
    vpnCheck: settings.vpnCheck && {
      value: formatVpnCheck(settings.vpnCheck.value),
      source: settings.vpnCheck.source,
    },
  }
  return {
    status: counts.fail > 0 ? 'failed' : counts.warn > 0 ? 'warnings' : 'ok',
    target: settings.target ?? null,
    root: settings.root ?? null,
    stage: settings.stage ?? null,
    envFiles: settings.envFiles,
    settings: Object.fromEntries(
      Object.entries(out).filter(([, value]) => value !== undefined),
    ) as DoctorResult['settings'],
    checks: results,
    counts,
  }
}

/** doctor's AWS clients and what STS said of the caller, read once for every check that needs them. */
interface ResolvedAws {
  clients: AwsClients
  identity: Identity
  region: string
  regionSource: string
}

/** Every check, in the order they are shown; shared probes (Python, backend, identity) run once. */
export function doctorChecks(
  options: DoctorOptions,
  signal: AbortSignal,
): {checks: Check[]; close: () => void} {
  const {settings} = options
  const secrets = new SecretRegistry()
  const child = (command: string, args: string[], signal: AbortSignal, env: Record<string, string> = {}) =>
    runChild({
      command,
      args,
      cwd: settings.cwd,
      baseEnv: settings.childEnv,
      env,
      secrets,
      signal,
      tailLines: 20,
    })

  const python = settings.python.value
  const pythonPath = findExecutable(python.command, settings.childEnv, settings.cwd)
  const backendPath = findExecutable(settings.backend.value, settings.childEnv, settings.cwd)
  let backendInfo: Promise<BackendInfo> | undefined
  const remote = isRemoteEngine(settings.builder.value)
  const backend = (signal: AbortSignal) =>
    (backendInfo ??= probeBackend(settings.backend.value, (args) =>
      child(settings.backend.value, args, signal),
    ))
  let aws: Promise<ResolvedAws> | undefined
  const identity = () =>
    (aws ??= (async () => {
      const region = await resolveRegion(settings)
      const clients = new AwsClients(
        awsSettingsFor(settings.childEnv, {
          region: region.value,
          profile: settings.profile?.value,
          quick: true,
        }),
        secrets,
      )
      opened = clients
      return {
        clients,
        identity: await clients.identity(signal),
        region: region.value,
        regionSource: region.source,
      }
    })())
  let opened: AwsClients | undefined
  const close = (): void => opened?.close()
  // The checks after `aws` need its identity: without one they skip, pointing at its failure.
  const identityOrSkip = (): Promise<ResolvedAws | CheckOutcome> =>
    identity().catch(() => ({status: 'skip', message: 'Needs AWS credentials (see above).'}))
  const noPython: CheckOutcome = {
    status: 'fail',
    message: `${python.command} (${python.fallback ?? `from ${settings.python.source}`}) is not on PATH.`,
    fix: "Activate the project's environment (pipenv shell, or source .venv/bin/activate), or set --python / MLDEPLOY_PYTHON.",
  }

  const checks: Check[] = [
    {
      id: 'node',
      title: 'Node.js',
      timeoutMs: 1000,
      run: async () => nodeOutcome(options.nodeVersion ?? process.versions.node),
    },
    {
      id: 'mldeploy',
      title: 'mldeploy',
      timeoutMs: 1000,
      run: async () => ({
        status: 'pass',
        message: `${options.mldeployVersion} (${options.mldeployRoot})`,
        data: {version: options.mldeployVersion, path: options.mldeployRoot},
      }),
    },
    {
      id: 'python',
      title: 'Python environment',
      timeoutMs: 60_000,
      async run(signal) {
        if (pythonPath === undefined) return noPython
        const probe = await child(python.command, [...python.prefix, '-c', PYTHON_PROBE], signal, python.env)
        return pythonOutcome(settings, probe)
      },
    },
    {
      id: 'bentoml',
      title: 'bentoml',
      timeoutMs: 60_000,
      async run(signal) {
        if (pythonPath === undefined)
          return {status: 'skip', message: 'Needs the Python environment (see above).'}
        const probe = await child(
          python.command,
          [...python.prefix, '-c', BENTOML_VERSION_PROBE],
          signal,
          python.env,
        )
        return bentomlOutcome(describeChosenPython(python), probe)
      },
    },
    {
      id: 'backend',
      title: `Backend (${settings.backend.value})`,
      timeoutMs: 20_000,
      async run(signal) {
        if (backendPath === undefined) return backendMissing(settings.backend.value, settings.backend.source)
        // A remote builder's engine is checked below: this machine only needs the client.
        if (remote)
          return {
            status: 'pass',
            message: `${settings.backend.value} client at ${backendPath}; the engine is the builder's (below).`,
          }
        return (await backend(signal)).outcome
      },
    },
    {
      id: 'builder',
      title: `Builder (${describeBuilder(settings.builder.value)})`,
      timeoutMs: 40_000,
      run: (signal) => builderOutcome(settings, backendPath !== undefined, signal),
    },
    {
      id: 'aws',
      title: 'AWS credentials',
      timeoutMs: 20_000,
      async run() {
        let resolved
        try {
          resolved = await identity()
        } catch (error) {
          // push's hint offers --dry-run; doctor has no dry run.
          const outcome = failedOutcome(error)
          return {
            ...outcome,
            ...(outcome.fix && {fix: outcome.fix.replace(/, or use --dry-run with --account-id\./, '.')}),
          }
        }
        const {identity: who, region, regionSource} = resolved
        const expected = settings.accountId
        const data = {account: who.account, arn: who.arn, region, profile: settings.profile?.value ?? null}
        try {
          checkAccount(who, expected)
        } catch (error) {
          return {...failedOutcome(error), data}
        }
        const profile = settings.profile === undefined ? '' : `, profile ${settings.profile.value}`
        return {
          status: 'pass',
          message: `${who.arn || 'identity'} in account ${who.account}, region ${region} (from ${regionSource})${profile}.`,
          data,
        }
      },
    },
    {
      id: 'ecr',
      title: 'ECR',
      timeoutMs: 25_000,
      async run(signal): Promise<CheckOutcome> {
        const resolved = await identityOrSkip()
        if ('status' in resolved) return resolved
        const {clients, identity: who, region} = resolved
        const repository = settings.repository
        if (repository === undefined) {
          await clients.repositoryNames(1, signal)
          return {
            status: 'pass',
            message: `ECR answers in account ${who.account}, region ${region} (DescribeRepositories). Name a target to check its repository.`,
            data: {region, repository: null},
          }
        }
        const {uri} = await clients.repository(repository.value, who.account, undefined, signal)
        return {
          status: 'pass',
          message: `Repository ${repository.value} exists${uri === '' ? '' : ` (${uri})`}.`,
          data: {region, repository: repository.value, uri},
        }
      },
    },
    {
      id: 'lifecycle',
      title: 'ECR lifecycle policy',
      timeoutMs: 25_000,
      async run(signal): Promise<CheckOutcome> {
        const repository = settings.repository
        if (repository === undefined)
          return {status: 'skip', message: 'Name a target (or --repository) to check its repository.'}
        const resolved = await identityOrSkip()
        if ('status' in resolved) return resolved
        return lifecycleOutcome(resolved.clients, repository.value, resolved.identity.account, signal)
      },
    },
    {
      id: 'vpn',
      title: 'VPN',
      timeoutMs: settings.vpnTimeoutMs + 1000,
      async run(signal) {
        const target = settings.vpnCheck
        if (target === undefined) {
          return {
            status: 'skip',
            message: settings.skipVpnCheck
              ? 'Skipped (--skip-vpn-check).'
              : 'Nothing to check: no --vpn-check, MLDEPLOY_VPN_CHECK or http(s) MLFLOW_TRACKING_URI.',
          }
        }
        const answered = await checkVpn(target.value, target.source, settings.vpnTimeoutMs, signal)
        return {status: 'pass', message: `${answered}.`, data: {target: formatVpnCheck(target.value)}}
      },
    },
    {
      id: 'disk-bentoml',
      title: 'Disk (BentoML store)',
      timeoutMs: 10_000,
      async run() {
        const {dir, source} = bentomlStoreDir({...settings.childEnv, HOME: homeDir(settings)})
        return diskOutcome(dir, source)
      },
    },
    {
      id: 'disk-backend',
      title: `Disk (${settings.backend.value} storage)`,
      timeoutMs: 20_000,
      async run(signal) {
        if (remote)
          return {
            status: 'skip',
            message: `Builder ${describeBuilder(settings.builder.value)} builds on its engine's disk (not measured).`,
          }
        if (backendPath === undefined)
          return {status: 'skip', message: `Needs ${settings.backend.value} (see above).`}
        const info = await backend(signal)
        const dir = info.dataDir ?? defaultBackendDir(settings.backend.value, homeDir(settings))
        return diskOutcome(
          dir,
          info.dataDir === undefined ? `${settings.backend.value} default` : `${settings.backend.value} info`,
        )
      },
    },
    {
      id: 'sagemaker',
      title: 'SageMaker deploy',
      timeoutMs: 25_000,
      async run(signal): Promise<CheckOutcome> {
        const deploy = settings.deploy
        if (deploy === undefined)
          return {status: 'skip', message: 'Name a target to check its deploy settings.'}
        if (deploy.error !== undefined) return failedOutcome(deploy.error)
        if (deploy.config === undefined) return noExecutionRole(deploy.deployTarget)
        const resolved = await identityOrSkip()
        if ('status' in resolved) return resolved
        return deployAccessOutcome(deploy.config, resolved, signal)
      },
    },
    {
      // ecr.sh disagreements, .env typos, a git-ignored .env (src/project/warnings.ts).
      id: 'project',
      title: 'Project files',
      timeoutMs: 15_000,
      run: async (signal) => (await import('../project/warnings.js')).projectOutcome(settings, signal),
    },
  ]
  return {checks, close}
}

/**
 * The builder (issue 13): a remote engine is resolved (context, connection) and probed with the
 * same functions as the push preflight; local and codebuild have their own checks.
 */
export async function builderOutcome(
  settings: Pick<DoctorSettings, 'builder' | 'backend' | 'childEnv' | 'cwd'>,
  clientFound: boolean,
  signal: AbortSignal,
): Promise<CheckOutcome> {
  const builder = settings.builder.value
  if (!isRemoteEngine(builder)) {
    if (builder.kind === 'local')
      return {
        status: 'pass',
        message: `local: containerize, login and push run on this machine's ${settings.backend.value} (from ${settings.builder.source}).`,
      }
    return {status: 'skip', message: `${describeBuilder(builder)}: checked by the push preflight.`}
  }
  if (!clientFound)
    return {status: 'skip', message: `Needs the ${settings.backend.value} client (see above).`}
  const context = {env: settings.childEnv, cwd: settings.cwd, signal}
  try {
    const engine = await resolveEngine(builder, context)
    const answered = await probeEngine(engine, context)
    return {status: 'pass', message: `${answered}.`, data: {builder: engine.builder, url: engine.url}}
  } catch (error) {
    return failedOutcome(error)
  }
}

/** Only a target pushed for SageMaker needs a role: any other target does not deploy, and says so. */
function noExecutionRole(deployTarget: Sourced<DeployTarget>): CheckOutcome {
  const unset = 'no execution-role-arn is set (mldeploy.yaml, MLDEPLOY_SAGEMAKER_ROLE_ARN)'
  return deployTarget.value === 'sagemaker'
    ? {
        status: 'warn',
        message: `The deploy target is sagemaker (from ${deployTarget.source}), and ${unset}: mldeploy deploy and push --deploy would refuse.`,
        fix: "Put execution-role-arn: arn:aws:iam::<account>:role/<name> in the target's mldeploy.yaml.",
      }
    : {status: 'skip', message: `Not set up: ${unset}.`}
}

/**
 * What deploy's preflight checks before anything changes, with doctor's identity: the account,
 * the execution role (IAM GetRole) and the caller's permissions for every call deploy makes
 * (IAM SimulatePrincipalPolicy). The SageMaker system is loaded only here.
 */
async function deployAccessOutcome(
  config: DeployConfig,
  aws: ResolvedAws,
  signal: AbortSignal,
): Promise<CheckOutcome> {
  const {EndpointDeployState, checkDeployAccess, deployPermissions} = await import('../release/deploy.js')
  const state = new EndpointDeployState(config, {value: aws.region, source: aws.regionSource}, aws.clients)
  try {
    await checkDeployAccess(state, aws.identity, signal)
  } catch (error) {
    return failedOutcome(error)
  }
  const data = {
    executionRole: config.roleArn.value,
    endpoint: state.endpointName,
    instanceType: config.instanceType.value,
    principal: state.principalArn ?? null,
  }
  const role = `Execution role ${config.roleArn.value} exists; endpoint ${state.endpointName} on ${config.instanceCount.value} x ${config.instanceType.value}`
  if (state.principalArn === undefined)
    return {status: 'warn', message: `${role}. ${state.warnings.join(' ')}`, data}
  return {
    status: 'pass',
    message: `${role}; ${state.principalArn} may call all ${deployPermissions(state).length} actions deploy needs.`,
    data,
  }
}

export function nodeOutcome(version: string): CheckOutcome {
  const data = {version}
  if (!versionAtLeast(version, MIN_NODE)) {
    const major = Number(version.split('.')[0])
    return {
      status: 'fail',
      message:
        major < 22
          ? `Node ${version}: Node ${major} is past its end of life (Node 20's was 2026-04-30, no more security fixes); mldeploy needs Node >= ${MIN_NODE}.`
          : `Node ${version} is older than ${MIN_NODE}, the oldest mldeploy runs on.`,
      fix: 'Install Node 22 or 24 (nvm install 24, or your package manager).',
      data,
    }
  }
  return {status: 'pass', message: `Node ${version}.`, data}
}

export function pythonOutcome(settings: Pick<DoctorSettings, 'python'>, probe: ChildResult): CheckOutcome {
  const {value: python, source} = settings.python
  // The fallback python3 says why it was chosen instead of "from default".
  const chosen =
    python.fallback === undefined ? `${python.description} (from ${source})` : describeChosenPython(python)
  const lines = probe.tail.map((line) => line.trim()).filter(Boolean)
  const [executable, version, venv] = lines.slice(-3)
  if (probe.exitCode !== 0 || venv === undefined || !/^\d+\.\d+\.\d+$/.test(version ?? '')) {
    return {
      status: 'fail',
      message: `${chosen} does not start${probe.timedOut ? ' (timed out)' : ''}.`,
      fix:
        python.command === 'pipenv'
          ? 'Create the environment with pipenv install, or set --python / MLDEPLOY_PYTHON.'
          : 'Fix or recreate that environment, or set --python / MLDEPLOY_PYTHON.',
      detail: probe.tail.join('\n'),
    }
  }
  const data = {
    command: python.description,
    source,
    executable: executable ?? '',
    version: version ?? '',
    virtualenv: venv === '1',
    ...(python.fallback === undefined ? {} : {fallback: python.fallback}),
  }
  const what = `${chosen}: Python ${version} at ${executable}`
  if (venv !== '1') {
    return {
      status: 'warn',
      message: `${what}, not a virtualenv.`,
      fix: "Use the project's environment (pipenv install && pipenv shell), so push imports with the project's packages.",
      data,
    }
  }
  return {status: 'pass', message: `${what} (virtualenv).`, data}
}

export function bentomlOutcome(pythonDescription: string, probe: ChildResult): CheckOutcome {
  const verdict = judgeBentomlProbe(pythonDescription, probe)
  if (!verdict.ok) {
    return {
      status: 'fail',
      message: verdict.message,
      fix: verdict.hint,
      ...(verdict.detail === undefined ? {} : {detail: verdict.detail}),
      ...(verdict.version === undefined ? {} : {data: {version: verdict.version}}),
    }
  }
  return {
    status: 'pass',
    message: `bentoml ${verdict.version} (>= ${MIN_BENTOML_VERSION}).`,
    data: {version: verdict.version},
  }
}

interface BackendInfo {
  outcome: CheckOutcome
  dataDir: string | undefined
}

/** docker: the daemon must answer `docker version`; podman: `podman info` must work (storage, user namespaces). */
export async function probeBackend(
  backend: Backend,
  run: (args: string[]) => Promise<ChildResult>,
): Promise<BackendInfo> {
  if (backend === 'docker') {
    const version = await run(['version', '--format', '{{.Server.Version}}'])
    const server = version.tail.at(-1)?.trim() ?? ''
    if (version.exitCode !== 0 || server === '') {
      return {
        outcome: {
          status: 'fail',
          message: 'docker is installed but its daemon does not answer (docker version).',
          fix: 'Start Docker (systemctl start docker, Docker Desktop) or point DOCKER_HOST at it, or use --backend podman.',
          detail: version.tail.join('\n'),
        },
        dataDir: undefined,
      }
    }
    const info = await run(['info', '--format', '{{.DockerRootDir}}'])
    const dataDir = info.exitCode === 0 ? info.tail.at(-1)?.trim() || undefined : undefined
    return {
      outcome: {status: 'pass', message: `docker daemon ${server} answers.`, data: {version: server}},
      dataDir,
    }
  }
  const info = await run(['info', '--format', '{{.Version.Version}}|{{.Store.GraphRoot}}'])
  const [version, graphRoot] = (info.tail.at(-1)?.trim() ?? '').split('|')
  if (info.exitCode !== 0 || !version) {
    return {
      outcome: {
        status: 'fail',
        message: 'podman is installed but podman info fails.',
        fix: 'Run podman info to see why (storage, /etc/subuid for rootless use), or use --backend docker.',
        detail: info.tail.join('\n'),
      },
      dataDir: undefined,
    }
  }
  return {
    outcome: {status: 'pass', message: `podman ${version} works (podman info).`, data: {version}},
    dataDir: graphRoot || undefined,
  }
}

function backendMissing(backend: Backend, source: string): CheckOutcome {
  const other = backend === 'podman' ? 'docker' : 'podman'
  return {
    status: 'fail',
    message: `${backend} (from ${source}) is not on PATH.`,
    fix: `Install ${backend}, or use --backend ${other} (MLDEPLOY_BACKEND=${other}).`,
  }
}

// The disk helpers live in src/systems/disk.ts (the push preflight uses them too).
export {defaultBackendDir, formatBytes}

function homeDir(settings: DoctorSettings): string {
  return settings.childEnv.HOME || os.homedir()
}

/** Free space where `dir` lives (its nearest existing folder: the store may not exist yet). */
export async function diskOutcome(dir: string, source: string): Promise<CheckOutcome> {
  const {measuredAt, freeBytes} = await freeSpace(dir)
  return diskStatus(freeBytes, dir, measuredAt, source)
}

export function diskStatus(freeBytes: number, dir: string, measured: string, source: string): CheckOutcome {
  const where = measured === path.resolve(dir) ? dir : `${dir} (not created yet; measured at ${measured})`
  const message = `${formatBytes(freeBytes)} free at ${where} (${source}).`
  const data = {path: dir, measuredAt: measured, freeBytes}
  if (freeBytes < DISK_FAIL_BELOW) {
    return {
      status: 'fail',
      message,
      fix: `Free at least ${formatBytes(DISK_WARN_BELOW)} there: images and bentos take several GiB.`,
      data,
    }
  }
  if (freeBytes < DISK_WARN_BELOW) {
    return {
      status: 'warn',
      message,
      fix: `Builds of large models may not fit; free up to ${formatBytes(DISK_WARN_BELOW)} (podman/docker system prune, bentoml delete).`,
      data,
    }
  }
  return {status: 'pass', message, data}
}

/** Human report: one line per check, the fix under each warn and fail, then the counts. */
export function formatDoctor(result: DoctorResult, verbose = false, colour = false): string {
  // At a terminal (no NO_COLOR): pass green, warn yellow, fail red, skip dim.
  const paint = (status: string): string => {
    const code = {pass: 32, warn: 33, fail: 31, skip: 2}[status]
    return colour && code !== undefined ? `\u001B[${code}m${status.padEnd(4)}\u001B[0m` : status.padEnd(4)
  }
  const scope =
    result.target === null
      ? result.root === null
        ? 'no project (machine checks only)'
        : `project ${result.root} (name a target to check its repository and VPN settings)`
      : `${result.target} in ${result.root}`
  const header = [
    `mldeploy doctor: ${scope}`,
    ...(result.stage === null ? [] : [`stage: ${result.stage}`]),
    ...(result.envFiles.length === 0 ? [] : [`.env files: ${result.envFiles.join(', ')}`]),
  ]
  const width = Math.max(...result.checks.map((check) => check.title.length))
  const lines: string[] = []
  for (const check of result.checks) {
    lines.push(`${paint(check.status)}  ${check.title.padEnd(width)}  ${check.message}`)
    if (check.fix !== undefined && (check.status === 'fail' || check.status === 'warn')) {
      lines.push(`${' '.repeat(6 + width + 2)}fix: ${check.fix}`)
    }
    if (verbose && check.detail)
      for (const line of check.detail.split('\n')) lines.push(`${' '.repeat(8 + width)}| ${line}`)
  }
  const {pass, warn, fail, skip} = result.counts
  const summary = `${result.checks.length} checks: ${pass} passed, ${warn} warned, ${fail} failed, ${skip} skipped.`
  return [...header, '', ...lines, '', summary].join('\n')
}
