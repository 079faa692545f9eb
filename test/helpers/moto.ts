import {existsSync} from 'node:fs'
import {createServer} from 'node:net'
import path from 'node:path'

import {execa, type ResultPromise} from 'execa'

/** moto's ECR password for its fixed account: GetAuthorizationToken returns base64("AWS:" + this). */
export const MOTO_ACCOUNT = '123456789012'
export const MOTO_PASSWORD = `${MOTO_ACCOUNT}-auth-token`

export function cacheDir(): string {
  return process.env.MLDEPLOY_CACHE ?? path.resolve(import.meta.dirname, '../../.cache')
}

/** moto_server from the project's venv (made by scripts/setup-system.sh), else from PATH. */
export function motoServerBinary(): string {
  const fromVenv = path.join(cacheDir(), 'venv/bin/moto_server')
  return existsSync(fromVenv) ? fromVenv : 'moto_server'
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

export interface Moto {
  url: string
  stop(): Promise<void>
}

/** Start moto on loopback and wait until it answers; stop it by its pid. */
export async function startMoto(env: Record<string, string> = {}): Promise<Moto> {
  const port = await freePort()
  const child: ResultPromise = execa(motoServerBinary(), ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
    reject: false,
    env,
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited early (${motoServerBinary()})`)
    try {
      const response = await fetch(`${url}/moto-api/`)
      if (response.ok || response.status === 404) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('moto_server did not start within 30 s')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM')
      await child
    },
  }
}

/** Clear moto's state between tests. */
export async function resetMoto(url: string): Promise<void> {
  await fetch(`${url}/moto-api/reset`, {method: 'POST'})
}
