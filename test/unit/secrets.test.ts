import {describe, expect, it} from 'vitest'

import {REDACTED, SecretRegistry} from '../../src/secrets.js'

describe('SecretRegistry.redact', () => {
  const redact = (text: string) => new SecretRegistry().redact(text)
  const signature = 'Signature=0f3c0e9d4bd3b6f1c2d0ab'

  it('hides Authorization and X-Amz-Security-Token values however they are written', () => {
    expect(redact(`Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, ${signature}\nnext line`)).toBe(
      `Authorization: ${REDACTED}\nnext line`,
    )
    expect(
      redact(`{"authorization":"AWS4-HMAC-SHA256 ${signature}","x-amz-security-token":"tok123456"}`),
    ).toBe(`{"authorization":"${REDACTED}","x-amz-security-token":"${REDACTED}"}`)
    // JSON inside JSON (an echoed body in --json output).
    expect(redact(`"message": "{\\"Authorization\\":\\"AWS4 ${signature}\\"}"`)).toBe(
      `"message": "{\\"Authorization\\":\\"${REDACTED}\\"}"`,
    )
    expect(redact(`X-Amz-Security-Token=tok123456`)).toBe(`X-Amz-Security-Token=${REDACTED}`)
    expect(redact(`'authorization' = 'Basic QVdTOnNlY3JldA=='`)).toBe(`'authorization' = '${REDACTED}'`)
  })

  it('leaves ordinary words alone', () => {
    const text =
      'Check that the credentials may call ecr:GetAuthorizationToken. ECR returned no authorization data.'
    expect(redact(text)).toBe(text)
  })

  it('still replaces registered secrets', () => {
    const secrets = new SecretRegistry()
    secrets.add('hunter2-password')
    expect(secrets.redact('pw hunter2-password')).toBe(`pw ${REDACTED}`)
  })
})
