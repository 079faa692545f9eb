import type {Hash} from 'node:crypto'

/**
 * SHA-256, with node:crypto loaded on first use: loaded with the modules that hash, it cost every
 * command 5 to 15 ms of start-up.
 */
export function sha256(): Hash {
  return process.getBuiltinModule('node:crypto').createHash('sha256')
}

export function sha256Hex(data: string | Buffer): string {
  return sha256().update(data).digest('hex')
}

/** `sha256:<hex>`: what a registry calls a manifest or a blob. */
export function sha256Digest(bytes: Buffer): string {
  return `sha256:${sha256Hex(bytes)}`
}
