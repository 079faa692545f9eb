import {CheckError, errorMessage, usageError} from '../errors.js'
import {recordAction} from '../ledger.js'
import {httpFetch} from './http.js'

export interface HostPort {
  host: string
  port: number
  /**
   * An MLflow tracking URI without its credentials, query or fragment: then the check asks MLflow's
   * API (a proxy accepts any TCP connection, only MLflow answers as MLflow).
   */
  mlflow?: string
}

export function formatHostPort({host, port}: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** `host:port` or `[v6]:port`, as given to --vpn-check. */
export function parseHostPort(value: string, origin: string): HostPort {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)):(\d{1,5})$/.exec(
    value.trim(),
  )
  const port = Number(match?.[3])
  const host = match?.[1] ?? match?.[2]
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw usageError(
      // A URL's user:password@ is never shown.
      `${origin} ${JSON.stringify(value.replace(/\/\/[^/@\s]*@/, '//').slice(0, 80))} is not host:port.`,
      'Use e.g. mlflow.internal.example.com:443 or 10.0.0.5:5000.',
    )
  }
  return {host, port}
}

/** The host and port of an http(s) MLflow tracking URI; other schemes (file:, sqlite:) need no network. */
export function hostPortFromTrackingUri(uri: string): HostPort | undefined {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return undefined
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
  return {host: url.hostname.replace(/^\[|\]$/g, ''), port}
}

/**
 * What --vpn-check / MLDEPLOY_VPN_CHECK / the tracking URI name: an http(s) URL is an MLflow
 * server whose API must answer, `host:port` a TCP connect.
 */
export function parseVpnCheck(value: string, origin: string): HostPort {
  return mlflowCheck(value.trim()) ?? parseHostPort(value, origin)
}

/** An http(s) tracking URI as an MLflow check (its credentials dropped: they are the import's). */
export function mlflowCheck(uri: string): HostPort | undefined {
  const hostPort = hostPortFromTrackingUri(uri)
  if (hostPort === undefined) return undefined
  const url = new URL(uri)
  url.username = ''
  url.password = ''
  url.search = ''
  url.hash = ''
  return {...hostPort, mlflow: url.href.replace(/\/+$/, '')}
}

/** How the check names its target: the MLflow URL, else host:port. */
export function formatVpnCheck(target: HostPort): string {
  return target.mlflow ?? formatHostPort(target)
}

/** A TCP connect with a timeout: resolves on success, rejects with a short reason. */
export function probeTcp(target: HostPort, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  recordAction({kind: 'tcp', call: vpnCall(target)})
  return new Promise((resolve, reject) => {
    // node:net (and what it loads) on first use, not with every command's start-up.
    const socket = process.getBuiltinModule('node:net').connect({host: target.host, port: target.port})
    const finish = (error?: Error): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.destroy()
      if (error === undefined) resolve()
      else reject(error)
    }
    const onAbort = (): void => finish(new Error('interrupted'))
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs)
    signal?.addEventListener('abort', onAbort, {once: true})
    socket.once('connect', () => finish())
    socket.once('error', (error: NodeJS.ErrnoException) => finish(new Error(error.code ?? error.message)))
  })
}

/** Asked of MLflow: a read every tracking server serves (one experiment at most, Default being one). */
export const MLFLOW_PROBE_PATH = '/api/2.0/mlflow/experiments/search?max_results=1'

/** The call the ledger records for a probe of `target`. */
export const vpnCall = (target: HostPort): string =>
  target.mlflow === undefined
    ? `tcp:${formatHostPort(target)}`
    : `http:GET ${target.mlflow}${MLFLOW_PROBE_PATH}`

/** Enough of an answer to tell MLflow's JSON from a proxy's page. */
const MLFLOW_BODY_LIMIT = 64 * 1024

/** What an HTTP answer says about who answered. */
export type MlflowVerdict =
  | {mlflow: true; asksForCredentials: boolean}
  | {mlflow: false; proxyAuth: boolean; status: number; contentType: string; start: string}

/**
 * Whether an answer to MLFLOW_PROBE_PATH is MLflow's: its JSON (`experiments`, or `{}` when there
 * is none; an `error_code` on a failure), or its auth app's 401 (`WWW-Authenticate`) or 403
 * ("Permission denied"). A proxy's HTML page, a 407, a bare "OK" (MLflow's /health says that too,
 * but so could anything) are not.
 */
export function judgeMlflowAnswer(status: number, headers: Headers, body: string): MlflowVerdict {
  const contentType = headers.get('content-type') ?? ''
  const json = parseJsonObject(body)
  if (json !== undefined) {
    if (typeof json.error_code === 'string')
      return {mlflow: true, asksForCredentials: status === 401 || status === 403}
    const experiments = json.experiments
    if (status >= 200 && status < 300 && (Array.isArray(experiments) || Object.keys(json).length === 0))
      return {mlflow: true, asksForCredentials: false}
  }
  if (status === 401 && headers.has('www-authenticate')) return {mlflow: true, asksForCredentials: true}
  if (status === 403 && body.trim() === 'Permission denied') return {mlflow: true, asksForCredentials: true}
  const start = body.replace(/\s+/g, ' ').trim().slice(0, 100)
  return {mlflow: false, proxyAuth: status === 407, status, contentType, start}
}

function parseJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(body) as unknown
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/** Node's codes for a certificate it does not trust: what an HTTPS-intercepting proxy shows. */
const UNTRUSTED_CERTIFICATE =
  /^(?:DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(?:_LOCALLY)?|CERT_HAS_EXPIRED|CERT_UNTRUSTED|ERR_TLS_CERT_ALTNAME_INVALID)$/

/**
 * GET MLFLOW_PROBE_PATH of the MLflow at `target.mlflow` within `timeoutMs` (connection, answer
 * and the start of its body): the verdict, or a rejection with a short reason (a network code, "no
 * answer within 3 s") carrying `code` when Node gave one.
 */
export async function probeMlflow(
  target: HostPort,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<MlflowVerdict> {
  recordAction({kind: 'http', call: vpnCall(target)})
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(), timeoutMs)
  const both = signal === undefined ? deadline.signal : AbortSignal.any([signal, deadline.signal])
  try {
    const response = await httpFetch(`${target.mlflow}${MLFLOW_PROBE_PATH}`, {
      headers: {accept: 'application/json'},
      signal: both,
    })
    const body = await readStart(response, MLFLOW_BODY_LIMIT)
    return judgeMlflowAnswer(response.status, response.headers, body)
  } catch (error) {
    if (deadline.signal.aborted) throw new Error(`no answer within ${timeoutMs / 1000} s`)
    if (signal?.aborted) throw new Error('interrupted')
    const code = (error as NodeJS.ErrnoException).code
    throw Object.assign(new Error(code ?? errorMessage(error)), code === undefined ? {} : {code})
  } finally {
    clearTimeout(timer)
  }
}

/** The first `limit` bytes of a body as text; the rest is not read. */
async function readStart(response: Response, limit: number): Promise<string> {
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < limit) {
      const {done, value} = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } finally {
    await reader.cancel().catch(() => undefined)
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8')
}

/**
 * The VPN check of the preflight and of doctor: a TCP connect to a host that answers only on the
 * VPN, or for an MLflow URL, MLflow's API answering as MLflow. A silent or refusing host, or one
 * that answers as something else (a proxy), is a check failure that names it and where it came from.
 */
export async function checkVpn(
  target: HostPort,
  source: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string> {
  if (target.mlflow !== undefined) return checkMlflow(target, target.mlflow, source, timeoutMs, signal)
  const shown = formatHostPort(target)
  try {
    await probeTcp(target, timeoutMs, signal)
  } catch (error) {
    throw new CheckError(
      'vpn-off',
      `The VPN looks off: ${shown} did not answer (${errorMessage(error)}; from ${source}).`,
      {
        hint: 'Turn on the VPN that reaches MLflow, or fix the check target, or pass --skip-vpn-check.',
      },
    )
  }
  return `${shown} (from ${source}) answered`
}

async function checkMlflow(
  target: HostPort,
  shown: string,
  source: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<string> {
  let verdict: MlflowVerdict
  try {
    verdict = await probeMlflow(target, timeoutMs, signal)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== undefined && UNTRUSTED_CERTIFICATE.test(code))
      throw new CheckError(
        'not-mlflow',
        `The VPN looks off: MLflow at ${shown} answered with a TLS certificate this machine does not trust (${code}; from ${source}).`,
        {
          hint: 'A proxy that intercepts HTTPS shows its own certificate: turn on the VPN. If MLflow uses an internal CA, point NODE_EXTRA_CA_CERTS at it, or check only the port with --vpn-check host:port.',
        },
      )
    throw new CheckError(
      'vpn-off',
      `The VPN looks off: MLflow at ${shown} did not answer (${errorMessage(error)}; from ${source}).`,
      {hint: 'Turn on the VPN that reaches MLflow, or fix MLFLOW_TRACKING_URI, or pass --skip-vpn-check.'},
    )
  }
  if (!verdict.mlflow) {
    const what = `HTTP ${verdict.status}${verdict.contentType === '' ? '' : ` ${verdict.contentType}`}${verdict.start === '' ? '' : `: ${JSON.stringify(verdict.start)}`}`
    throw new CheckError(
      'not-mlflow',
      verdict.proxyAuth
        ? `The VPN looks off: a proxy answered for MLflow at ${shown} and asks for its own login (${what}; from ${source}).`
        : `The VPN looks off: something that is not MLflow answered for ${shown} (${what}; from ${source}).`,
      {
        hint: 'A proxy or captive portal answers for that host: turn on the VPN that reaches MLflow, fix MLFLOW_TRACKING_URI, or pass --skip-vpn-check.',
      },
    )
  }
  return verdict.asksForCredentials
    ? `MLflow at ${shown} (from ${source}) answered and asks for credentials (the import's business: MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN)`
    : `MLflow at ${shown} (from ${source}) answered`
}
