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

export function pushArgs(backend: Backend, image: string, digestFile: string): string[] {
  // podman writes the digest of what it pushed; docker prints it ("<tag>: digest: sha256:... size: N").
  return backend === 'podman' ? ['push', '--digestfile', digestFile, image] : ['push', image]
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
