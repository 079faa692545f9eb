import {describe, expect, it} from 'vitest'

import {CheckError} from '../../../src/errors.js'
import {checkAccount} from '../../../src/systems/account.js'

const identity = {account: '111111111111', arn: 'arn:aws:iam::111111111111:user/ci'}

describe('the account check (push, promote, doctor)', () => {
  it('passes with no expected account, or the same one', () => {
    expect(() => checkAccount(identity, undefined)).not.toThrow()
    expect(() => checkAccount(identity, {value: '111111111111', source: 'flag --account-id'})).not.toThrow()
  })

  it('refuses other credentials, naming both accounts, the identity and where the expectation came from', () => {
    let refused: unknown
    try {
      checkAccount(identity, {value: '222222222222', source: 'env MLDEPLOY_ACCOUNT_ID'})
    } catch (error) {
      refused = error
    }
    expect(refused).toBeInstanceOf(CheckError)
    expect(refused).toMatchObject({
      reason: 'account-mismatch',
      message:
        'The AWS credentials are for account 111111111111 (arn:aws:iam::111111111111:user/ci), but env MLDEPLOY_ACCOUNT_ID says 222222222222.',
      hint: 'Use the profile of the right account (--profile / AWS_PROFILE) or fix the account id.',
    })
  })

  it('leaves out an empty ARN rather than print "()"', () => {
    expect(() => checkAccount({account: '111111111111', arn: ''}, {value: '3', source: 's'})).toThrow(
      'The AWS credentials are for account 111111111111, but s says 3.',
    )
  })
})
