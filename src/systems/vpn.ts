import {CheckError, errorMessage, usageError} from '../errors.js'
import {recordAction} from '../pipeline/ledger.js'

export interface HostPort {
  host: string
  port: number
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
      `${origin} ${JSON.stringify(value.slice(0, 80))} is not host:port.`,
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

/** The call the ledger records for a probe of `target`. */
export const vpnCall = (target: HostPort): string => `tcp:${formatHostPort(target)}`

/**
 * The VPN check of the preflight and of doctor: a TCP connect to a host that answers only on the
 * VPN. A silent or refusing host is a check failure that names it and where it came from.
 */
export async function checkVpn(
  target: HostPort,
  source: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string> {
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
