import type {Readable} from 'node:stream'

import {RegistryError} from '../errors.js'
import {sha256Digest} from '../sha256.js'
import {discardBody} from './http.js'
import {MANIFEST_MEDIA_TYPES} from './media-types.js'
import {answerError, call, headers, manifestDigest, type RegistryAccess} from './registry-api.js'

/**
 * Reading what was pushed without pulling it: the manifest of a tag or digest, and a blob (the
 * image config: labels, platform, ports, entrypoint). Two implementations: a registry's own API
 * (`--registry`, this file) and ECR's API (`ecr-image-source.ts`).
 */
export interface ImageManifest {
  mediaType: string
  /** sha256 of `raw`: what the registry calls the image (or the index). */
  digest: string
  raw: Buffer
}

/** A blob being read: its bytes as a stream (never held whole), and the size the source declared. */
export interface BlobStream {
  body: Readable
  size: number | undefined
}

/** A fetch Response's body as a node stream, with its declared length. */
export function bodyStream(response: Response): BlobStream {
  const {Readable} = process.getBuiltinModule('node:stream')
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  return {
    body: Readable.fromWeb(response.body as Parameters<typeof Readable.fromWeb>[0]),
    size: Number.isFinite(declared) ? declared : undefined,
  }
}

export interface ImageSource {
  /** A tag or a `sha256:` digest. Throws `RegistryError('not-found')` / `AwsError('not-found')` when absent. */
  manifest(reference: string, signal?: AbortSignal): Promise<ImageManifest>
  /** A blob by digest, checked against its digest. */
  blob(digest: string, signal?: AbortSignal): Promise<Buffer>
}

/** Manifests are small (the OCI spec suggests registries cap them at 4 MB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
/** An image config is a few KB; a label-stuffed one stays far below this. */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024

/** The manifest's own mediaType field (a Docker schema 2 manifest always has one; OCI should). */
export function declaredMediaType(raw: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(raw.toString('utf8')) as {mediaType?: unknown}
    return typeof parsed.mediaType === 'string' ? parsed.mediaType : undefined
  } catch {
    return undefined
  }
}

/** The body, refused past `max` bytes without reading the rest. */
export async function readCapped(response: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (Number.isFinite(declared) && declared > max) {
    await discardBody(response)
    throw new RegistryError('malformed', `${what} is ${declared} bytes, more than the ${max} allowed.`)
  }
  const chunks: Buffer[] = []
  let size = 0
  if (response.body === null) return Buffer.alloc(0)
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength
    if (size > max) {
      await discardBody(response)
      throw new RegistryError('malformed', `${what} is more than the ${max} bytes allowed.`)
    }
    chunks.push(Buffer.from(chunk))
  }
  return Buffer.concat(chunks)
}

/** A registry's own API (OCI distribution), Basic auth with the ECR login token as password. */
export class RegistryImageSource implements ImageSource {
  constructor(
    private readonly access: RegistryAccess,
    readonly repository: string,
  ) {}

  private base(): string {
    return `${this.access.scheme}://${this.access.host}/v2/${this.repository}`
  }

  async manifest(reference: string, signal?: AbortSignal): Promise<ImageManifest> {
    const doing = `Reading the manifest of ${this.repository}:${reference} from ${this.access.host}`
    const response = await call(
      this.access,
      `${this.base()}/manifests/${reference}`,
      {
        headers: headers(this.access, {accept: MANIFEST_MEDIA_TYPES.join(', ')}),
        ...(signal === undefined ? {} : {signal}),
      },
      doing,
    )
    if (!response.ok) throw await answerError(response, doing)
    const raw = await readCapped(
      response,
      MAX_MANIFEST_BYTES,
      `The manifest of ${this.repository}:${reference}`,
    )
    const digest = sha256Digest(raw)
    const served = response.headers.get('docker-content-digest')
    if (served !== null && served !== digest)
      throw new RegistryError(
        'malformed',
        `${doing}: the registry says ${served}, the bytes hash to ${digest}.`,
      )
    if (reference.startsWith('sha256:') && reference !== digest)
      throw new RegistryError('malformed', `${doing}: the bytes hash to ${digest}.`)
    // The body's own field wins over a content-type a proxy may have rewritten.
    const mediaType =
      declaredMediaType(raw) ?? response.headers.get('content-type')?.split(';')[0]?.trim() ?? 'unknown'
    return {mediaType, digest, raw}
  }

  async blob(digest: string, signal?: AbortSignal): Promise<Buffer> {
    const doing = `Reading blob ${digest} of ${this.repository} from ${this.access.host}`
    // fetch drops the authorization header when a registry redirects to another origin (S3).
    const response = await call(
      this.access,
      `${this.base()}/blobs/${digest}`,
      {headers: headers(this.access), ...(signal === undefined ? {} : {signal})},
      doing,
    )
    if (!response.ok) throw await answerError(response, doing)
    const bytes = await readCapped(response, MAX_CONFIG_BYTES, `Blob ${digest}`)
    if (sha256Digest(bytes) !== digest)
      throw new RegistryError('malformed', `${doing}: the bytes do not hash to the digest.`)
    return bytes
  }
}

/** The tags of a repository that point at `digest` (tags/list, then one manifest HEAD per tag, at most 100). */
export async function registryTagsOf(
  access: RegistryAccess,
  repository: string,
  digest: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const doing = `Listing the tags of ${repository} on ${access.host}`
  const response = await call(
    access,
    `${access.scheme}://${access.host}/v2/${repository}/tags/list?n=100`,
    {headers: headers(access), ...(signal === undefined ? {} : {signal})},
    doing,
  )
  if (!response.ok) throw await answerError(response, doing)
  const body = JSON.parse((await readCapped(response, MAX_MANIFEST_BYTES, doing)).toString('utf8')) as {
    tags?: string[] | null
  }
  const found: string[] = []
  for (const tag of (body.tags ?? []).slice(0, 100)) {
    if ((await manifestDigest(access, repository, tag, signal)) === digest) found.push(tag)
  }
  return found.sort()
}
