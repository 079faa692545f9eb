import {asciiLowerEquals, Needle} from './output-block.js'

/**
 * Every secret mldeploy learns (the ECR password, the raw token) is registered here the moment it
 * is decoded, and every text that leaves the process for a human or a log passes through
 * `redact`. Keeping one registry is what makes "the password never appears in output" checkable.
 */
export const REDACTED = '********'

export class SecretRegistry {
  private readonly secrets = new Set<string>()
  /** Each secret as UTF-8, for looking at a child's output before it is decoded. */
  private readonly needles: Needle[] = []

  add(secret: string): void {
    // Very short strings would redact ordinary words; real ECR passwords are long.
    if (secret.length < 6) return
    if (!this.secrets.has(secret)) this.needles.push(new Needle(secret))
    this.secrets.add(secret)
    this.sink?.add(secret)
  }

  /** Secrets learned here become known there too (several targets, one printer). */
  shareWith(other: SecretRegistry): void {
    for (const secret of this.secrets) other.add(secret)
    this.sink = other
  }

  private sink: SecretRegistry | undefined

  /** The longest secret's length: how much unterminated output redaction must see at once. */
  longestLength(): number {
    let longest = 0
    for (const secret of this.secrets) longest = Math.max(longest, secret.length)
    return longest
  }

  redact(text: string): string {
    let result = text
    for (const secret of this.secrets) {
      if (result.includes(secret)) result = result.split(secret).join(REDACTED)
    }
    return redactCredentialHeaders(result)
  }

  /**
   * Whether `redact` could change these bytes (UTF-8) once decoded: a secret or a credential
   * header is in them. A child's output is looked at this way, and decoded only when it is.
   */
  mayChange(bytes: Buffer): boolean {
    for (const secret of this.needles) if (secret.in(bytes)) return true
    return mayNameCredentialHeaderIn(bytes)
  }
}

/**
 * `Authorization: ...` and `X-Amz-Security-Token: ...` values (also as `key=value`, JSON, or
 * JSON inside JSON with escaped quotes): an endpoint or proxy that echoes request headers in an
 * error would otherwise show the SigV4 signature and the session token, which the registry does
 * not know about when the SDK resolved them itself.
 */
const CREDENTIAL_HEADER = /(authorization|x-amz-security-token)(\\?["']?\s*[:=]\s*\\?["']?)[^"'\\\r\n]+/gi

export function redactCredentialHeaders(text: string): string {
  if (!mayNameCredentialHeader(text)) return text
  return text.replace(
    CREDENTIAL_HEADER,
    (_match, name: string, separator: string) => `${name}${separator}${REDACTED}`,
  )
}

/** Names of variables that hold credentials by convention (`MLFLOW_TRACKING_PASSWORD`, `HF_TOKEN`, ...). */
const SECRET_NAME =
  /(?:SECRET|PASSWORD|PASSWD|PASSPHRASE|TOKEN|CREDENTIAL|PRIVATE_KEY|API_?KEY|ACCESS_KEY|AUTH|SESSION|COOKIE|SIGNATURE)/i

/** A URL with a user or password in it (`https://user:token@mlflow.example.com`). */
const URL_WITH_USERINFO = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]+@/i

/**
 * Whether a `.env` entry holds a secret: by its name (the conventions above) or by its value (a
 * URL carrying credentials). Such entries never leave the machine in a source package.
 */
export function isSecretEntry(name: string, value: string): boolean {
  return SECRET_NAME.test(name) || URL_WITH_USERINFO.test(value.trim())
}

/** The credential headers' names, each with where its `z` is (the scans below start from the z's). */
const HEADER_NAMES = ['authorization', 'x-amz-security-token'].map((name) => ({
  name,
  bytes: Buffer.from(name),
  z: name.indexOf('z'),
}))

/**
 * Whether `text` holds `authorization` or `x-amz-security-token` in any case. Both names have a
 * `z`: looking at the few z's of a log is far cheaper than running the case-insensitive pattern
 * over all of it (a 500 MB build log passes through here).
 */
function mayNameCredentialHeader(text: string): boolean {
  for (const z of ['z', 'Z']) {
    for (let at = text.indexOf(z); at !== -1; at = text.indexOf(z, at + 1)) {
      for (const {name, z: offset} of HEADER_NAMES) {
        const start = at - offset
        if (start >= 0 && text.slice(start, start + name.length).toLowerCase() === name) return true
      }
    }
  }
  return false
}

/** `mayNameCredentialHeader` on UTF-8 bytes: both names are ASCII, so their bytes are their text. */
function mayNameCredentialHeaderIn(bytes: Buffer): boolean {
  for (const z of [0x7a, 0x5a]) {
    for (let at = bytes.indexOf(z); at !== -1; at = bytes.indexOf(z, at + 1)) {
      for (const header of HEADER_NAMES) if (asciiLowerEquals(bytes, at - header.z, header.bytes)) return true
    }
  }
  return false
}
