import os from 'node:os'

import {formatDuration} from '../config/timeouts.js'
import {AwsError, CheckError, errorMessage, MldeployError} from '../errors.js'
import {describeLifecyclePolicy, lifecyclePolicyText} from '../lifecycle-policy.js'
import {LABELS} from '../provenance.js'
import {firstImageId, imagesByLabelArgs} from '../systems/backend.js'
import {
  backendDataDirArgs,
  bentomlStoreDir,
  defaultBackendDir,
  diskNeed,
  freeSpace,
  judgeDisk,
  parseHumanSize,
  remoteEngine,
} from '../systems/disk.js'
import type {DeployState} from '../pipeline/state.js'
import {
  note,
  type PlannedAction,
  type PlannedCommand,
  type Step,
  type StepDescription,
  type StepIO,
} from '../pipeline/step.js'
import {runChild} from '../process.js'
import {withEcrShAdvice} from '../project/migrate.js'
import {checkAccount} from '../systems/account.js'
import {withoutAwsCredentials} from '../systems/aws/index.js'
import {BENTOML_VERSION_PROBE, judgeBentomlProbe, MIN_BENTOML_VERSION} from '../systems/bentoml.js'
import {findExecutable} from '../systems/executables.js'
import {describeChosenPython} from '../systems/python.js'
import {checkVpn, formatHostPort, MLFLOW_PROBE_PATH, vpnCall} from '../systems/vpn.js'
import {describeBuilder} from '../config/builder.js'
import {isRemoteEngine} from '../systems/engine.js'
import {checkEngine, describeEngineCheck} from './engine-command.js'

/**
 * Everything that can fail cheaply is checked before the long steps, all at once: the AWS
 * identity, the repository, a login token, the executables and the VPN. A deploy that will fail
 * at push time should fail here, in seconds, instead of after a twenty-minute containerize.
 */
export const preflightStep: Step<DeployState> = {
  id: 'preflight',
  title: 'Preflight checks',
  failure: 'preflight',

  describe(state: DeployState): StepDescription {
    const {config} = state
    const repository = config.repository.value
    const actions: PlannedAction[] = [
      {
        text: `AWS identity: STS GetCallerIdentity (region ${state.region.value})`,
        calls: ['aws:sts:GetCallerIdentity'],
        dryRun: true,
      },
      {
        text: `ECR repository ${repository} exists: ECR DescribeRepositories`,
        calls: ['aws:ecr:DescribeRepositories'],
        dryRun: true,
      },
      ...(config.createRepository === undefined
        ? []
        : [
            {
              text: `Create it (${config.createRepository.mutability}, scan on push ${config.createRepository.scanOnPush ? 'on' : 'off'}): ECR CreateRepository`,
              calls: ['aws:ecr:CreateRepository', 'aws:ecr:DescribeRepositories'],
              when: 'the repository is missing',
            },
            config.lifecyclePolicy === undefined
              ? note('Lifecycle policy: none (--no-lifecycle-policy or MLDEPLOY_LIFECYCLE_POLICY=false)')
              : {
                  text: `Attach the default lifecycle policy to it (${describeLifecyclePolicy(config.lifecyclePolicy)}): ECR PutLifecyclePolicy`,
                  calls: ['aws:ecr:PutLifecyclePolicy'],
                  when: 'the repository was just created',
                },
          ]),
      {
        text: 'None of the tags exists yet: ECR DescribeImages',
        calls: ['aws:ecr:DescribeImages'],
        when: 'the repository is IMMUTABLE',
        dryRun: true,
      },
      {
        text: 'ECR login token and registry host: ECR GetAuthorizationToken',
        calls: ['aws:ecr:GetAuthorizationToken'],
      },
      {
        text: `Executables on PATH: ${config.python.value.description}, ${config.backend.value}`,
        calls: [],
        dryRun: true,
      },
      config.vpnCheck === undefined
        ? {text: 'VPN check: skipped (no --vpn-check and no http(s) MLFLOW_TRACKING_URI)', calls: []}
        : {
            text:
              config.vpnCheck.value.mlflow === undefined
                ? `VPN check: TCP connect to ${formatHostPort(config.vpnCheck.value)} within ${config.vpnTimeoutMs / 1000} s (from ${config.vpnCheck.source})`
                : `VPN check: MLflow at ${config.vpnCheck.value.mlflow} answers GET ${MLFLOW_PROBE_PATH} as MLflow within ${config.vpnTimeoutMs / 1000} s (from ${config.vpnCheck.source})`,
            calls: [vpnCall(config.vpnCheck.value)],
            dryRun: true,
          },
    ]
    // --- disk check (issue 12) ---
    const commands: PlannedCommand[] = [
      {...bentomlProbeCommand(state), when: 'the Python is on PATH', dryRun: true},
    ]
    const engine = describeEngineCheck(state)
    if (engine !== undefined) {
      actions.push(...engine.actions)
      commands.push(...engine.commands)
      actions.push(
        note(
          `Disk check: none (builder ${describeBuilder(config.builder.value)} builds on its engine's disk, not this machine's)`,
        ),
      )
    } else if (config.skipDiskCheck) actions.push(note('Disk check: skipped (--skip-disk-check)'))
    else {
      actions.push(
        note(
          `Disk check: free space for the BentoML store and the ${config.backend.value} storage, at least twice the last image of this target (else 10 GiB)`,
        ),
      )
      commands.push(
        ...diskCommands(state).map((command) => ({...command, when: `${config.backend.value} is on PATH`})),
      )
    }
    // --- end disk check ---
    return {actions, commands}
  },

  async run(state: DeployState, io: StepIO): Promise<void> {
    const limit = AbortSignal.timeout(state.config.timeouts.preflight)
    const signal = AbortSignal.any([io.signal, limit])
    const checks: Array<[string, () => Promise<string>]> = [
      ['VPN', () => vpnCheck(state, signal)],
      ['AWS identity and repository', () => checkIdentityAndRepository(state, signal)],
      ['ECR login token', () => fetchAuthorization(state, signal)],
      ['Executables', () => checkExecutables(state, signal)],
      ...(isRemoteEngine(state.config.builder.value)
        ? ([['Engine', () => checkEngine(state, signal)]] as Array<[string, () => Promise<string>]>)
        : []),
      ...(state.config.skipDiskCheck || isRemoteEngine(state.config.builder.value)
        ? []
        : ([['Disk', () => checkDisk(state, signal)]] as Array<[string, () => Promise<string>]>)),
    ]
    const results = await Promise.allSettled(checks.map(([, check]) => check()))
    const failures: unknown[] = []
    if (isRemoteEngine(state.config.builder.value))
      io.output(
        `skip Disk: builder ${describeBuilder(state.config.builder.value)} builds on its engine's disk (not measured)`,
      )
    for (const [index, result] of results.entries()) {
      const name = checks[index]?.[0] ?? ''
      if (result.status === 'fulfilled') {
        io.output(`ok   ${name}: ${result.value}`)
      } else {
        io.output(`FAIL ${name}: ${errorMessage(result.reason)}`)
        failures.push(result.reason)
      }
    }
    if (limit.aborted && !io.signal.aborted) {
      throw new CheckError(
        'timeout',
        `The preflight did not finish within ${formatDuration(state.config.timeouts.preflight)}.`,
        {
          hint: 'Something did not answer (AWS endpoint, VPN, Python): see the checks above, or raise --timeout preflight=<duration>.',
        },
      )
    }
    if (failures.length === 1) throw failures[0]
    if (failures.length > 1) {
      // Every failed check is in the error, not only the first: fix them all before the next try.
      // The first failure keeps its kind (the `reason` in --json) and its hint.
      const combined = `${failures.length} preflight checks failed: ${failures.map((failure) => errorMessage(failure).replace(/\.$/, '')).join('; ')}.`
      const first = failures[0]
      if (first instanceof MldeployError) {
        first.message = combined
        throw first
      }
      throw new CheckError('several', combined)
    }
  },
}

export async function vpnCheck(state: DeployState, signal: AbortSignal): Promise<string> {
  const check = state.config.vpnCheck
  if (check === undefined) return 'skipped'
  return checkVpn(check.value, check.source, state.config.vpnTimeoutMs, signal)
}

async function checkIdentityAndRepository(state: DeployState, signal: AbortSignal): Promise<string> {
  const identity = await state.aws.identity(signal)
  checkAccount(identity, state.config.accountId)
  state.account = {value: identity.account, source: 'STS GetCallerIdentity'}
  const {repository, createRepository} = state.config
  let facts
  try {
    facts = await state.aws.repository(repository.value, identity.account, createRepository, signal)
  } catch (error) {
    if (error instanceof AwsError && error.reason === 'not-found')
      throw withEcrShAdvice(error, state.config.target, repository)
    // A push-only role (issue 12): go on, the upload will say whether the repository exists.
    if (!isDenied(error, 'ecr:DescribeRepositories')) throw error
    state.deny('ecr:DescribeRepositories')
    state.warn(
      `ecr:DescribeRepositories is denied: whether ${repository.value} exists is learned from the upload, and the immutable-tag check is skipped.`,
    )
    return `account ${identity.account} (${identity.arn}); repository ${repository.value} not checked (ecr:DescribeRepositories denied)`
  }
  state.repositoryFacts = facts
  const lifecycle = facts.created ? await attachLifecyclePolicy(state, identity.account, signal) : ''
  if (facts.mutability === 'IMMUTABLE') await assertTagsFree(state, signal)
  return `account ${identity.account} (${identity.arn}); repository ${repository.value} ${facts.created ? `created (${facts.mutability}, scan on push ${createRepository?.scanOnPush ? 'on' : 'off'}${lifecycle})` : `exists (${facts.mutability})`}`
}

/**
 * The default lifecycle policy on a repository this run created. A failure is a warning: the push
 * needs no policy, and the repository stays without one (doctor keeps saying so) until it is attached.
 */
async function attachLifecyclePolicy(
  state: DeployState,
  account: string,
  signal: AbortSignal,
): Promise<string> {
  const policy = state.config.lifecyclePolicy
  if (policy === undefined) return ', no lifecycle policy'
  const repository = state.config.repository.value
  try {
    await state.aws.putLifecyclePolicy(repository, account, lifecyclePolicyText(policy), signal)
    return ', lifecycle policy attached'
  } catch (error) {
    if (!(error instanceof AwsError) || signal.aborted) throw error
    const denied = isDenied(error, 'ecr:PutLifecyclePolicy')
    state.warn(
      `${repository} was created without its lifecycle policy (${denied ? 'ecr:PutLifecyclePolicy is denied' : errorMessage(error).replace(/\.$/, '')}): it keeps every image pushed. Allow ecr:PutLifecyclePolicy and attach the policy of README "Repository growth" (aws ecr put-lifecycle-policy).`,
    )
    return ', lifecycle policy NOT attached'
  }
}

/**
 * An immutable repository refuses to move a tag, even to identical content: say which tag is
 * taken now, before the long steps, rather than when the push is half done.
 */
export async function assertTagsFree(state: DeployState, signal: AbortSignal): Promise<void> {
  const tags = state.tags.filter((tag) => !tag.startsWith('<'))
  let taken
  try {
    taken = await state.aws.imagesByTag(state.config.repository.value, tags, signal)
  } catch (error) {
    if (!isDenied(error, 'ecr:DescribeImages')) throw error
    state.deny('ecr:DescribeImages')
    state.warn(
      `ecr:DescribeImages is denied: the immutable-tag check and the search for an image with the same content are skipped.`,
    )
    return
  }
  if (taken.size > 0) {
    const [tag, image] = [...taken.entries()][0]!
    throw new CheckError(
      'tag-taken',
      `Tag ${tag} already exists in the immutable repository ${state.config.repository.value} (image ${image.digest}).`,
      {hint: 'Push under new tags (--tag), or promote the existing image instead.'},
    )
  }
}

async function fetchAuthorization(state: DeployState, signal: AbortSignal): Promise<string> {
  state.authorization = await state.aws.authorization(state.secrets, signal)
  const override = state.config.registry
  return override === undefined
    ? `registry ${state.authorization.registry}`
    : `token for ${state.authorization.registry}; pushing to ${override.value} (${override.source})`
}

export function bentomlProbeCommand(state: DeployState): PlannedCommand {
  const python = state.config.python.value
  return {
    command: python.command,
    args: [...python.prefix, '-c', BENTOML_VERSION_PROBE],
    cwd: state.config.target.dir,
    env: python.env,
  }
}

export async function checkExecutables(state: DeployState, signal: AbortSignal): Promise<string> {
  const {config} = state
  const env = config.childEnv
  const cwd = config.target.dir
  const python = config.python.value
  const missing: string[] = []
  if (findExecutable(python.command, env, cwd) === undefined)
    missing.push(
      `${python.command} (Python, ${python.fallback === undefined ? `from ${config.python.source}` : python.fallback})`,
    )
  if (findExecutable(config.backend.value, env, cwd) === undefined)
    missing.push(`${config.backend.value} (container backend)`)
  if (missing.length > 0) {
    throw new CheckError('missing-executable', `Not found on PATH: ${missing.join(', ')}.`, {
      hint: 'Install them, or choose the Python with --python and the backend with --backend.',
    })
  }
  const probe = await runChild({
    ...bentomlProbeCommand(state),
    baseEnv: withoutAwsCredentials(env),
    secrets: state.secrets,
    signal,
    timeoutMs: 60_000,
  })
  const verdict = judgeBentomlProbe(describeChosenPython(python), probe)
  if (!verdict.ok) {
    throw new CheckError('bentoml', verdict.message, {
      hint: verdict.hint,
      ...(verdict.detail === undefined ? {} : {detail: verdict.detail}),
    })
  }
  state.bentomlVersion = verdict.version
  return `${describeChosenPython(python)}, bentoml ${verdict.version} (>= ${MIN_BENTOML_VERSION}), ${config.backend.value}`
}

// --- push-only roles and disk check (issue 12) ---

function isDenied(error: unknown, operation: string): boolean {
  return error instanceof AwsError && error.reason === 'access-denied' && error.operation === operation
}

/** Where the backend keeps images, and the size of the last image of this target. */
function diskCommands(state: DeployState): PlannedCommand[] {
  const {config} = state
  const backend = config.backend.value
  return [
    {command: backend, args: backendDataDirArgs(backend), cwd: config.target.dir},
    {
      command: backend,
      args: imagesByLabelArgs(LABELS.title, config.target.name, '{{.ID}} {{.Size}}'),
      cwd: config.target.dir,
    },
  ]
}

/**
 * Free space where the long steps write, before they start: the BentoML store and the backend's
 * storage, against twice the last image of this target (else 10 GiB). A remote engine's disk is
 * not ours to measure.
 */
async function checkDisk(state: DeployState, signal: AbortSignal): Promise<string> {
  const {config} = state
  const env = config.childEnv
  const backend = config.backend.value
  const store = bentomlStoreDir(env)
  const remote = remoteEngine(backend, env)
  const local = findExecutable(backend, env, config.target.dir) !== undefined && remote === undefined
  // Issue 23: both backend commands start at once, before the store is measured: neither needs
  // the other's answer, and the backend's first start (~0.3 s) is the preflight's slowest probe.
  const [dataDir, images] = diskCommands(state)
  const run = (command: PlannedCommand) =>
    runChild({
      ...command,
      baseEnv: withoutAwsCredentials(env),
      secrets: state.secrets,
      signal,
      timeoutMs: 30_000,
    })
  const backendAnswers = local ? Promise.all([run(dataDir!), run(images!)]) : undefined
  // A failure of the store's measure must not leave the backend's answers unhandled.
  const places = [
    {
      ...(await freeSpace(store.dir).catch(async (error: unknown) => {
        await backendAnswers?.catch(() => undefined)
        throw error
      })),
      what: 'BentoML store',
      source: store.source,
    },
  ]
  if (backendAnswers !== undefined) {
    const [info, listed] = await backendAnswers
    const reported = info.exitCode === 0 ? info.tail.at(-1)?.trim() : undefined
    const dir = reported || defaultBackendDir(backend, env.HOME || os.homedir())
    places.push({
      ...(await freeSpace(dir)),
      what: `${backend} storage`,
      source: reported ? `${backend} info` : `${backend} default`,
    })
    const [id, ...size] = (
      listed.exitCode === 0
        ? (listed.tail.find((line) => firstImageId([line.split(' ')[0] ?? ''])) ?? '')
        : ''
    ).split(' ')
    state.lastImageBytes = id ? parseHumanSize(size.join(' ')) : undefined
  }
  // One filesystem measured twice is one constraint.
  const unique = places.filter(
    (place, index) => places.findIndex((other) => other.measuredAt === place.measuredAt) === index,
  )
  const verdict = judgeDisk(unique, diskNeed(state.lastImageBytes))
  return remote === undefined ? verdict : `${verdict}; ${backend} builds on ${remote} (not measured)`
}
// --- end push-only roles and disk check ---
