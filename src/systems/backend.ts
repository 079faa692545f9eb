import path from 'node:path'

/**
 * The container backend (docker or podman): the commands mldeploy runs with it and how their
 * output reads. Logins go to a private auth location per run (REGISTRY_AUTH_FILE for podman,
 * DOCKER_CONFIG for docker) unless the user asks to keep the login.
 */
export const BACKENDS = ['podman', 'docker'] as const
export type Backend = (typeof BACKENDS)[number]

export function isBackend(value: string): value is Backend {
  return (BACKENDS as readonly string[]).includes(value)
}

export function loginArgs(registry: string): string[] {
  return ['login', '--username', 'AWS', '--password-stdin', registry]
}

export function pushArgs(
  backend: Backend,
  image: string,
  digestFile: string | undefined,
  format: 'docker' | 'oci' = 'docker',
): string[] {
  // podman writes the digest of what it pushed; docker prints it ("<tag>: digest: sha256:... size: N").
  if (backend === 'docker') return ['push', image]
  // BentoML's podman backend builds OCI (BUILDAH_FORMAT=oci); podman converts on the way out, one
  // upload of the same gzip layers, and --digestfile names the converted manifest (checked against
  // the registry's own sha256 of what it serves for the tag, test/e2e/images.test.ts).
  // A remote podman (podman --remote, 4.3) has no --digestfile: then the registry says (issue 13).
  const digest = digestFile === undefined ? [] : ['--digestfile', digestFile]
  return ['push', '--format', format === 'docker' ? 'v2s2' : 'oci', ...digest, image]
}

/** Environment that points the backend at this run's private credentials. */
export function authEnv(backend: Backend, authDir: string): Record<string, string> {
  return backend === 'podman'
    ? {REGISTRY_AUTH_FILE: path.join(authDir, 'auth.json')}
    : {DOCKER_CONFIG: authDir}
}

const DOCKER_DIGEST = /\bdigest:\s*(sha256:[a-f0-9]{64})\b/

export function digestFromPushLine(line: string): string | undefined {
  return DOCKER_DIGEST.exec(line)?.[1]
}

export function isDigest(value: string): boolean {
  return /^sha256:[a-f0-9]{64}$/.test(value)
}

// --- reuse and push-only roles (issue 12) ---

/** Local images carrying `label=value`, newest first, one ID per line (podman and docker alike). */
export function imagesByLabelArgs(label: string, value: string, format = '{{.ID}}'): string[] {
  return ['images', '--filter', `label=${label}=${value}`, '--format', format]
}

/** Give a local image another name (podman and docker alike). */
export function tagArgs(source: string, target: string): string[] {
  return ['tag', source, target]
}

/**
 * Push an image that is already in the registry under another tag: only the manifest travels (the
 * blobs are there). podman pushes SOURCE to DESTINATION directly; docker needs a local tag first
 * (see `tagArgs`), then pushes that name.
 */
export function pushAsArgs(
  backend: Backend,
  source: string,
  destination: string,
  format: 'docker' | 'oci' = 'docker',
): string[] {
  if (backend === 'docker') return ['push', destination]
  return ['push', '--format', format === 'docker' ? 'v2s2' : 'oci', source, destination]
}

/** The first image ID in `images --format {{.ID}}` output. */
export function firstImageId(lines: readonly string[]): string | undefined {
  return lines.map((line) => line.trim()).find((line) => /^[a-f0-9]{12,64}$/.test(line))
}

// --- push progress (issue 12 §3) ---

/** Layers of one push: how many the backend named, how many are done, how many the registry had. */
export interface LayerCounts {
  done: number
  total: number
  /** Of `done`, the layers the registry already had (nothing uploaded). */
  existing: number
}

type LayerState = 'started' | 'done' | 'existing'

// podman: "Copying blob sha256:<digest>" when a copy starts (not at a terminal, which is how
// mldeploy runs it: no line says when it ends); at a terminal "Copying blob <12 hex> done" or
// "... skipped: already exists". Real lines in test/fixtures/push/.
const PODMAN_BLOB = /^Copying blob (?:sha256:)?([a-f0-9]{12,64})\b(.*)$/
const PODMAN_END = /^(?:Copying config |Writing manifest to image destination)/
// docker: "<12 hex>: Preparing|Waiting|Pushing|Pushed|Layer already exists|Mounted from <repo>".
const DOCKER_LAYER =
  /^([a-f0-9]{12}): (Preparing|Waiting|Pushing|Pushed|Layer already exists|Mounted from .*|Retrying in .*)$/

/**
 * Counts layers from a push's output, line by line. podman (not at a terminal) names each layer
 * as its copy starts and says nothing when it ends, so its layers count as done when the config
 * is copied (after every layer); docker says each layer's end.
 */
export class LayerProgress {
  private readonly layers = new Map<string, LayerState>()

  /** Reads one line of the push's output; true when the counts changed. */
  read(line: string): boolean {
    const text = line.trim()
    const podman = PODMAN_BLOB.exec(text)
    if (podman !== null) {
      const rest = podman[2]!
      return this.set(
        podman[1]!.slice(0, 12),
        /skipped: already exists/.test(rest) ? 'existing' : /\bdone\b/.test(rest) ? 'done' : 'started',
      )
    }
    const docker = DOCKER_LAYER.exec(text)
    if (docker !== null) {
      const status = docker[2]!
      return this.set(
        docker[1]!,
        status === 'Pushed'
          ? 'done'
          : status === 'Layer already exists' || status.startsWith('Mounted from')
            ? 'existing'
            : 'started',
      )
    }
    if (PODMAN_END.test(text) || digestFromPushLine(text) !== undefined) {
      let changed = false
      for (const [id, state] of this.layers)
        if (state === 'started') {
          this.layers.set(id, 'done')
          changed = true
        }
      return changed
    }
    return false
  }

  get counts(): LayerCounts {
    const states = [...this.layers.values()]
    const existing = states.filter((state) => state === 'existing').length
    return {
      done: existing + states.filter((state) => state === 'done').length,
      total: states.length,
      existing,
    }
  }

  private set(id: string, state: LayerState): boolean {
    const before = this.layers.get(id)
    // A layer that ended stays ended (docker may print "Pushing" progress after the fact).
    if (before === state || (before !== undefined && before !== 'started')) return false
    this.layers.set(id, state)
    return true
  }
}
