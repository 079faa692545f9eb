import {readFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {Ledger, withLedger} from '../../../src/ledger.js'
import {
  checkVpn,
  formatHostPort,
  formatVpnCheck,
  hostPortFromTrackingUri,
  judgeMlflowAnswer,
  MLFLOW_PROBE_PATH,
  mlflowCheck,
  parseHostPort,
  parseVpnCheck,
  probeMlflow,
  probeTcp,
  vpnCall,
} from '../../../src/systems/vpn.js'
import {PROXY_PAGE, startMlflowStandIn, startSilentServer} from '../../helpers/mlflow-stand-in.js'
import type {StandIn} from '../../helpers/stand-in.js'

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/mlflow')

let server: Server | undefined
afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())))
  server = undefined
})

async function listen(onConnect: (socket: import('node:net').Socket) => void = (socket) => socket.end()) {
  server = createServer(onConnect)
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const {port} = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

describe('host:port values', () => {
  it('parses host:port and [v6]:port, trimming spaces', () => {
    expect(parseHostPort(' mlflow.internal:443 ', 'VPN check')).toEqual({host: 'mlflow.internal', port: 443})
    expect(parseHostPort('[fd00::1]:5000', 'VPN check')).toEqual({host: 'fd00::1', port: 5000})
    expect(parseHostPort('a:1', 'VPN check')).toEqual({host: 'a', port: 1})
    expect(parseHostPort('10.0.0.5:65535', 'VPN check')).toEqual({host: '10.0.0.5', port: 65535})
  })

  it.each([
    'mlflow.internal',
    'host:0',
    'host:65536',
    'host:123456',
    ':443',
    'ho st:1',
    '-host:1',
    'host-:1',
    'fd00::1:80',
  ])('refuses %j as bad input', (value) => {
    expect(() => parseHostPort(value, 'VPN check (from env X)')).toThrow(
      `VPN check (from env X) ${JSON.stringify(value)} is not host:port.`,
    )
  })

  it('a refusal shows what a valid value looks like, and at most 80 characters of the bad one', () => {
    let refused: unknown
    try {
      parseHostPort(`${'x'.repeat(100)}`, 'VPN check')
    } catch (error) {
      refused = error
    }
    expect(refused).toMatchObject({
      message: `VPN check "${'x'.repeat(80)}" is not host:port.`,
      hint: 'Use e.g. mlflow.internal.example.com:443 or 10.0.0.5:5000.',
    })
  })

  it('formats IPv6 hosts in brackets', () => {
    expect(formatHostPort({host: 'fd00::1', port: 80})).toBe('[fd00::1]:80')
    expect(formatHostPort({host: 'h', port: 80})).toBe('h:80')
    expect(vpnCall({host: 'h', port: 1})).toBe('tcp:h:1')
  })

  it('takes the host and port of an http(s) tracking URI, the default port by scheme', () => {
    expect(hostPortFromTrackingUri('https://mlflow.internal/')).toEqual({host: 'mlflow.internal', port: 443})
    expect(hostPortFromTrackingUri('http://mlflow.internal')).toEqual({host: 'mlflow.internal', port: 80})
    expect(hostPortFromTrackingUri('http://10.0.0.5:5000/x')).toEqual({host: '10.0.0.5', port: 5000})
    expect(hostPortFromTrackingUri('http://[fd00::1]:5000')).toEqual({host: 'fd00::1', port: 5000})
    expect(hostPortFromTrackingUri('file:///tmp/mlruns')).toBeUndefined()
    expect(hostPortFromTrackingUri('sqlite:///mlflow.db')).toBeUndefined()
    expect(hostPortFromTrackingUri('not a url')).toBeUndefined()
  })
})

describe('the TCP probe', () => {
  it('resolves when the port answers, and is recorded as what ran', async () => {
    const port = await listen()
    const ledger = new Ledger()
    await withLedger(ledger, () => probeTcp({host: '127.0.0.1', port}, 2000))
    expect(ledger.entries).toEqual([{kind: 'tcp', call: `tcp:127.0.0.1:${port}`}])
  })

  it('rejects with the error code when nothing listens', async () => {
    const port = await freePort()
    await expect(probeTcp({host: '127.0.0.1', port}, 2000)).rejects.toThrow('ECONNREFUSED')
  })

  it('rejects on an interrupt, without waiting for the connect', async () => {
    const port = await listen()
    const controller = new AbortController()
    const probe = probeTcp({host: '127.0.0.1', port}, 5000, controller.signal)
    controller.abort('SIGINT')
    await expect(probe).rejects.toThrow('interrupted')
  })

  it('checkVpn: names the target and where it came from, both ways', async () => {
    const port = await listen()
    await expect(checkVpn({host: '127.0.0.1', port}, 'flag --vpn-check', 2000)).resolves.toBe(
      `127.0.0.1:${port} (from flag --vpn-check) answered`,
    )
    const closed = await freePort()
    const error = await checkVpn({host: '127.0.0.1', port: closed}, 'env MLFLOW_TRACKING_URI', 2000).catch(
      (caught: unknown) => caught,
    )
    expect(error).toMatchObject({
      domain: 'check',
      reason: 'vpn-off',
      message: `The VPN looks off: 127.0.0.1:${closed} did not answer (ECONNREFUSED; from env MLFLOW_TRACKING_URI).`,
    })
    expect((error as {hint: string}).hint).toContain('--skip-vpn-check')
  })
})

describe('an MLflow tracking URI: MLflow itself must answer', () => {
  let standIn: {url: string; close(): Promise<void>} | undefined
  afterEach(async () => {
    await standIn?.close()
    standIn = undefined
  })

  const check = (url: string, timeoutMs = 2000) =>
    checkVpn(mlflowCheck(url)!, 'env MLFLOW_TRACKING_URI', timeoutMs)
  const failure = (url: string, timeoutMs = 2000) => check(url, timeoutMs).catch((caught: unknown) => caught)

  it('an http(s) URL is an MLflow check without its credentials; host:port stays TCP', () => {
    expect(parseVpnCheck('https://alice:s3cret@mlflow.internal/team/?x=1#y', 'VPN check')).toEqual({
      host: 'mlflow.internal',
      port: 443,
      mlflow: 'https://mlflow.internal/team',
    })
    expect(parseVpnCheck('http://10.0.0.5:5000', 'VPN check')).toEqual({
      host: '10.0.0.5',
      port: 5000,
      mlflow: 'http://10.0.0.5:5000',
    })
    expect(parseVpnCheck('mlflow.internal:443', 'VPN check')).toEqual({host: 'mlflow.internal', port: 443})
    const target = parseVpnCheck('https://alice:s3cret@mlflow.internal', 'x')
    expect(formatVpnCheck(target)).toBe('https://mlflow.internal')
    expect(vpnCall(target)).toBe(`http:GET https://mlflow.internal${MLFLOW_PROBE_PATH}`)
    // A URL that is not one: its password is not shown either.
    expect(() => parseVpnCheck('https://alice:s3cret@mlflow.internal:99999', 'VPN check')).toThrow(
      'VPN check "https://mlflow.internal:99999" is not host:port.',
    )
  })

  it("MLflow's answer passes, the request recorded as what ran (no credentials sent or shown)", async () => {
    standIn = await startMlflowStandIn('mlflow')
    const withPassword = standIn.url.replace('http://', 'http://alice:s3cret@')
    const ledger = new Ledger()
    const answered = await withLedger(ledger, () => check(`${withPassword}/`))
    expect(answered).toBe(`MLflow at ${standIn.url} (from env MLFLOW_TRACKING_URI) answered`)
    expect(ledger.entries).toEqual([{kind: 'http', call: `http:GET ${standIn.url}${MLFLOW_PROBE_PATH}`}])
    expect((standIn as StandIn).requests[0]?.authorization).toBeUndefined()
  })

  it("MLflow's basic-auth app (401 with WWW-Authenticate) is MLflow: credentials are the import's business", async () => {
    standIn = await startMlflowStandIn('mlflow-auth')
    expect(await check(standIn.url)).toBe(
      `MLflow at ${standIn.url} (from env MLFLOW_TRACKING_URI) answered and asks for credentials (the import's business: MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN)`,
    )
  })

  it.each([
    [
      'proxy-page' as const,
      `something that is not MLflow answered for URL (HTTP 200 text/html: ${JSON.stringify(PROXY_PAGE.replace(/\s+/g, ' ').slice(0, 100))})`,
    ],
    [
      'plain-ok' as const,
      'something that is not MLflow answered for URL (HTTP 200 text/plain; charset=utf-8: "OK")',
    ],
    [
      'proxy-auth' as const,
      'a proxy answered for MLflow at URL and asks for its own login (HTTP 407 text/html: "<html><body>Proxy Authentication Required</body></html>")',
    ],
  ])('%s: not MLflow, said with what answered', async (kind, said) => {
    standIn = await startMlflowStandIn(kind)
    const error = await failure(standIn.url)
    expect(error).toMatchObject({
      domain: 'check',
      reason: 'not-mlflow',
      message:
        `The VPN looks off: ${said.replace('URL', standIn.url)}; from env MLFLOW_TRACKING_URI).`.replace(
          '); from',
          '; from',
        ),
    })
    expect((error as {hint: string}).hint).toMatch(/proxy or captive portal.*--skip-vpn-check/)
  })

  it('a silent server fails within the VPN timeout; a refused port at once', async () => {
    standIn = await startSilentServer()
    const started = performance.now()
    expect(await failure(standIn.url, 300)).toMatchObject({
      reason: 'vpn-off',
      message: `The VPN looks off: MLflow at ${standIn.url} did not answer (no answer within 0.3 s; from env MLFLOW_TRACKING_URI).`,
    })
    expect(performance.now() - started).toBeLessThan(2000)
    const closed = await freePort()
    expect(await failure(`http://127.0.0.1:${closed}`)).toMatchObject({
      reason: 'vpn-off',
      message: `The VPN looks off: MLflow at http://127.0.0.1:${closed} did not answer (ECONNREFUSED; from env MLFLOW_TRACKING_URI).`,
    })
  })

  it('an interrupt stops the request', async () => {
    standIn = await startSilentServer()
    const controller = new AbortController()
    const probe = probeMlflow(mlflowCheck(standIn.url)!, 5000, controller.signal)
    controller.abort('SIGINT')
    await expect(probe).rejects.toThrow('interrupted')
  })

  it('judges answers by their shape: MLflow JSON, its errors, its auth app; nothing else', () => {
    const json = new Headers({'content-type': 'application/json'})
    const html = new Headers({'content-type': 'text/html'})
    expect(judgeMlflowAnswer(200, json, '{}')).toEqual({mlflow: true, asksForCredentials: false})
    expect(
      judgeMlflowAnswer(404, json, readFileSync(path.join(FIXTURES, 'get-by-name-missing.json'), 'utf8')),
    ).toEqual({
      mlflow: true,
      asksForCredentials: false,
    })
    expect(judgeMlflowAnswer(403, json, '{"error_code": "PERMISSION_DENIED"}')).toEqual({
      mlflow: true,
      asksForCredentials: true,
    })
    expect(judgeMlflowAnswer(403, html, 'Permission denied')).toEqual({
      mlflow: true,
      asksForCredentials: true,
    })
    // JSON that is not MLflow's, a 401 without WWW-Authenticate, a 200 array, a 500 page.
    for (const [status, body] of [
      [200, '{"status": "ok"}'],
      [401, 'Unauthorized'],
      [200, '[]'],
      [502, '<h1>Bad Gateway</h1>'],
    ] as const)
      expect(judgeMlflowAnswer(status, html, body)).toMatchObject({mlflow: false, status})
    expect(judgeMlflowAnswer(500, json, '{"experiments": []}')).toMatchObject({mlflow: false})
  })
})
