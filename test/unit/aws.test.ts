import {describe, expect, it} from 'vitest'

import {DeployError} from '../../src/errors.js'
import {awsError, decodeAuthorizationToken, registryHostFromEndpoint} from '../../src/systems/aws.js'

describe('ECR token handling', () => {
  it('decodes AWS:<password>, keeping colons inside the password', () => {
    const token = Buffer.from('AWS:eyJwYXlsb2FkIjoi:with:colons').toString('base64')
    expect(decodeAuthorizationToken(token)).toEqual({
      username: 'AWS',
      password: 'eyJwYXlsb2FkIjoi:with:colons',
    })
  })

  it('refuses a token that is not user:password, without echoing it', () => {
    const token = Buffer.from('no-colon-here').toString('base64')
    expect(() => decodeAuthorizationToken(token)).toThrow(DeployError)
    try {
      decodeAuthorizationToken(token)
    } catch (error) {
      expect((error as Error).message).not.toContain('no-colon-here')
      expect((error as DeployError).exitCode).toBe(7)
    }
  })

  it('turns proxyEndpoint into a bare host for the login', () => {
    expect(registryHostFromEndpoint('https://123456789012.dkr.ecr.us-east-1.amazonaws.com')).toBe(
      '123456789012.dkr.ecr.us-east-1.amazonaws.com',
    )
    expect(registryHostFromEndpoint('https://1.dkr.ecr.cn-north-1.amazonaws.com.cn/')).toBe(
      '1.dkr.ecr.cn-north-1.amazonaws.com.cn',
    )
  })
})

describe('AWS SDK errors become one line with advice', () => {
  const settings = {region: 'eu-west-1', profile: 'team'}
  it('names missing credentials with what to do', () => {
    const error = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    })
    const mapped = awsError(error, 'Reading the AWS identity', settings)
    expect(mapped.exitCode).toBe(3)
    expect(mapped.message).toBe(
      'Reading the AWS identity failed: no AWS credentials found (region eu-west-1, profile team).',
    )
    expect(mapped.hint).toContain('AWS_PROFILE')
  })

  it('names an expired session', () => {
    const error = Object.assign(new Error('The security token included in the request is expired'), {
      name: 'ExpiredTokenException',
    })
    expect(awsError(error, 'X', settings).message).toContain('have expired')
  })

  it('names an unreachable endpoint', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {code: 'ECONNREFUSED'})
    expect(awsError(error, 'X', settings).message).toContain('could not be reached (ECONNREFUSED)')
  })
})
