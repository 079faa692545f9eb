import {RegistryError} from '../errors.js'
import {recordAction} from '../ledger.js'
import {discardBody, httpFetch, type HttpRequest} from './http.js'
import {MANIFEST_MEDIA_TYPES, MEDIA_TYPES} from './media-types.js'

/**
 * The OCI distribution API (what podman and docker speak to ECR and any registry), for the few
 * reads and writes mldeploy makes itself when it pushes to a registry other than ECR's API
 * endpoint (`--registry`): tag without upload, and verify what a tag points at.
 */
export interface RegistryAccess {
  /** `http` or `https`. */
  scheme: string
  host: string
  username: string
  password: string
}

/** An explicit scheme wins; loopback registries are plain http (as docker assumes), others https. */
export function registryScheme(value: string): string {
  const explicit = /^(https?):\/\//i.exec(value)?.[1]
  if (explicit !== undefined) return explicit.toLowerCase()
  return /^(?:localhost|127\.\d+\.\d+\.\d+|\[::1\])(?::\d+)?$/.test(value) ? 'http' : 'https'
}

export function headers(access: RegistryAccess, extra: Record<string, string> = {}): Record<string, string> {
  const basic = Buffer.from(`${access.username}:${access.password}`).toString('base64')
  return {authorization: `Basic ${basic}`, ...extra}
}

function url(access: RegistryAccess, repository: string, reference: string): string {
  return `${access.scheme}://${access.host}/v2/${repository}/manifests/${reference}`
}

/**
 * The calls as a step describes them: the reference is a placeholder, since a step describes its
 * calls before it knows every digest (the ledger records the path as sent).
 */
export const registryCalls = {
  headManifest: (repository: string): string => `http:HEAD /v2/${repository}/manifests/<reference>`,
  getManifest: (repository: string): string => `http:GET /v2/${repository}/manifests/<reference>`,
  putManifest: (repository: string): string => `http:PUT /v2/${repository}/manifests/<reference>`,
}

/** One HTTP call (`http.ts`), recorded in the ledger, with a network failure turned into a clear error. */
export async function call(
  access: RegistryAccess,
  target: string,
  init: HttpRequest,
  doing: string,
): Promise<Response> {
  const {pathname} = new URL(target)
  recordAction({kind: 'http', call: `http:${init.method ?? 'GET'} ${pathname}`})
  try {
    return await httpFetch(target, init)
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error
    const {code = '', message} = error as {code?: string; message?: string}
    throw new RegistryError(
      'unreachable',
      `${doing} failed: the registry at ${access.scheme}://${access.host} could not be reached (${networkCause(code, message ?? String(error))}).`,
      {hint: 'Check --registry (host, port, http/https) and that the registry is up.'},
    )
  }
}

/** The digest a tag points at, or undefined when the tag does not exist. */
export async function manifestDigest(
  access: RegistryAccess,
  repository: string,
  reference: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const doing = `Reading ${repository}:${reference}`
  const response = await call(
    access,
    url(access, repository, reference),
    {
      method: 'HEAD',
      headers: headers(access, {accept: MANIFEST_MEDIA_TYPES.join(', ')}),
      ...(signal === undefined ? {} : {signal}),
    },
    doing,
  )
  if (response.status === 404) return undefined
  if (!response.ok)
    throw await answerError(response, `Reading ${repository}:${reference} from ${access.host}`)
  return response.headers.get('docker-content-digest') ?? undefined
}

/** Put the manifest of `digest` under `tag`: a new tag for the same image, nothing uploaded. */
export async function retagManifest(
  access: RegistryAccess,
  repository: string,
  digest: string,
  tag: string,
  signal?: AbortSignal,
  known?: KnownManifest,
): Promise<void> {
  const options = signal === undefined ? {} : {signal}
  const doing = `Tagging ${repository}@${digest} as ${tag}`
  // Issue 23: the check step read this very manifest (its bytes hash to the digest): not again.
  if (known !== undefined && known.digest === digest) {
    await putManifest(access, repository, digest, tag, known.mediaType, known.raw, options, doing)
    return
  }
  const got = await call(
    access,
    url(access, repository, digest),
    {headers: headers(access, {accept: MANIFEST_MEDIA_TYPES.join(', ')}), ...options},
    doing,
  )
  if (!got.ok)
    throw await answerError(got, `Reading the manifest of ${repository}@${digest} from ${access.host}`)
  const mediaType = got.headers.get('content-type') ?? MEDIA_TYPES.ociManifest
  const body = Buffer.from(await got.arrayBuffer())
  await putManifest(access, repository, digest, tag, mediaType, body, options, doing)
}

/** A manifest already read, by its digest: what the tag step puts under each tag. */
export interface KnownManifest {
  digest: string
  mediaType: string
  raw: Buffer
}

async function putManifest(
  access: RegistryAccess,
  repository: string,
  digest: string,
  tag: string,
  mediaType: string,
  body: Buffer,
  options: {signal?: AbortSignal},
  doing: string,
): Promise<void> {
  const put = await call(
    access,
    url(access, repository, tag),
    {method: 'PUT', headers: headers(access, {'content-type': mediaType}), body, ...options},
    doing,
  )
  if (!put.ok) throw await answerError(put, `Tagging ${repository}@${digest} as ${tag} on ${access.host}`)
  await discardBody(put)
}

/** A registry's refusal as an error; its body, an error document nobody reads, is cancelled. */
export async function answerError(response: Response, doing: string): Promise<RegistryError> {
  await discardBody(response)
  return registryError(response.status, doing)
}

export function registryError(status: number, doing: string): RegistryError {
  if (status === 404) return new RegistryError('not-found', `${doing}: not found (HTTP 404).`)
  if (status === 401)
    return new RegistryError(
      'login-refused',
      `${doing} failed: the registry refused the credentials (HTTP 401).`,
    )
  if (status === 403)
    return new RegistryError('denied', `${doing} failed: the registry denied the request (HTTP 403).`)
  return new RegistryError(status >= 500 ? 'transient' : 'failed', `${doing} failed: HTTP ${status}.`)
}

/** Node's network error codes in words: which of DNS, TCP, TLS or time failed. */
export function networkCause(code: string, message: string): string {
  if (code === 'ECONNREFUSED') return 'connection refused: nothing listens on that port'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `DNS: the host name does not resolve, ${code}`
  if (code === 'ETIMEDOUT') return `timed out connecting, ${code}`
  if (code === 'ECONNRESET') return `the connection was cut, ${code}`
  if (/CERT|SELF_SIGNED|UNABLE_TO_(?:VERIFY|GET_ISSUER)/.test(code))
    return `TLS: the certificate is not accepted, ${code}`
  if (/EPROTO|ERR_SSL|wrong version number/i.test(`${code} ${message}`))
    return `TLS: no TLS handshake, ${code || message} (an http:// registry?)`
  return code || message
}
