import {describe, expect, it} from 'vitest'

import {AwsError, classify} from '../../../../src/errors.js'
import {EndpointAnswerError, toAwsError} from '../../../../src/systems/aws/index.js'

describe('AWS SDK errors become typed AwsErrors with one line of advice', () => {
  const settings = {region: 'eu-west-1', profile: 'team'}
  const named = (name: string, message: string, extra: object = {}) =>
    Object.assign(new Error(message), {name, ...extra})

  it('names missing credentials with what to do; the step chooses the exit class', () => {
    const error = named('CredentialsProviderError', 'Could not load credentials from any providers')
    const mapped = toAwsError(error, 'sts:GetCallerIdentity', 'Reading the AWS identity', settings)
    expect(mapped).toBeInstanceOf(AwsError)
    expect(mapped).toMatchObject({reason: 'credentials-missing', operation: 'sts:GetCallerIdentity'})
    expect(mapped.message).toBe(
      'Reading the AWS identity failed: no AWS credentials found (region eu-west-1, profile team).',
    )
    expect(mapped.hint).toContain('AWS_PROFILE')
    expect(classify(mapped, 'preflight').exitCode).toBe(3)
    expect(classify(mapped, 'push').exitCode).toBe(8)
    expect(classify(mapped, 'push').reason).toBe('aws:credentials-missing')
  })

  it.each([
    [
      'ExpiredTokenException',
      'The security token included in the request is expired',
      'credentials-expired',
      'have expired',
    ],
    [
      'InvalidClientTokenId',
      'The security token included in the request is invalid',
      'credentials-invalid',
      'AWS refused the request (InvalidClientTokenId',
    ],
    [
      'AccessDeniedException',
      'User: arn:aws:iam::1:user/x is not authorized',
      'access-denied',
      'AWS refused ecr:DescribeImages (AccessDeniedException',
    ],
    [
      'ThrottlingException',
      'Rate exceeded',
      'throttled',
      'X failed: Rate exceeded (region eu-west-1, profile team).',
    ],
    ['ImageNotFoundException', 'The image does not exist', 'not-found', 'The image does not exist'],
    ['RepositoryAlreadyExistsException', 'exists', 'conflict', 'exists'],
    ['SomethingElse', 'odd\nsecond line', 'failed', 'X failed: odd (region eu-west-1, profile team).'],
  ])('%s is %s', (name, message, reason, text) => {
    const mapped = toAwsError(named(name, message), 'ecr:DescribeImages', 'X', settings)
    expect(mapped.reason).toBe(reason)
    expect(mapped.message).toContain(text)
    expect(mapped.detail).toBe(message)
  })

  it('names an unreachable endpoint', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {code: 'ECONNREFUSED'})
    const mapped = toAwsError(error, 'ecr:DescribeImages', 'X', settings)
    expect(mapped.reason).toBe('unreachable')
    expect(mapped.message).toContain('could not be reached (ECONNREFUSED)')
  })

  it("says what the endpoint answered instead of the SDK's Unknown", () => {
    const error = new EndpointAnswerError('not-aws', 502, 'text/html', '<html><h1>502 Bad Gateway</h1>', 1024)
    const mapped = toAwsError(error, 'ecr:DescribeImages', 'X', settings)
    expect(mapped.reason).toBe('failed')
    expect(mapped.message).toBe(
      'X failed: the endpoint answered HTTP 502 (text/html), not an AWS response: "<html><h1>502 Bad Gateway</h1>" (region eu-west-1, profile team).',
    )
    const unknown = Object.assign(new Error('UnknownError'), {
      name: 'Unknown',
      $metadata: {httpStatusCode: 418},
    })
    expect(toAwsError(unknown, 'ecr:X', 'X', settings).message).toContain('HTTP 418')
  })

  it('redacts what the message carries', () => {
    const error = named('AccessDeniedException', 'echo: Authorization: AWS4-HMAC-SHA256 Signature=abcdef0123')
    const mapped = toAwsError(error, 'ecr:X', 'X', settings, (text) => text.replace('abcdef0123', '***'))
    expect(mapped.detail).not.toContain('abcdef0123')
  })
})
