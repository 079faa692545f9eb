import {AwsError, errorMessage} from '../errors.js'
import {PLACEHOLDER} from '../images.js'
import type {Sourced} from '../sourced.js'
import type {Identity} from '../systems/aws/index.js'

/**
 * The caller's identity, as promote's and deploy's first steps read it. A real run fails without
 * it; a dry run goes on: a warning says which of its answers stay `unknown` (and how the account
 * shows), and the result is undefined.
 */
export async function identityOrWarn(
  state: {
    readonly aws: {identity(signal: AbortSignal): Promise<Identity>}
    readonly account: Sourced<string> | undefined
    warn(message: string): void
  },
  dryRun: boolean,
  unknown: string,
  signal: AbortSignal,
): Promise<Identity | undefined> {
  try {
    return await state.aws.identity(signal)
  } catch (error) {
    if (!dryRun) throw error
    state.warn(
      `No AWS credentials could be used (${errorMessage(error).split('\n')[0]!.replace(/\.$/, '')}): ${unknown}, and so is what would change.${state.account === undefined ? ` The account shows as ${PLACEHOLDER.account}; pass --account-id to see the real references.` : ''}`,
    )
    return undefined
  }
}

/**
 * A dry run's read-only check starts with the identity: without any credentials the check is
 * skipped (the error says where mldeploy looked); any other failure is the check's.
 */
export async function identityOrMissing(
  aws: {identity(signal: AbortSignal): Promise<Identity>},
  signal: AbortSignal,
): Promise<{identity: Identity} | {missing: AwsError}> {
  try {
    return {identity: await aws.identity(signal)}
  } catch (error) {
    if (error instanceof AwsError && error.reason === 'credentials-missing') return {missing: error}
    throw error
  }
}
