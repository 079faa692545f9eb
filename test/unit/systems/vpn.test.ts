import {createServer, type Server} from 'node:net'
import type {AddressInfo} from 'node:net'

import {afterEach, describe, expect, it} from 'vitest'

import {Ledger, withLedger} from '../../../src/pipeline/ledger.js'
import {
  checkVpn,
  formatHostPort,
  hostPortFromTrackingUri,
  parseHostPort,
  probeTcp,
  vpnCall,
} from '../../../src/systems/vpn.js'

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
