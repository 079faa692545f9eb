import {CheckError} from '../errors.js'
import {type ChildResult, runChild} from '../process.js'
import {SecretRegistry} from '../secrets.js'
import type {Backend} from './backend.js'
import {lastMeaningfulLine} from './child.js'

/**
 * A remote container engine (issue 13): which engine the backend CLI and bentoml containerize talk
 * to. Every backend child of a run gets the same addressing — global flags for the commands
 * mldeploy runs itself (`docker --host URL …`, `podman --remote --url URL …`), and the matching
 * variables for bentoml containerize, which starts the backend CLI itself without global flags
 * (it runs `<backend> build …` with its own environment laid under the caller's: DOCKER_HOST and
 * CONTAINER_HOST reach the CLI it starts).
 */
/** The remote forms of --builder (config/builder.ts's `Builder` without local and codebuild). */
export type EngineBuilder =
  | {kind: 'docker-host' | 'podman-url'; url: string}
  | {kind: 'docker-context' | 'podman-connection'; name: string}
export type NamedEngine = Extract<EngineBuilder, {name: string}>

const REMOTE_KINDS: ReadonlySet<string> = new Set([
  'docker-host',
  'docker-context',
  'podman-url',
  'podman-connection',
])

export interface Engine {
  backend: Backend
  /** `unix:///…`, `tcp://host:port`, `ssh://user@host…` */
  url: string
  /** How the user named it: `docker-context:build` or `docker-host:tcp://…` */
  builder: string
  /** podman over ssh: the key of the connection (`--identity`). */
  identity?: string
  /** docker context with TLS: the folder holding ca.pem, cert.pem, key.pem. */
  tlsDir?: string
  /** docker context with TLS but no verification of the server. */
  skipTlsVerify?: boolean
}

export function isRemoteEngine<B extends {kind: string}>(builder: B): builder is B & EngineBuilder {
  return REMOTE_KINDS.has(builder.kind)
}

/** `docker-context:build`, as config/builder.ts's describeBuilder names it. */
function describeBuilder(builder: EngineBuilder): string {
  return `${builder.kind}:${'url' in builder ? builder.url : builder.name}`
}

const backendOf = (builder: EngineBuilder): Backend =>
  builder.kind.startsWith('docker') ? 'docker' : 'podman'

/** The engine when the builder names its URL; undefined when a context/connection must be resolved. */
export function engineOfBuilder(builder: EngineBuilder): Engine | undefined {
  if (!('url' in builder)) return undefined
  return {backend: backendOf(builder), url: builder.url, builder: describeBuilder(builder)}
}

/** What the commands show before a context/connection is resolved (the preflight resolves it). */
export function unresolvedEngine(builder: EngineBuilder): Engine {
  return (
    engineOfBuilder(builder) ?? {
      backend: backendOf(builder),
      url: `<endpoint-of-${describeBuilder(builder)}>`,
      builder: describeBuilder(builder),
    }
  )
}

/** Global flags that point the backend CLI at the engine; they go before the subcommand. */
export function engineArgs(engine: Engine): string[] {
  if (engine.backend === 'podman')
    return ['--remote', '--url', engine.url, ...(engine.identity ? ['--identity', engine.identity] : [])]
  const tls =
    engine.tlsDir === undefined
      ? []
      : [
          engine.skipTlsVerify ? '--tls' : '--tlsverify',
          '--tlscacert',
          `${engine.tlsDir}/ca.pem`,
          '--tlscert',
          `${engine.tlsDir}/cert.pem`,
          '--tlskey',
          `${engine.tlsDir}/key.pem`,
        ]
  return ['--host', engine.url, ...tls]
}

/** The same addressing as variables, for children that start the backend CLI themselves (bentoml). */
export function engineEnv(engine: Engine): Record<string, string> {
  if (engine.backend === 'podman')
    return {CONTAINER_HOST: engine.url, ...(engine.identity ? {CONTAINER_SSHKEY: engine.identity} : {})}
  return {
    DOCKER_HOST: engine.url,
    ...(engine.tlsDir === undefined
      ? {}
      : {DOCKER_CERT_PATH: engine.tlsDir, ...(engine.skipTlsVerify ? {} : {DOCKER_TLS_VERIFY: '1'})}),
  }
}

// --- resolving a docker context or podman connection ---

/**
 * The read-only command that turns a context or connection name into its endpoint. It must run
 * with the user's own configuration: a docker context lives in DOCKER_CONFIG, which the login and
 * push later replace with a private folder (where the context is not found).
 */
export function resolveArgs(builder: NamedEngine): string[] {
  return builder.kind === 'docker-context'
    ? ['context', 'inspect', builder.name, '--format', '{{json .}}']
    : ['system', 'connection', 'list', '--format', 'json']
}

function unresolvable(builder: NamedEngine, why: string): CheckError {
  const list = builder.kind === 'docker-context' ? 'docker context ls' : 'podman system connection list'
  return new CheckError('engine', `Builder ${describeBuilder(builder)}: ${why}`, {
    hint: `Check the name (${list}), or give the engine's URL with --builder ${builder.kind === 'docker-context' ? 'docker-host' : 'podman-url'}:<url>.`,
  })
}

/** The engine named by `resolveArgs`' output; a clear error when there is no such context/connection. */
export function parseResolved(builder: NamedEngine, result: ChildResult): Engine {
  const text = result.tail.join('\n')
  const named = describeBuilder(builder)
  if (result.exitCode !== 0)
    throw unresolvable(builder, `it could not be resolved (${lastMeaningfulLine(result.tail)}).`)
  try {
    if (builder.kind === 'docker-context') {
      const context = JSON.parse(text) as {
        Endpoints?: {docker?: {Host?: string; SkipTLSVerify?: boolean}}
        TLSMaterial?: {docker?: string[]}
        Storage?: {TLSPath?: string}
      }
      const host = context.Endpoints?.docker?.Host
      if (!host) throw unresolvable(builder, 'the context has no docker endpoint.')
      const tls = (context.TLSMaterial?.docker ?? []).length > 0 && context.Storage?.TLSPath
      return {
        backend: 'docker',
        url: host,
        builder: named,
        ...(tls ? {tlsDir: `${context.Storage!.TLSPath}/docker`} : {}),
        ...(context.Endpoints?.docker?.SkipTLSVerify ? {skipTlsVerify: true} : {}),
      }
    }
    const connections = JSON.parse(text) as Array<{Name?: string; URI?: string; Identity?: string}>
    const found = connections.find((connection) => connection.Name === builder.name)
    if (found?.URI === undefined || found.URI === '')
      throw unresolvable(builder, `no podman connection named ${builder.name}.`)
    return {
      backend: 'podman',
      url: found.URI,
      builder: named,
      ...(found.Identity ? {identity: found.Identity} : {}),
    }
  } catch (error) {
    if (error instanceof CheckError) throw error
    throw unresolvable(builder, `its description could not be read (${(error as Error).message}).`)
  }
}

export interface EngineContext {
  /** The user's environment (their DOCKER_CONFIG / containers.conf, not the private auth folder). */
  env: Record<string, string>
  cwd: string
  signal?: AbortSignal
  secrets?: SecretRegistry
}

/** The builder's engine: its URL as given, or the endpoint its context/connection names now. */
export async function resolveEngine(builder: EngineBuilder, context: EngineContext): Promise<Engine> {
  const known = engineOfBuilder(builder)
  if (known !== undefined) return known
  const named = builder as NamedEngine
  const result = await runChild({
    command: named.kind === 'docker-context' ? 'docker' : 'podman',
    args: resolveArgs(named),
    cwd: context.cwd,
    baseEnv: context.env,
    secrets: context.secrets ?? new SecretRegistry(),
    ...(context.signal === undefined ? {} : {signal: context.signal}),
    timeoutMs: 15_000,
    tailLines: 400,
  })
  if (result.spawnErrorCode !== undefined)
    throw unresolvable(
      named,
      `${named.kind === 'docker-context' ? 'docker' : 'podman'} could not be started (${result.spawnErrorCode}).`,
    )
  return parseResolved(named, result)
}

// --- does the engine answer? (the push preflight and doctor share this) ---

/** `version` asking for the server's version only: it needs the engine to answer. */
export function probeArgs(engine: Engine): string[] {
  return [...engineArgs(engine), 'version', '--format', '{{.Server.Version}}']
}

/** Names the builder, its endpoint (and the context it came from) in every message. */
export function describeEngine(engine: Engine): string {
  return engine.builder.endsWith(engine.url) ? engine.builder : `${engine.builder} → ${engine.url}`
}

/** The server's version, or a one-line error naming the builder and the endpoint that did not answer. */
export async function probeEngine(engine: Engine, context: EngineContext): Promise<string> {
  const result = await runChild({
    command: engine.backend,
    args: probeArgs(engine),
    cwd: context.cwd,
    baseEnv: context.env,
    secrets: context.secrets ?? new SecretRegistry(),
    ...(context.signal === undefined ? {} : {signal: context.signal}),
    timeoutMs: 20_000,
  })
  return judgeProbe(engine, result)
}

export function judgeProbe(engine: Engine, result: ChildResult): string {
  const version = result.tail.at(-1)?.trim() ?? ''
  if (result.exitCode === 0 && /^\d+\.\d+/.test(version))
    return `${engine.backend} ${version} at ${describeEngine(engine)}`
  const why = result.timedOut
    ? 'no answer within 20 s'
    : result.spawnErrorCode !== undefined
      ? `${engine.backend} could not be started (${result.spawnErrorCode})`
      : lastMeaningfulLine(result.tail)
  throw new CheckError(
    'engine',
    `Builder ${engine.builder}: the ${engine.backend} engine at ${engine.url} does not answer (${why}).`,
    {
      hint:
        engine.backend === 'docker'
          ? 'Start that engine or fix the builder; check it with: docker --host <url> version.'
          : 'Start the service there (podman system service) or fix the builder; check it with: podman --remote --url <url> version.',
    },
  )
}
