import type {Sourced} from '../sourced.js'
import {CheckError} from '../errors.js'

/**
 * The account check of push's preflight, promote and doctor: the credentials must belong to the
 * account the user named (--account-id / MLDEPLOY_ACCOUNT_ID), if any.
 */
export function checkAccount(
  identity: {account: string; arn: string},
  expected: Sourced<string> | undefined,
): void {
  if (expected === undefined || expected.value === identity.account) return
  throw new CheckError(
    'account-mismatch',
    `The AWS credentials are for account ${identity.account}${identity.arn === '' ? '' : ` (${identity.arn})`}, but ${expected.source} says ${expected.value}.`,
    {hint: 'Use the profile of the right account (--profile / AWS_PROFILE) or fix the account id.'},
  )
}
