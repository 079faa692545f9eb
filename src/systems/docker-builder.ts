import {runChild} from '../process.js'
import {SecretRegistry} from '../secrets.js'

/**
 * Whether the docker at hand builds with BuildKit (buildx) or the classic builder. BentoML's docker
 * backend sets DOCKER_BUILDKIT=1 unless the environment says otherwise (its own ENV is laid under
 * the caller's), and `docker build` with BuildKit needs the buildx plugin.
 */
export type DockerBuilder = 'buildx' | 'classic'

export function dockerBuilder(env: Record<string, string | undefined>, buildxWorks: boolean): DockerBuilder {
  if (env.DOCKER_BUILDKIT === '0') return 'classic'
  return buildxWorks ? 'buildx' : 'classic'
}

/** `docker buildx version`: exit 0 when the buildx plugin is there (Debian's docker.io has none). */
export function buildxVersionArgs(): string[] {
  return ['buildx', 'version']
}

/**
 * Which builder `bentoml containerize --backend docker` will use: classic with DOCKER_BUILDKIT=0 or
 * without a working buildx, else buildx (then provenance/SBOM go off, see `containerizeOptions`).
 * For the preflight: `checkBackendFormat` turns classic + oci into bad input.
 */
export async function probeDockerBuilder(env: Record<string, string>, cwd: string): Promise<DockerBuilder> {
  if (env.DOCKER_BUILDKIT === '0') return 'classic'
  const result = await runChild({
    command: 'docker',
    args: buildxVersionArgs(),
    cwd,
    baseEnv: env,
    secrets: new SecretRegistry(),
    timeoutMs: 15_000,
  })
  return dockerBuilder(env, result.exitCode === 0)
}
