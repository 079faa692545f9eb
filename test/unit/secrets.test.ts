import {describe, expect, it} from 'vitest'

import {REDACTED, redactCredentialHeaders, SecretRegistry} from '../../src/secrets.js'

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

describe('SecretRegistry', () => {
  it('ignores strings too short to be a real secret (they would redact ordinary words)', () => {
    const secrets = new SecretRegistry()
    secrets.add('12345')
    secrets.add('abcdef')
    expect(secrets.redact('12345 abcdef')).toBe(`12345 ${REDACTED}`)
    expect(secrets.longestLength()).toBe(6)
  })

  it('replaces every occurrence of every secret', () => {
    const secrets = new SecretRegistry()
    secrets.add('first-secret')
    secrets.add('second-secret')
    expect(secrets.redact('first-secret second-secret first-secret')).toBe(
      `${REDACTED} ${REDACTED} ${REDACTED}`,
    )
  })

  it('knows the longest secret (for output cut in pieces), 0 when there is none', () => {
    const secrets = new SecretRegistry()
    expect(secrets.longestLength()).toBe(0)
    secrets.add('a-longer-secret')
    secrets.add('short1')
    expect(secrets.longestLength()).toBe('a-longer-secret'.length)
  })

  it('shares what it knows, and what it learns later, with another registry', () => {
    const target = new SecretRegistry()
    const printer = new SecretRegistry()
    target.add('known-before')
    target.shareWith(printer)
    target.add('learned-after')
    expect(printer.redact('known-before learned-after')).toBe(`${REDACTED} ${REDACTED}`)
    // Sharing goes one way.
    printer.add('printer-only')
    expect(target.redact('printer-only')).toBe('printer-only')
  })
})

describe('redactCredentialHeaders', () => {
  it('stops at the end of the value: a quote, a backslash or the end of the line', () => {
    expect(redactCredentialHeaders('Authorization:Bearer abc\r\nHost: x')).toBe(
      `Authorization:${REDACTED}\r\nHost: x`,
    )
    expect(redactCredentialHeaders(`x-amz-security-token = "tok" other`)).toBe(
      `x-amz-security-token = "${REDACTED}" other`,
    )
    expect(redactCredentialHeaders('AUTHORIZATION=abc\\"rest')).toBe(`AUTHORIZATION=${REDACTED}\\"rest`)
  })

  it('needs a separator after the name: prose that mentions a header is left alone', () => {
    expect(redactCredentialHeaders('no authorization data here')).toBe('no authorization data here')
    expect(redactCredentialHeaders('an authorization token')).toBe('an authorization token')
  })

  it('finds the names in any case, among many other z letters (the fast check looks at each z)', () => {
    const noise = 'zip size optimized Zone lazy '.repeat(200)
    for (const name of [
      'Authorization',
      'AUTHORIZATION',
      'aUtHoRiZaTiOn',
      'X-Amz-Security-Token',
      'x-amz-security-token',
    ]) {
      expect(redactCredentialHeaders(`${noise}${name}: secret-value\n${noise}`)).toBe(
        `${noise}${name}: ${REDACTED}\n${noise}`,
      )
    }
    expect(redactCredentialHeaders(`${noise}authorization: x`)).toBe(`${noise}authorization: ${REDACTED}`)
    expect(redactCredentialHeaders('Authorization: x')).toBe(`Authorization: ${REDACTED}`)
    expect(redactCredentialHeaders(noise)).toBe(noise)
  })

  it('redacts several headers in one text', () => {
    expect(redactCredentialHeaders('authorization: a\nauthorization: b')).toBe(
      `authorization: ${REDACTED}\nauthorization: ${REDACTED}`,
    )
  })
})

describe('REDACTED', () => {
  it('is eight stars: visibly a redaction, and never the length of the secret', () => {
    expect(REDACTED).toBe('********')
  })
})

describe("looking at a child's bytes before they are decoded", () => {
  it('says redaction could change them whenever it would, and not for plain output', () => {
    const secrets = new SecretRegistry()
    secrets.add('eyJwYXlsb2FkIjoiUGFzc3dvcmQifQ')
    secrets.add('mot-de-passe-été')
    const samples = [
      'INFO plain line\nanother one',
      'the eyJwYXlsb2FkIjoiUGFzc3dvcmQifQ here',
      'eyJwYXlsb2FkIjoiUGFzc3dvcmQ',
      'mot-de-passe-été',
      'mot-de-passe-ete',
      'Authorization: Bearer abc',
      'AUTHORIZATION=abc',
      'x-amz-security-token: FwoG',
      'X-Amz-Security-Token=FwoG',
      'zip, lazy, authorizations',
      'authorize',
      'z',
      'Z at the start',
      'ends with authoriz',
    ]
    for (const sample of samples)
      if (secrets.redact(sample) !== sample) expect(secrets.mayChange(Buffer.from(sample)), sample).toBe(true)
    for (const plain of [
      'INFO plain line\nanother one',
      'eyJwYXlsb2FkIjoiUGFzc3dvcmQ',
      'mot-de-passe-ete',
      'z',
      'Z at the start',
      'ends with authoriz',
      'authorize',
    ])
      expect(secrets.mayChange(Buffer.from(plain)), plain).toBe(false)
    // A header's name alone is enough to look closer (the text then shows no value to hide).
    expect(secrets.mayChange(Buffer.from('zip, lazy, authorizations'))).toBe(true)
  })
})
