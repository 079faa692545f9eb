import {describe, expect, it} from 'vitest'

import {AwsError, classify} from '../../../../src/errors.js'
import {EndpointAnswerError, toAwsError} from '../../../../src/systems/aws/index.js'
import {withChainReason} from '../../../../src/systems/aws/errors.js'

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

  it('an endpoint that is not AWS: a body too big, a 4xx page, an empty page, each said plainly', () => {
    const at = '(region eu-west-1, profile team)'
    const tooLarge = toAwsError(
      new EndpointAnswerError('too-large', 200, '', '', 8 * 1024 * 1024),
      'ecr:X',
      'X',
      settings,
    )
    expect(tooLarge).toMatchObject({reason: 'malformed'})
    expect(tooLarge.message).toBe(
      `X failed: the endpoint answered HTTP 200 (no content type) with more than 8 MiB ${at}.`,
    )
    expect(tooLarge.hint).toBe('Check AWS_ENDPOINT_URL and any proxy between here and AWS (HTTPS_PROXY).')
    expect(
      toAwsError(new EndpointAnswerError('too-large', 502, 'x', '', 1000), 'ecr:X', 'X', settings),
    ).toMatchObject({reason: 'malformed', message: expect.stringContaining('with more than 1000 B')})
    const page = toAwsError(
      new EndpointAnswerError('not-aws', 403, 'text/html', '  <p>\n  blocked\n</p> ', 1024),
      'ecr:X',
      'X',
      settings,
    )
    expect(page.reason).toBe('malformed')
    expect(page.message).toBe(
      `X failed: the endpoint answered HTTP 403 (text/html), not an AWS response: "<p> blocked </p>" ${at}.`,
    )
    expect(
      toAwsError(new EndpointAnswerError('not-aws', 500, 'text/plain', '', 1024), 'ecr:X', 'X', settings)
        .message,
    ).toBe(`X failed: the endpoint answered HTTP 500 (text/plain), not an AWS response ${at}.`)
  })

  it('credentials named only in the message, an expired session token, a timeout and a plain status', () => {
    const byMessage = toAwsError(
      new Error('Could not load credentials from any providers'),
      'ecr:X',
      'X',
      settings,
    )
    expect(byMessage.reason).toBe('credentials-missing')
    const expired = toAwsError(
      named('UnrecognizedClientException', 'The security token included in the request is expired'),
      'ecr:X',
      'X',
      settings,
    )
    expect(expired).toMatchObject({
      reason: 'credentials-expired',
      message: 'X failed: the AWS credentials have expired (region eu-west-1, profile team).',
      hint: "Refresh profile team's credentials (aws sso login --profile team if it uses SSO) and run again.",
    })
    const timeout = toAwsError(named('TimeoutError', 'socket hang up'), 'ecr:X', 'X', {region: 'us-east-1'})
    expect(timeout).toMatchObject({
      reason: 'unreachable',
      message: 'X failed: the AWS endpoint could not be reached (TimeoutError).',
      hint: 'Check the network, proxy and AWS_ENDPOINT_URL settings.',
    })
    const other = Object.assign(named('InternalFailure', 'Service unavailable'), {
      $metadata: {httpStatusCode: 500},
    })
    expect(toAwsError(other, 'ecr:X', 'X', {region: 'us-east-1'}).message).toBe(
      'X failed: Service unavailable (region us-east-1).',
    )
    expect(toAwsError(named('Unknown', 'UnknownError'), 'ecr:X', 'X', {region: 'us-east-1'}).message).toBe(
      'X failed: UnknownError (region us-east-1).',
    )
  })

  it('redacts what the message carries', () => {
    const error = named('AccessDeniedException', 'echo: Authorization: AWS4-HMAC-SHA256 Signature=abcdef0123')
    const mapped = toAwsError(error, 'ecr:X', 'X', settings, (text) => text.replace('abcdef0123', '***'))
    expect(mapped.detail).not.toContain('abcdef0123')
  })
})

describe('toAwsError and EndpointAnswerError, the edges', () => {
  const settings = {region: 'eu-west-1'}
  const named = (name: string, message: string, extra: object = {}) =>
    Object.assign(new Error(message), {name, ...extra})
  const map = (error: unknown) => toAwsError(error, 'ecr:DescribeImages', 'Describing r:v1', settings)

  it('an AwsError passes through as it is', () => {
    const original = new AwsError('not-found', 'ecr:BatchGetImage', 'r:v1 does not exist.')
    expect(map(original)).toBe(original)
  })

  it('missing credentials by name alone', () => {
    expect(map(named('CredentialsProviderError', 'no profile')).reason).toBe('credentials-missing')
  })

  it('a refused request and a denied operation, each with its hint', () => {
    const invalid = map(named('InvalidClientTokenId', 'bad token'))
    expect(invalid).toMatchObject({
      reason: 'credentials-invalid',
      message: 'Describing r:v1 failed: AWS refused the request (InvalidClientTokenId, region eu-west-1).',
      hint: 'Check that the credentials belong to the right account and may use ECR.',
    })
    expect(map(named('AccessDeniedException', 'no')).hint).toBe(
      "The credentials need the ecr:DescribeImages permission on this repository; check the role's policy, the account and --profile.",
    )
    expect(map(named('ThrottlingException', 'Rate exceeded')).hint).toBe(
      'AWS is throttling the requests: wait a moment and run again, or raise AWS_MAX_ATTEMPTS.',
    )
  })

  it('a network code that is not a failure to reach AWS is a plain failure', () => {
    expect(map(named('Error', 'protocol', {code: 'EPROTO'})).reason).toBe('failed')
    expect(map(named('Error', 'refused', {code: 'ECONNREFUSED'})).reason).toBe('unreachable')
  })

  it('only a message that starts with Unknown is rewritten', () => {
    const status = {$metadata: {httpStatusCode: 418}}
    expect(map(named('Error', 'UnknownError', status)).message).toBe(
      'Describing r:v1 failed: the endpoint answered HTTP 418 that the SDK could not read (region eu-west-1).',
    )
    expect(map(named('Error', 'an Unknown field', status)).message).toBe(
      'Describing r:v1 failed: an Unknown field (region eu-west-1).',
    )
  })

  it('an endpoint answer: 500 is a failure, below it malformed; the size and content type named', () => {
    const page = (status: number) => new EndpointAnswerError('not-aws', status, 'text/html', '<html>', 0)
    expect(map(page(500)).reason).toBe('failed')
    expect(map(page(499)).reason).toBe('malformed')
    const bare = new EndpointAnswerError('not-aws', 502, '', '', 0)
    expect(bare.message).toBe('the endpoint answered HTTP 502 (no content type), not an AWS response')
    expect(bare.name).toBe('EndpointAnswerError')
    // The SDK's retry strategy reads the status here.
    expect(bare.$metadata).toEqual({httpStatusCode: 502})
    expect(new EndpointAnswerError('too-large', 200, 'text/xml', '', 1024 * 1024).message).toBe(
      'the endpoint answered HTTP 200 (text/xml) with more than 1 MiB',
    )
    expect(new EndpointAnswerError('too-large', 200, 'text/xml', '', 1024 * 1024 - 1).message).toBe(
      'the endpoint answered HTTP 200 (text/xml) with more than 1023 KiB',
    )
  })
})

describe('cached credentials that ran out say which and how to renew them', () => {
  const named = (name: string, message: string) => Object.assign(new Error(message), {name})
  const map = (
    error: unknown,
    settings: Parameters<typeof toAwsError>[3] = {region: 'eu-west-1', profile: 'team'},
  ) => toAwsError(error, 'sts:GetCallerIdentity', 'Reading the AWS identity', settings)

  it.each([
    // The legacy SSO profile, the sso-session profile, and one whose cache holds no refresh token.
    'The SSO session associated with this profile has expired. To refresh this SSO session run aws sso login with the corresponding profile.',
    "Token is expired. To refresh this SSO session run 'aws sso login' with the corresponding profile.",
    "Value not present for 'clientId' in SSO Token. Cannot refresh. To refresh this SSO session run 'aws sso login' with the corresponding profile.",
  ])('an expired SSO session: %s', (message) => {
    expect(map(named('CredentialsProviderError', message))).toMatchObject({
      reason: 'credentials-expired',
      message:
        'Reading the AWS identity failed: the AWS SSO session of profile team has expired (region eu-west-1).',
      hint: 'Run aws sso login --profile team, then run again.',
      detail: message,
    })
  })

  it('an SSO profile without a session names the default profile when none is set', () => {
    const missing = map(
      named(
        'CredentialsProviderError',
        "The SSO session token associated with profile=default was not found or is invalid. To refresh this SSO session run 'aws sso login' with the corresponding profile.",
      ),
      {region: 'eu-west-1'},
    )
    expect(missing).toMatchObject({
      reason: 'credentials-missing',
      message:
        'Reading the AWS identity failed: profile default has no AWS SSO session on this machine (not logged in, or logged out) (region eu-west-1).',
      hint: 'Run aws sso login --profile default, then run again.',
    })
    expect(
      map(
        named(
          'CredentialsProviderError',
          'The SSO session associated with this profile is invalid. To refresh run aws sso login',
        ),
      ).reason,
    ).toBe('credentials-missing')
  })

  it('expired session keys from the environment: new keys, not a login', () => {
    const settings = {
      region: 'eu-west-1',
      credentials: {accessKeyId: 'A', secretAccessKey: 'S', sessionToken: 'T'},
    }
    for (const name of ['ExpiredToken', 'ExpiredTokenException'])
      expect(
        map(named(name, 'The security token included in the request is expired'), settings),
      ).toMatchObject({
        reason: 'credentials-expired',
        hint: 'Get new session credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and run again.',
      })
  })

  it("the chain's logged reason replaces its bare 'from any providers', and only an expiry does", () => {
    const bare = named('CredentialsProviderError', 'Could not load credentials from any providers')
    const logged = [
      '@aws-sdk/credential-provider-node - defaultProvider::fromEnv',
      '@smithy/property-provider -> Profile ci credential_process returned expired credentials.',
    ]
    const explained = withChainReason(bare, logged) as Error
    expect(explained).toMatchObject({
      name: 'CredentialsProviderError',
      message: 'Profile ci credential_process returned expired credentials.',
      cause: bare,
    })
    expect(map(explained, {region: 'eu-west-1', profile: 'ci'})).toMatchObject({
      reason: 'credentials-expired',
      hint: 'Renew what its credential_process reads (its own login or cache), then run again.',
    })
    expect(withChainReason(bare, ['@smithy/property-provider -> Profile ci was not found.'])).toBe(bare)
    const other = new Error('socket hang up')
    expect(withChainReason(other, logged)).toBe(other)
  })
})
