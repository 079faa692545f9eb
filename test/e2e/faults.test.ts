import {readFileSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import path from 'node:path'

import {afterEach, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {REPO_ROOT, runCli, tempDir} from '../helpers/cli.js'
import {forward, listenOnLoopback} from '../helpers/fault-proxy.js'
import {type Registry, registryTags} from './registry.js'

// Network faults between podman and the real registry: a proxy on loopback in front of it that
// forwards the login but breaks the blob transfers (connection reset), for a while or for good.
const stack = inject('stackEnv')
const registry: Registry = {host: stack.MLDEPLOY_REGISTRY!, password: stack.MLDEPLOY_REGISTRY_PASSWORD!}
const EXAMPLE = path.join(REPO_ROOT, 'examples/project')
const RUN = Date.now().toString(36)

interface FaultyProxy {
  host: string
  resets: number
  close(): Promise<void>
}

/** Forward to the registry, except blob requests, whose connections are reset while `broken()`. */
async function faultyProxy(broken: () => boolean): Promise<FaultyProxy> {
  const [targetHost, targetPort] = registry.host.split(':')
  const state = {resets: 0}
  const server: Server = createServer((incoming, outgoing) => {
    if (incoming.url?.includes('/blobs/') && broken()) {
      state.resets++
      incoming.socket.destroy()
      return
    }
    incoming.pipe(forward(incoming, outgoing, targetHost!, targetPort!))
  })
  const port = await listenOnLoopback(server)
  return {
    host: `127.0.0.1:${port}`,
    get resets() {
      return state.resets
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

/** The stack's environment, pushing through the proxy (which podman must treat as plain http). */
function envThrough(proxy: FaultyProxy): Record<string, string> {
  const conf = path.join(tempDir('registries'), 'registries.conf')
  writeFileSync(
    conf,
    `${readFileSync(stack.CONTAINERS_REGISTRIES_CONF!, 'utf8')}\n[[registry]]\nlocation = "${proxy.host}"\ninsecure = true\n`,
  )
  const base = Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  )
  return {...base, ...stack, MLDEPLOY_REGISTRY: proxy.host, CONTAINERS_REGISTRIES_CONF: conf}
}

let proxy: FaultyProxy | undefined
afterEach(async () => {
  await proxy?.close()
  proxy = undefined
})

describe('network faults during the push, against the real registry', () => {
  it('a registry that resets every upload: the push fails after its retries with a clear error, and says what was pushed', async () => {
    const repository = `iris-${RUN}/reset`
    await createRepository(stack.AWS_ENDPOINT_URL!, repository)
    proxy = await faultyProxy(() => true)
    const result = await runCli(['push', 'iris/V1', '--repository', repository, '--json'], {
      cwd: EXAMPLE,
      env: envThrough(proxy),
    })
    const json = JSON.parse(result.stdout)
    expect(result.exitCode).toBe(8)
    expect(json.error.message).toMatch(/failed: The connection to 127\.0\.0\.1:\d+ was cut \(/)
    expect(
      json.steps.map((step: {id: string; status: string}) => `${step.id}:${step.status}`).slice(-4),
    ).toEqual(['push:failed', 'check:skipped', 'tag:skipped', 'verify:skipped'])
    expect(json.pushed).toEqual([])
    expect(result.stderr).toContain('Trying again in 1 s (attempt 2 of 3)')
    expect(proxy.resets).toBeGreaterThan(0)
    expect(await registryTags(registry, repository)).toEqual([])
  })

  it('a registry that resets uploads for 2.5 s: the push gets through (retries: 1 s, then 2 s)', async () => {
    const repository = `iris-${RUN}/flaky`
    await createRepository(stack.AWS_ENDPOINT_URL!, repository)
    let firstReset: number | undefined
    proxy = await faultyProxy(() => {
      firstReset ??= Date.now()
      return Date.now() - firstReset < 2500
    })
    const result = await runCli(['push', 'iris/V1', '--repository', repository, '--json'], {
      cwd: EXAMPLE,
      env: envThrough(proxy),
    })
    const json = JSON.parse(result.stdout)
    expect(json.error).toBeUndefined()
    expect(result.exitCode).toBe(0)
    expect(proxy.resets).toBeGreaterThan(0)
    const version = json.bentoTag.split(':')[1]
    // Issue 12: the content tag too.
    expect(await registryTags(registry, repository)).toEqual([version, 'latest', json.contentTag].sort())
  })
})
