/**
 * Provenance labels: what an image says about where it came from, written at build time through
 * `bentoml containerize --opt label=K=V` and read back by `mldeploy inspect`. Pure: the inputs are
 * gathered by `src/systems/git-provenance.ts` and the bentoml store lookups. No label may carry a
 * secret: URLs lose their user info, query and fragment.
 */
export interface ProvenanceInputs {
  created: Date
  /** The project's commit; `dirty` when the target folder has uncommitted changes. */
  revision?: {sha: string; dirty: boolean}
  /** The git remote URL as configured (credentials are stripped here). */
  source?: string
  bentoTag: string
  /** The deploy target, `<model>/<version>`. */
  target: string
  /** BentoML model tags the bento packs. */
  models: string[]
  mlflow?: {runIds: string[]; modelUris: string[]}
  mldeployVersion: string
}

export const LABELS = {
  created: 'org.opencontainers.image.created',
  revision: 'org.opencontainers.image.revision',
  source: 'org.opencontainers.image.source',
  version: 'org.opencontainers.image.version',
  title: 'org.opencontainers.image.title',
  bento: 'io.mldeploy.bento',
  models: 'io.mldeploy.models',
  mlflowRunId: 'io.mldeploy.mlflow.run-id',
  mlflowModelUri: 'io.mldeploy.mlflow.model-uri',
  mldeployVersion: 'io.mldeploy.version',
} as const

/** Longest label value kept: labels are for people and tools, not payloads. */
const MAX_VALUE = 512

/**
 * A URL without what could be a secret: `https://user:token@host/x?sig=…#f` → `https://host/x`.
 * scp-like git remotes (`git@github.com:org/repo.git`) keep their user: `git` is no secret.
 */
export function stripCredentials(url: string): string {
  const trimmed = url.trim()
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(trimmed)
  if (scheme === null) {
    // scp-like `user@host:path`: only a user name can be there (no password syntax).
    return trimmed.replace(/^[^@/]*:[^@/]*@/, '')
  }
  try {
    const parsed = new URL(trimmed)
    parsed.username = ''
    parsed.password = ''
    parsed.search = ''
    parsed.hash = ''
    return parsed.toString()
  } catch {
    // Not parseable: drop anything between the scheme and an `@`, and any query.
    return trimmed.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1').replace(/[?#].*$/, '')
  }
}

/** One line, no control characters, bounded. */
function clean(value: string): string {
  return (
    value
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f]+/g, ' ')
      .trim()
      .slice(0, MAX_VALUE)
  )
}

export function provenanceLabels(inputs: ProvenanceInputs): Record<string, string> {
  const version = inputs.bentoTag.slice(inputs.bentoTag.indexOf(':') + 1)
  const labels: Record<string, string> = {
    [LABELS.created]: inputs.created.toISOString(),
  }
  if (inputs.revision !== undefined)
    labels[LABELS.revision] = `${inputs.revision.sha}${inputs.revision.dirty ? '-dirty' : ''}`
  if (inputs.source !== undefined && inputs.source.trim() !== '')
    labels[LABELS.source] = stripCredentials(inputs.source)
  labels[LABELS.version] = version
  labels[LABELS.title] = inputs.target
  labels[LABELS.bento] = inputs.bentoTag
  if (inputs.models.length > 0) labels[LABELS.models] = [...new Set(inputs.models)].join(',')
  const runIds = [...new Set(inputs.mlflow?.runIds.filter((id) => id !== '') ?? [])]
  const uris = [...new Set(inputs.mlflow?.modelUris.filter((uri) => uri !== '') ?? [])]
  if (runIds.length > 0) labels[LABELS.mlflowRunId] = runIds.join(',')
  if (uris.length > 0) labels[LABELS.mlflowModelUri] = uris.map(stripCredentials).join(',')
  labels[LABELS.mldeployVersion] = inputs.mldeployVersion
  return Object.fromEntries(Object.entries(labels).map(([key, value]) => [key, clean(value)]))
}

/** What a bento packs and serves, from `bentoml get <tag> -o json` (1.4: per-service models). */
export interface BentoInfo {
  tag: string
  models: string[]
  routes: string[]
  port?: number
  /** Issue 24: the service's APIs (what the SageMaker adapter can forward /invocations to). */
  apis?: BentoApi[]
}

/** An API of the service: its name, route, and the DataFrame field a CSV body maps to (if it has one). */
export interface BentoApi {
  name: string
  route: string
  /** The API's only input is a DataFrame: a `text/csv` body becomes `{"<field>": [records]}`. */
  csvField?: string
}

interface RouteJson {
  name?: string
  route?: string
  input?: {properties?: Record<string, {type?: unknown}>}
}

function apiOf(route: RouteJson): BentoApi | undefined {
  if (typeof route.name !== 'string' || typeof route.route !== 'string') return undefined
  const fields = Object.entries(route.input?.properties ?? {})
  const only = fields.length === 1 ? fields[0] : undefined
  return {
    name: route.name,
    route: route.route,
    ...(only !== undefined && only[1]?.type === 'dataframe' ? {csvField: only[0]} : {}),
  }
}

interface BentoJson {
  name?: string
  version?: string
  models?: Array<{tag?: string}>
  services?: Array<{models?: Array<{tag?: string}>; config?: {http?: {port?: unknown}}}>
  schema?: {routes?: RouteJson[]; paths?: Record<string, unknown>}
  apis?: Array<{route?: string; name?: string}>
}

/** The JSON document in a child's output (bentoml prints click warnings around it). */
export function jsonFromOutput(lines: readonly string[]): unknown {
  const start = lines.findIndex((line) => line.trim() === '{' || line.trim().startsWith('{"'))
  if (start === -1) throw new Error('no JSON object in the output')
  for (let end = lines.length; end > start; end--) {
    if (!lines[end - 1]!.trim().endsWith('}')) continue
    try {
      return JSON.parse(lines.slice(start, end).join('\n'))
    } catch {
      // A later `}` may close it: keep looking backwards.
    }
  }
  throw new Error('the JSON object in the output does not parse')
}

export function parseBentoInfo(json: unknown): BentoInfo {
  const bento = (json ?? {}) as BentoJson
  const tag = `${bento.name ?? ''}:${bento.version ?? ''}`
  const models = [
    ...(bento.models ?? []).map((model) => model.tag),
    ...(bento.services ?? []).flatMap((service) => (service.models ?? []).map((model) => model.tag)),
  ].filter((model): model is string => typeof model === 'string' && model !== '')
  const routes = [
    ...(bento.schema?.routes ?? []).map((route) => route.route),
    ...Object.keys(bento.schema?.paths ?? {}),
    ...(bento.apis ?? []).map((api) => api.route ?? (api.name === undefined ? undefined : `/${api.name}`)),
  ].filter((route): route is string => typeof route === 'string')
  const port = bento.services?.map((service) => service.config?.http?.port).find((p) => typeof p === 'number')
  return {
    tag,
    models: [...new Set(models)],
    routes: [...new Set(routes)],
    ...(typeof port === 'number' ? {port} : {}),
    apis: (bento.schema?.routes ?? []).map(apiOf).filter((api): api is BentoApi => api !== undefined),
  }
}

/** The MLflow origin `create_bento_model.py` recorded in the BentoML model's metadata or labels. */
export function mlflowFromModel(json: unknown): {runId?: string; modelUri?: string} {
  const model = (json ?? {}) as {metadata?: Record<string, unknown>; labels?: Record<string, unknown>}
  const pick = (...keys: string[]): string | undefined => {
    for (const source of [model.metadata ?? {}, model.labels ?? {}]) {
      for (const key of keys) {
        const value = source[key]
        if (typeof value === 'string' && value !== '') return value
      }
    }
    return undefined
  }
  const runId = pick('mlflow_run_id', 'mlflow.run_id', 'run_id')
  const modelUri = pick('mlflow_model_uri', 'mlflow.model_uri', 'model_uri')
  return {...(runId === undefined ? {} : {runId}), ...(modelUri === undefined ? {} : {modelUri})}
}

/** Labels in plain words: "model iris:3 from MLflow run 1f2e…, commit 9a8b7c6 (dirty), bento iris_v1:k3ru…". */
export function describeLabels(labels: Record<string, string>): string {
  const parts: string[] = []
  const models = labels[LABELS.models]
  const run = labels[LABELS.mlflowRunId]
  const uri = labels[LABELS.mlflowModelUri]
  if (models !== undefined) {
    const origin =
      run !== undefined ? ` from MLflow run ${short(run, 8)}` : uri !== undefined ? ` from ${uri}` : ''
    parts.push(`model ${models}${origin}`)
  } else if (run !== undefined) parts.push(`MLflow run ${short(run, 8)}`)
  const revision = labels[LABELS.revision]
  if (revision !== undefined) {
    const dirty = revision.endsWith('-dirty')
    const sha = dirty ? revision.slice(0, -'-dirty'.length) : revision
    parts.push(`commit ${sha.slice(0, 7)}${dirty ? ' (dirty)' : ''}`)
  }
  const bento = labels[LABELS.bento]
  if (bento !== undefined) parts.push(`bento ${bento}`)
  const source = labels[LABELS.source]
  if (source !== undefined) parts.push(`source ${source}`)
  return parts.length === 0 ? 'no mldeploy provenance labels' : parts.join(', ')
}

function short(value: string, length: number): string {
  return value.length > length ? `${value.slice(0, length)}…` : value
}
