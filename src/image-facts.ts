import {MEDIA_TYPES} from './systems/media-types.js'

/**
 * What an image is, read from its manifest and config (no pull): the facts the deploy-target rules
 * and `mldeploy inspect` work from. Pure: parsing only.
 */
export type ManifestKind = 'docker-v2' | 'oci-manifest' | 'oci-index' | 'docker-list' | 'unknown'

export interface IndexEntry {
  digest: string
  mediaType: string
  platform: string | null
  /** BuildKit's provenance/SBOM manifests (`vnd.docker.reference.type: attestation-manifest`). */
  attestation: boolean
}

export interface ImageFacts {
  mediaType: string
  kind: ManifestKind
  /** Set for an image manifest; null for an index (an index has no single platform). */
  os: string | null
  architecture: string | null
  variant: string | null
  layers: number
  /** Compressed: the sum of the layer sizes and the config, as the registry stores them. */
  totalSizeBytes: number
  labels: Record<string, string>
  exposedPorts: string[]
  env: Record<string, string>
  entrypoint: string[] | null
  cmd: string[] | null
  user: string | null
  /** For an index: the manifests it lists. */
  manifests: IndexEntry[] | null
}

export function manifestKind(mediaType: string): ManifestKind {
  switch (mediaType) {
    case MEDIA_TYPES.dockerManifest:
      return 'docker-v2'
    case MEDIA_TYPES.ociManifest:
      return 'oci-manifest'
    case MEDIA_TYPES.ociIndex:
      return 'oci-index'
    case MEDIA_TYPES.dockerList:
      return 'docker-list'
    default:
      return 'unknown'
  }
}

export function isIndex(kind: ManifestKind): boolean {
  return kind === 'oci-index' || kind === 'docker-list'
}

interface Descriptor {
  mediaType?: string
  digest?: string
  size?: number
  platform?: {os?: string; architecture?: string; variant?: string}
  annotations?: Record<string, string>
}

export interface ParsedManifest {
  mediaType?: string
  config?: Descriptor
  layers?: Descriptor[]
  manifests?: Descriptor[]
}

export function parseManifest(raw: Buffer | string): ParsedManifest {
  const parsed = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8')) as unknown
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error('the manifest is not a JSON object')
  return parsed as ParsedManifest
}

/** The config blob's digest, for an image manifest (not an index). */
export function configDigest(manifest: ParsedManifest): string | undefined {
  return manifest.config?.digest
}

function platformText(platform: Descriptor['platform']): string | null {
  if (platform?.os === undefined || platform.architecture === undefined) return null
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/')
}

function strings(value: unknown): string[] | null {
  return Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : null
}

function envMap(value: unknown): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of strings(value) ?? []) {
    const index = line.indexOf('=')
    if (index > 0) env[line.slice(0, index)] = line.slice(index + 1)
  }
  return env
}

/**
 * Facts from a manifest and, for an image manifest, its config blob. An index is reported as such,
 * with its manifests; `config` is then ignored.
 */
export function imageFacts(
  mediaType: string,
  manifestRaw: Buffer | string,
  configRaw?: Buffer | string,
): ImageFacts {
  const manifest = parseManifest(manifestRaw)
  const type = mediaType === 'unknown' ? (manifest.mediaType ?? mediaType) : mediaType
  const kind = manifestKind(type)
  const empty = {labels: {}, exposedPorts: [], env: {}, entrypoint: null, cmd: null, user: null}
  if (isIndex(kind)) {
    const manifests = (manifest.manifests ?? []).map((entry) => ({
      digest: entry.digest ?? '',
      mediaType: entry.mediaType ?? 'unknown',
      platform: platformText(entry.platform),
      attestation: entry.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest',
    }))
    return {
      mediaType: type,
      kind,
      os: null,
      architecture: null,
      variant: null,
      layers: 0,
      totalSizeBytes: (manifest.manifests ?? []).reduce((sum, entry) => sum + (entry.size ?? 0), 0),
      ...empty,
      manifests,
    }
  }
  const layers = manifest.layers ?? []
  const totalSizeBytes = layers.reduce((sum, layer) => sum + (layer.size ?? 0), manifest.config?.size ?? 0)
  const config = configRaw === undefined ? {} : (JSON.parse(configRaw.toString()) as Record<string, unknown>)
  const runtime = (config.config ?? {}) as Record<string, unknown>
  const labels = Object.fromEntries(
    Object.entries((runtime.Labels ?? {}) as Record<string, unknown>).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string',
    ),
  )
  const user = typeof runtime.User === 'string' && runtime.User !== '' ? runtime.User : null
  return {
    mediaType: type,
    kind,
    os: typeof config.os === 'string' ? config.os : null,
    architecture: typeof config.architecture === 'string' ? config.architecture : null,
    variant: typeof config.variant === 'string' ? config.variant : null,
    layers: layers.length,
    totalSizeBytes,
    labels,
    exposedPorts: Object.keys((runtime.ExposedPorts ?? {}) as Record<string, unknown>).sort(),
    env: envMap(runtime.Env),
    entrypoint: strings(runtime.Entrypoint),
    cmd: strings(runtime.Cmd),
    user,
    manifests: null,
  }
}

/** `linux/amd64`, or null when the config did not say. */
export function platformOf(facts: ImageFacts): string | null {
  if (facts.os === null || facts.architecture === null) return null
  return [facts.os, facts.architecture, facts.variant].filter(Boolean).join('/')
}
