import {formatDuration} from '../config/timeouts.js'
import {CheckError, errorMessage} from '../errors.js'
import type {DeployState} from '../pipeline/state.js'
import type {PlannedAction, PlannedCommand, Step, StepDescription, StepIO} from '../pipeline/step.js'
import {runChild} from '../process.js'
import {checkAccount} from '../systems/account.js'
import {withoutAwsCredentials} from '../systems/aws/index.js'
import {BENTOML_VERSION_PROBE, judgeBentomlProbe, MIN_BENTOML_VERSION} from '../systems/bentoml.js'
import {findExecutable} from '../systems/executables.js'
import {checkVpn, formatHostPort, vpnCall} from '../systems/vpn.js'

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
      },
      {
        text: `ECR repository ${repository} exists: ECR DescribeRepositories`,
        calls: ['aws:ecr:DescribeRepositories'],
      },
      ...(config.createRepository === undefined
        ? []
        : [
            {
              text: `Create it (${config.createRepository.mutability}, scan on push ${config.createRepository.scanOnPush ? 'on' : 'off'}): ECR CreateRepository`,
              calls: ['aws:ecr:CreateRepository', 'aws:ecr:DescribeRepositories'],
              when: 'the repository is missing',
            },
          ]),
      {
        text: 'None of the tags exists yet: ECR DescribeImages',
        calls: ['aws:ecr:DescribeImages'],
        when: 'the repository is IMMUTABLE',
      },
      {
        text: 'ECR login token and registry host: ECR GetAuthorizationToken',
        calls: ['aws:ecr:GetAuthorizationToken'],
      },
      {
        text: `Executables on PATH: ${config.python.value.description}, ${config.backend.value}`,
        calls: [],
      },
      config.vpnCheck === undefined
        ? {text: 'VPN check: skipped (no --vpn-check and no http(s) MLFLOW_TRACKING_URI)', calls: []}
        : {
            text: `VPN check: TCP connect to ${formatHostPort(config.vpnCheck.value)} within ${config.vpnTimeoutMs / 1000} s (from ${config.vpnCheck.source})`,
            calls: [vpnCall(config.vpnCheck.value)],
          },
    ]
    return {actions, commands: [{...bentomlProbeCommand(state), when: 'the Python is on PATH'}]}
  },

  async run(state: DeployState, io: StepIO): Promise<void> {
    const limit = AbortSignal.timeout(state.config.timeouts.preflight)
    const signal = AbortSignal.any([io.signal, limit])
    const checks: Array<[string, () => Promise<string>]> = [
      ['VPN', () => vpnCheck(state, signal)],
      ['AWS identity and repository', () => checkIdentityAndRepository(state, signal)],
      ['ECR login token', () => fetchAuthorization(state, signal)],
      ['Executables', () => checkExecutables(state, signal)],
    ]
    const results = await Promise.allSettled(checks.map(([, check]) => check()))
    const failures: unknown[] = []
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
      const first = failures[0] as {hint?: string}
      throw new CheckError(
        'several',
        `${failures.length} preflight checks failed: ${failures.map((failure) => errorMessage(failure).replace(/\.$/, '')).join('; ')}.`,
        first.hint === undefined ? {} : {hint: first.hint},
      )
    }
  },
}

async function vpnCheck(state: DeployState, signal: AbortSignal): Promise<string> {
  const check = state.config.vpnCheck
  if (check === undefined) return 'skipped'
  return checkVpn(check.value, check.source, state.config.vpnTimeoutMs, signal)
}

async function checkIdentityAndRepository(state: DeployState, signal: AbortSignal): Promise<string> {
  const identity = await state.aws.identity(signal)
  checkAccount(identity, state.config.accountId)
  state.account = {value: identity.account, source: 'STS GetCallerIdentity'}
  const {repository, createRepository} = state.config
  const facts = await state.aws.repository(repository.value, identity.account, createRepository, signal)
  state.repositoryFacts = facts
  if (facts.mutability === 'IMMUTABLE') await assertTagsFree(state, signal)
  return `account ${identity.account} (${identity.arn}); repository ${repository.value} ${facts.created ? `created (${facts.mutability}, scan on push ${createRepository?.scanOnPush ? 'on' : 'off'})` : `exists (${facts.mutability})`}`
}

/**
 * An immutable repository refuses to move a tag, even to identical content: say which tag is
 * taken now, before the long steps, rather than when the push is half done.
 */
export async function assertTagsFree(state: DeployState, signal: AbortSignal): Promise<void> {
  const tags = state.tags.filter((tag) => !tag.startsWith('<'))
  const taken = await state.aws.imagesByTag(state.config.repository.value, tags, signal)
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

async function checkExecutables(state: DeployState, signal: AbortSignal): Promise<string> {
  const {config} = state
  const env = config.childEnv
  const cwd = config.target.dir
  const python = config.python.value
  const missing: string[] = []
  if (findExecutable(python.command, env, cwd) === undefined)
    missing.push(`${python.command} (Python, from ${config.python.source})`)
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
  const verdict = judgeBentomlProbe(python.description, probe)
  if (!verdict.ok) {
    throw new CheckError('bentoml', verdict.message, {
      hint: verdict.hint,
      ...(verdict.detail === undefined ? {} : {detail: verdict.detail}),
    })
  }
  return `${python.description}, bentoml ${verdict.version} (>= ${MIN_BENTOML_VERSION}), ${config.backend.value}`
}
