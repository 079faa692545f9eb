import {describe, expect, it} from 'vitest'

import {AwsError} from '../../../../src/errors.js'
import {decodeAuthorizationToken, registryHostFromEndpoint} from '../../../../src/systems/aws/index.js'

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
    expect(() => decodeAuthorizationToken(token)).toThrow(AwsError)
    try {
      decodeAuthorizationToken(token)
    } catch (error) {
      expect((error as Error).message).not.toContain('no-colon-here')
      expect(error).toMatchObject({reason: 'malformed', operation: 'ecr:GetAuthorizationToken'})
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
