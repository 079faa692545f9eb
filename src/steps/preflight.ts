import {formatDuration} from '../config/timeouts.js'
import {DeployError, errorMessage, MldeployError} from '../errors.js'
import type {DeployState} from '../pipeline/state.js'
import type {Step, StepDescription, StepIO} from '../pipeline/step.js'
import {runChild} from '../process.js'
import {BENTOML_VERSION_PROBE, MIN_BENTOML_VERSION, versionAtLeast} from '../systems/bentoml.js'
import {findExecutable} from '../systems/executables.js'
import {formatHostPort, probeTcp} from '../systems/vpn.js'

/**
 * Everything that can fail cheaply is checked before the long steps, all at once: the AWS
 * identity, the repository, a login token, the executables and the VPN. A deploy that will fail
 * at push time should fail here, in seconds, instead of after a twenty-minute containerize.
 */
export const preflightStep: Step = {
  id: 'preflight',
  title: 'Preflight checks',
  failure: 'preflight',

  describe(state: DeployState): StepDescription {
    const {config} = state
    const actions = [
      `AWS identity: STS GetCallerIdentity (region ${state.region.value})`,
      config.createRepository === undefined
        ? `ECR repository ${config.repository.value} exists: ECR DescribeRepositories`
        : `ECR repository ${config.repository.value} exists, else create it (${config.createRepository.mutability}, scan on push ${config.createRepository.scanOnPush ? 'on' : 'off'}): ECR DescribeRepositories, CreateRepository`,
      `If the repository is IMMUTABLE, none of the tags exists yet: ECR DescribeImages`,
      'ECR login token and registry host: ECR GetAuthorizationToken',
      `Executables: ${config.python.value.description}, bentoml >= ${MIN_BENTOML_VERSION} in it, ${config.backend.value}`,
      config.vpnCheck === undefined
        ? 'VPN check: skipped (no --vpn-check and no http(s) MLFLOW_TRACKING_URI)'
        : `VPN check: TCP connect to ${formatHostPort(config.vpnCheck.value)} within ${config.vpnTimeoutMs / 1000} s (from ${config.vpnCheck.source})`,
    ]
    return {actions, commands: []}
  },

  async run(state: DeployState, io: StepIO): Promise<void> {
    const limit = AbortSignal.timeout(state.config.timeouts.preflight)
    const signal = AbortSignal.any([io.signal, limit])
    const checks: Array<[string, () => Promise<string>]> = [
      ['VPN', () => checkVpn(state, signal)],
      ['AWS identity and repository', () => checkIdentityAndRepository(state, signal)],
      ['ECR login token', () => fetchAuthorization(state, signal)],
      ['Executables', () => checkExecutables(state, signal)],
    ]
    const results = await Promise.allSettled(checks.map(([, check]) => check()))
    let firstFailure: unknown
    for (const [index, result] of results.entries()) {
      const name = checks[index]?.[0] ?? ''
      if (result.status === 'fulfilled') {
        io.output(`ok   ${name}: ${result.value}`)
      } else {
        io.output(`FAIL ${name}: ${state.secrets.redact(errorMessage(result.reason))}`)
        firstFailure ??= result.reason
      }
    }
    if (limit.aborted && !io.signal.aborted) {
      throw new DeployError(
        'preflight',
        `The preflight did not finish within ${formatDuration(state.config.timeouts.preflight)}.`,
        {
          hint: 'Something did not answer (AWS endpoint, VPN, Python): see the checks above, or raise --timeout preflight=<duration>.',
        },
      )
    }
    if (firstFailure !== undefined) {
      // Domain errors (AwsError...) go up as they are: the runner gives them the preflight's class.
      throw firstFailure instanceof DeployError || firstFailure instanceof MldeployError
        ? firstFailure
        : new DeployError('preflight', `Preflight failed: ${errorMessage(firstFailure)}`)
    }
  },
}

async function checkVpn(state: DeployState, signal: AbortSignal): Promise<string> {
  const check = state.config.vpnCheck
  if (check === undefined) return 'skipped'
  const shown = formatHostPort(check.value)
  try {
    await probeTcp(check.value, state.config.vpnTimeoutMs, signal)
  } catch (error) {
    throw new DeployError(
      'preflight',
      `The VPN looks off: ${shown} did not answer (${errorMessage(error)}).`,
      {
        hint: `Turn on the VPN that reaches MLflow, or fix the check target (from ${check.source}), or pass --skip-vpn-check.`,
      },
    )
  }
  return `${shown} answered`
}

async function checkIdentityAndRepository(state: DeployState, signal: AbortSignal): Promise<string> {
  const identity = await state.aws.identity(signal)
  const expected = state.config.accountId
  if (expected !== undefined && expected.value !== identity.account) {
    throw new DeployError(
      'preflight',
      `The AWS credentials are for account ${identity.account}, but ${expected.source} says ${expected.value}.`,
      {hint: 'Use the profile of the right account (--profile / AWS_PROFILE) or fix the account id.'},
    )
  }
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
    throw new DeployError(
      'preflight',
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
    throw new DeployError('preflight', `Not found on PATH: ${missing.join(', ')}.`, {
      hint: 'Install them, or choose the Python with --python and the backend with --backend.',
    })
  }
  const probe = await runChild({
    command: python.command,
    args: [...python.prefix, '-c', BENTOML_VERSION_PROBE],
    cwd,
    baseEnv: env,
    env: python.env,
    secrets: state.secrets,
    signal,
    timeoutMs: 60_000,
  })
  const version = probe.tail.at(-1)?.trim() ?? ''
  if (probe.exitCode !== 0 || !/^\d+\.\d+/.test(version)) {
    throw new DeployError('preflight', `bentoml is not installed in ${python.description}.`, {
      hint: `Install it in that environment (pip install "bentoml>=${MIN_BENTOML_VERSION}") or pick another with --python.`,
      detail: probe.tail.join('\n'),
    })
  }
  if (!versionAtLeast(version, MIN_BENTOML_VERSION)) {
    throw new DeployError('preflight', `bentoml ${version} in ${python.description} is too old.`, {
      hint: `Upgrade it to >= ${MIN_BENTOML_VERSION} (older versions break containerize).`,
    })
  }
  return `${python.description}, bentoml ${version}, ${config.backend.value}`
}
