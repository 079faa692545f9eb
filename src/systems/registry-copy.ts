import {RegistryError} from '../errors.js'
import {
  type BlobStream,
  bodyStream,
  declaredMediaType,
  type ImageManifest,
  MAX_MANIFEST_BYTES,
  RegistryImageSource,
} from './image-source.js'
import {MANIFEST_MEDIA_TYPES, MEDIA_TYPES} from './media-types.js'
import {call, headers, type RegistryAccess, registryError} from './registry-api.js'

/**
 * Copying an image from one registry to another through the OCI distribution API (issue 25 §2):
 * the manifest tree (an index's children first), every blob the destination lacks, streamed from
 * the source to the destination (never the whole blob in memory or on disk) and checked against
 * its digest on the way, or mounted from another repository of the same registry.
 */

/** Where a copy reads from: a registry's own API (`--registry`) or ECR's API (`ecr-image-source.ts`). */
export interface CopySource {
  manifest(reference: string, signal?: AbortSignal): Promise<ImageManifest>
  openBlob(digest: string, signal?: AbortSignal): Promise<BlobStream>
}

/** A blob an image manifest names (its config or a layer). */
export interface Descriptor {
  digest: string
  size: number
  mediaType: string
}

export interface ImageTree {
  /** Every manifest to put, children before the index that names them; the top one last. */
  manifests: ImageManifest[]
  /** Every distinct blob of every image manifest, in the order first named. */
  blobs: Descriptor[]
  /** Layers the manifests mark as not to be copied (foreign layers with `urls`): left out of `blobs`. */
  foreign: Descriptor[]
}

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.dockerList, MEDIA_TYPES.ociIndex])
const DIGEST = /^sha256:[a-f0-9]{64}$/

interface ManifestBody {
  manifests?: Array<{digest?: unknown; mediaType?: unknown}>
  config?: {digest?: unknown; size?: unknown; mediaType?: unknown}
  layers?: Array<{digest?: unknown; size?: unknown; mediaType?: unknown; urls?: unknown}>
}

function parseManifest(manifest: ImageManifest, where: string): ManifestBody {
  try {
    const parsed = JSON.parse(manifest.raw.toString('utf8')) as unknown
    if (typeof parsed === 'object' && parsed !== null) return parsed as ManifestBody
  } catch {
    // Said below.
  }
  throw new RegistryError('malformed', `The manifest ${manifest.digest} of ${where} is not JSON.`)
}

function descriptor(
  entry: {digest?: unknown; size?: unknown; mediaType?: unknown},
  where: string,
): Descriptor {
  const {digest, size, mediaType} = entry
  if (typeof digest !== 'string' || !DIGEST.test(digest) || typeof size !== 'number' || size < 0)
    throw new RegistryError(
      'malformed',
      `${where} names a blob without a sha256 digest and a size (${JSON.stringify(entry).slice(0, 200)}).`,
    )
  return {digest, size, mediaType: typeof mediaType === 'string' ? mediaType : 'application/octet-stream'}
}

/**
 * The manifest of `reference` and everything it names: an index's child manifests (read by
 * digest), and the config and layers of every image manifest.
 */
export async function readImageTree(
  source: CopySource,
  reference: string,
  where: string,
  signal?: AbortSignal,
): Promise<ImageTree> {
  const tree: ImageTree = {manifests: [], blobs: [], foreign: []}
  const seen = new Set<string>()
  const visit = async (manifest: ImageManifest, depth: number): Promise<void> => {
    const body = parseManifest(manifest, where)
    const isIndex = INDEX_TYPES.has(manifest.mediaType) || Array.isArray(body.manifests)
    if (isIndex) {
      // An index of indexes is allowed by the spec, rare in practice: two levels are plenty.
      if (depth > 2) throw new RegistryError('malformed', `${where}: indexes nested more than two deep.`)
      for (const child of body.manifests ?? []) {
        const {digest} = descriptor({size: 0, ...child}, `The index ${manifest.digest}`)
        if (tree.manifests.some((each) => each.digest === digest)) continue
        await visit(await source.manifest(digest, signal), depth + 1)
      }
    } else {
      const where = `The manifest ${manifest.digest}`
      const named: Array<Descriptor & {foreign: boolean}> = []
      if (body.config !== undefined) named.push({...descriptor(body.config, where), foreign: false})
      for (const layer of body.layers ?? [])
        named.push({
          ...descriptor(layer, where),
          foreign: Array.isArray(layer.urls) && layer.urls.length > 0,
        })
      for (const {foreign, ...blob} of named) {
        if (seen.has(blob.digest)) continue
        seen.add(blob.digest)
        ;(foreign ? tree.foreign : tree.blobs).push(blob)
      }
    }
    tree.manifests.push(manifest)
  }
  await visit(await source.manifest(reference, signal), 0)
  return tree
}

const options = (signal: AbortSignal | undefined): {signal?: AbortSignal} =>
  signal === undefined ? {} : {signal}

function base(access: RegistryAccess, repository: string): string {
  return `${access.scheme}://${access.host}/v2/${repository}`
}

/** Whether the repository holds the blob (HEAD). */
export async function blobPresent(
  access: RegistryAccess,
  repository: string,
  digest: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const doing = `Checking blob ${digest} in ${access.host}/${repository}`
  const response = await call(
    access,
    `${base(access, repository)}/blobs/${digest}`,
    {method: 'HEAD', headers: headers(access), ...options(signal)},
    doing,
  )
  if (response.status === 404) return false
  if (!response.ok) throw registryError(response.status, doing)
  return true
}

/** A blob of the repository as a stream (GET, redirects to a storage URL followed). */
export async function openRegistryBlob(
  access: RegistryAccess,
  repository: string,
  digest: string,
  signal?: AbortSignal,
): Promise<BlobStream> {
  const doing = `Reading blob ${digest} of ${access.host}/${repository}`
  const response = await call(
    access,
    `${base(access, repository)}/blobs/${digest}`,
    {headers: headers(access), ...options(signal)},
    doing,
  )
  if (!response.ok || response.body === null) {
    await response.body?.cancel().catch(() => undefined)
    throw registryError(response.status, doing)
  }
  return bodyStream(response)
}

/** A registry's own API as the source of a copy (`--registry`: Basic auth with the source's ECR token). */
export function registryCopySource(access: RegistryAccess, repository: string): CopySource {
  const manifests = new RegistryImageSource(access, repository)
  return {
    manifest: (reference, signal) => manifests.manifest(reference, signal),
    openBlob: (digest, signal) => openRegistryBlob(access, repository, digest, signal),
  }
}

/** The upload URL a registry's Location header names (often a path alone). */
function uploadUrl(access: RegistryAccess, location: string | null, doing: string): string {
  if (location === null || location === '')
    throw new RegistryError('malformed', `${doing}: the registry named no upload location.`)
  return new URL(location, `${access.scheme}://${access.host}`).toString()
}

/**
 * Ask the registry to mount `digest` from `fromRepository` (same registry only): true when it did
 * (201), else the upload it opened instead (202 with a Location), as the distribution spec says.
 */
export async function mountBlob(
  access: RegistryAccess,
  repository: string,
  digest: string,
  fromRepository: string,
  signal?: AbortSignal,
): Promise<{mounted: true} | {mounted: false; upload: string}> {
  const doing = `Mounting blob ${digest} from ${fromRepository} into ${access.host}/${repository}`
  const query = new URLSearchParams({mount: digest, from: fromRepository})
  const response = await call(
    access,
    `${base(access, repository)}/blobs/uploads/?${query.toString()}`,
    {method: 'POST', headers: headers(access, {'content-length': '0'}), ...options(signal)},
    doing,
  )
  await response.body?.cancel().catch(() => undefined)
  if (response.status === 201) return {mounted: true}
  if (response.status !== 202) throw registryError(response.status, doing)
  return {mounted: false, upload: uploadUrl(access, response.headers.get('location'), doing)}
}

/** Open an upload session (POST): its URL. */
export async function startUpload(
  access: RegistryAccess,
  repository: string,
  signal?: AbortSignal,
): Promise<string> {
  const doing = `Starting an upload to ${access.host}/${repository}`
  const response = await call(
    access,
    `${base(access, repository)}/blobs/uploads/`,
    {method: 'POST', headers: headers(access, {'content-length': '0'}), ...options(signal)},
    doing,
  )
  await response.body?.cancel().catch(() => undefined)
  if (response.status !== 202) throw registryError(response.status, doing)
  return uploadUrl(access, response.headers.get('location'), doing)
}

/** The source's stream broke, or its bytes are not the blob: the copy's source is at fault. */
export class SourceBlobError extends Error {
  override readonly name = 'SourceBlobError'
  constructor(
    readonly digest: string,
    message: string,
    readonly sourceCause?: unknown,
  ) {
    super(message)
  }
}

/**
 * Send one blob into an open upload: the bytes stream from `blob.body` through a sha256 on their
 * way (PATCH), and the upload is closed with the digest (PUT) only when they hash to it and have
 * the size the manifest says. Returns the bytes sent. A source that breaks or lies throws a
 * `SourceBlobError`; the destination's refusals are `RegistryError`s.
 */
export async function uploadBlob(
  access: RegistryAccess,
  repository: string,
  upload: string,
  expected: Descriptor,
  blob: BlobStream,
  signal?: AbortSignal,
  onBytes?: (bytes: number) => void,
): Promise<number> {
  const {createHash} = process.getBuiltinModule('node:crypto')
  const {Transform} = process.getBuiltinModule('node:stream')
  const doing = `Uploading blob ${expected.digest} to ${access.host}/${repository}`
  const hash = createHash('sha256')
  let sent = 0
  // Set when the source is at fault: its stream broke, or it sent more or fewer bytes than named.
  let sourceFault: SourceBlobError | undefined
  const fault = (message: string, cause?: unknown): SourceBlobError =>
    (sourceFault ??= new SourceBlobError(expected.digest, message, cause))
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length
      if (sent > expected.size)
        return done(
          fault(
            `Blob ${expected.digest} read from the source is longer than the ${expected.size} bytes the manifest names: nothing was committed.`,
          ),
        )
      hash.update(chunk)
      onBytes?.(chunk.length)
      done(null, chunk)
    },
    // A short body would leave the registry waiting for the bytes the Content-Length promised.
    flush(done) {
      if (sent === expected.size) return done()
      done(
        fault(
          `Blob ${expected.digest} read from the source ended after ${sent} of the ${expected.size} bytes the manifest names: nothing was committed.`,
        ),
      )
    },
  })
  blob.body.on('error', (error) => {
    counted.destroy(
      fault(
        `Reading blob ${expected.digest} broke off after ${sent} of ${expected.size} bytes (${(error as Error).message}).`,
        error,
      ),
    )
  })
  blob.body.pipe(counted)
  let patched: Response
  try {
    patched = await call(
      access,
      upload,
      {
        method: 'PATCH',
        headers: headers(access, {
          'content-type': 'application/octet-stream',
          'content-length': String(expected.size),
        }),
        body: counted,
        ...options(signal),
      },
      doing,
    )
  } catch (error) {
    if (sourceFault !== undefined && (error as Error).name !== 'AbortError') throw sourceFault
    throw error
  }
  await patched.body?.cancel().catch(() => undefined)
  if (patched.status !== 202 && patched.status !== 204) throw registryError(patched.status, doing)
  if (sourceFault !== undefined) throw sourceFault
  const actual = `sha256:${hash.digest('hex')}`
  if (actual !== expected.digest)
    throw new SourceBlobError(
      expected.digest,
      `Blob ${expected.digest} read from the source is ${sent} bytes hashing to ${actual}, not the ${expected.size} bytes the manifest names: nothing was committed.`,
    )
  const closing = new URL(uploadUrl(access, patched.headers.get('location') ?? upload, doing))
  closing.searchParams.set('digest', expected.digest)
  const put = await call(
    access,
    closing.toString(),
    {method: 'PUT', headers: headers(access, {'content-length': '0'}), ...options(signal)},
    doing,
  )
  await put.body?.cancel().catch(() => undefined)
  if (put.status !== 201) throw registryError(put.status, doing)
  return sent
}

/** Put a manifest as it is (its bytes, so its digest, unchanged) under a digest or a tag. */
export async function putManifest(
  access: RegistryAccess,
  repository: string,
  reference: string,
  manifest: ImageManifest,
  signal?: AbortSignal,
): Promise<void> {
  const doing = `Putting manifest ${manifest.digest} into ${access.host}/${repository}${reference === manifest.digest ? '' : ` as ${reference}`}`
  if (manifest.raw.length > MAX_MANIFEST_BYTES)
    throw new RegistryError('malformed', `${doing}: the manifest is too large.`)
  const mediaType =
    manifest.mediaType === 'unknown'
      ? (declaredMediaType(manifest.raw) ?? MANIFEST_MEDIA_TYPES[0]!)
      : manifest.mediaType
  const response = await call(
    access,
    `${base(access, repository)}/manifests/${reference}`,
    {
      method: 'PUT',
      headers: headers(access, {'content-type': mediaType}),
      body: manifest.raw,
      ...options(signal),
    },
    doing,
  )
  await response.body?.cancel().catch(() => undefined)
  if (response.status !== 201 && response.status !== 200) throw registryError(response.status, doing)
  const stored = response.headers.get('docker-content-digest')
  if (stored !== null && stored !== manifest.digest)
    throw new RegistryError(
      'malformed',
      `${doing}: the registry stored it as ${stored}, not ${manifest.digest} (it rewrote the manifest).`,
    )
}

/** The calls of a copy as a step describes them (placeholders for the digests and upload ids). */
export const copyCalls = {
  headBlob: (repository: string): string => `http:HEAD /v2/${repository}/blobs/<digest>`,
  getBlob: (repository: string): string => `http:GET /v2/${repository}/blobs/<digest>`,
  postUpload: (repository: string): string => `http:POST /v2/${repository}/blobs/uploads/`,
  patchUpload: (repository: string): string => `http:PATCH /v2/${repository}/blobs/uploads/<upload>`,
  putUpload: (repository: string): string => `http:PUT /v2/${repository}/blobs/uploads/<upload>`,
  putManifest: (repository: string): string => `http:PUT /v2/${repository}/manifests/<digest>`,
}
