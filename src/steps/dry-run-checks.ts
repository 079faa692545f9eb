import {formatDuration} from '../config/timeouts.js'
import {AwsError, CheckError, errorMessage, MldeployError} from '../errors.js'
import {Ledger, withLedger} from '../ledger.js'
import type {DeployState} from '../pipeline/state.js'
import {withEcrShAdvice} from '../project/migrate.js'
import {checkAccount} from '../systems/account.js'
import {endpointDryRunCheck} from './endpoint.js'
import {identityOrMissing} from './identity.js'
import {assertTagsFree, checkExecutables, vpnCheck} from './preflight.js'

/** One read-only check of a dry run, as the plan's text and `--json` list it. */
export interface CheckResult {
  check: string
  status: 'ok' | 'failed' | 'skipped'
  message: string
}

export interface DryRunChecks {
  results: CheckResult[]
  /** What the boundaries recorded (AWS calls, the bentoml probe, the TCP probe). */
  ran: string[]
  /** The preflight's failure (all failed checks in one error), undefined when none failed. */
  failure: unknown
}

/**
 * The preflight's read-only checks, the ones its description marks `dryRun`: the AWS identity and
 * account, the repository (never created here), the immutable-tag check, the executables with the
 * bentoml version probe, the VPN probe, and (push --deploy) the deploy's role, permissions and
 * endpoint. No login token, no disk probes, nothing that writes.
 * Without credentials the AWS checks are skipped, said so, and the others still run.
 */
export async function runDryRunChecks(state: DeployState, interrupt: AbortSignal): Promise<DryRunChecks> {
  const limit = AbortSignal.timeout(state.config.timeouts.preflight)
  const signal = AbortSignal.any([interrupt, limit])
  const ledger = new Ledger()
  const checks: Array<[string, () => Promise<string | {skipped: string}>]> = [
    [
      'VPN',
      async () =>
        state.config.vpnCheck === undefined
          ? {skipped: 'no --vpn-check and no http(s) MLFLOW_TRACKING_URI, or --skip-vpn-check'}
          : vpnCheck(state, signal),
    ],
    ['AWS identity and repository', () => identityAndRepository(state, signal)],
    ['Executables', () => checkExecutables(state, signal)],
  ]
  // push --deploy: the deploy's own read-only checks (role, permissions, the endpoint) beside them.
  const deploy = state.endpointDeploy
  if (deploy !== undefined)
    checks.push(['Deploy: role, permissions and endpoint', () => endpointDryRunCheck(deploy, signal)])
  const settled = await withLedger(ledger, () => Promise.allSettled(checks.map(([, check]) => check())))
  const results: CheckResult[] = []
  const failures: unknown[] = []
  for (const [index, outcome] of settled.entries()) {
    const check = checks[index]![0]
    if (outcome.status === 'rejected') {
      results.push({check, status: 'failed', message: errorMessage(outcome.reason)})
      failures.push(outcome.reason)
    } else if (typeof outcome.value === 'string') {
      results.push({check, status: 'ok', message: outcome.value})
    } else results.push({check, status: 'skipped', message: outcome.value.skipped})
  }
  const ran = ledger.entries.map((entry) => state.secrets.redact(entry.call))
  if (limit.aborted && !interrupt.aborted)
    return {
      results,
      ran,
      failure: new CheckError(
        'timeout',
        `The dry run's checks did not finish within ${formatDuration(state.config.timeouts.preflight)}.`,
        {
          hint: 'Something did not answer (AWS endpoint, VPN, Python), or raise --timeout preflight=<duration>.',
        },
      ),
    }
  return {results, ran, failure: combined(failures)}
}

/** Several failures are one error naming them all; the first keeps its kind and hint (as the preflight). */
function combined(failures: unknown[]): unknown {
  if (failures.length <= 1) return failures[0]
  const message = `${failures.length} preflight checks failed: ${failures.map((failure) => errorMessage(failure).replace(/\.$/, '')).join('; ')}.`
  const first = failures[0]
  if (first instanceof MldeployError) {
    first.message = message
    return first
  }
  return new CheckError('several', message)
}

async function identityAndRepository(
  state: DeployState,
  signal: AbortSignal,
): Promise<string | {skipped: string}> {
  const caller = await identityOrMissing(state.aws, signal)
  if ('missing' in caller)
    return {
      skipped:
        `no AWS credentials found (environment, AWS_PROFILE, ~/.aws, SSO, instance role), so the identity, repository and tag checks were skipped; the real run makes them first. ${caller.missing.hint ?? ''}`.trim(),
    }
  const {identity} = caller
  checkAccount(identity, state.config.accountId)
  state.account = {value: identity.account, source: 'STS GetCallerIdentity'}
  const {repository, createRepository} = state.config
  let facts
  try {
    // Never `create` here: a dry run changes nothing.
    facts = await state.aws.repository(repository.value, identity.account, undefined, signal)
  } catch (error) {
    if (!(error instanceof AwsError)) throw error
    if (error.reason === 'not-found' && createRepository !== undefined)
      return `account ${identity.account} (${identity.arn}); repository ${repository.value} is missing: the push creates it (--create-repository)`
    if (error.reason === 'access-denied')
      return `account ${identity.account} (${identity.arn}); repository ${repository.value} not checked (ecr:DescribeRepositories denied)`
    throw withEcrShAdvice(error, state.config.target, repository)
  }
  if (facts.mutability === 'IMMUTABLE') await assertTagsFree(state, signal)
  return `account ${identity.account} (${identity.arn}); repository ${repository.value} exists (${facts.mutability})`
}
