import {spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {execa} from 'execa'

import {REPO_ROOT} from './cli.js'

/**
 * "Remote" container engines on this machine (issue 13): a second dockerd and a `podman system
 * service`, each on its own unix socket with its own storage, so a push through them leaves the
 * stack's own engines untouched. They live under /tmp (a unix socket path is limited to 108
 * bytes) and `stop` removes everything: the process (by its pid), its mounts and its folder.
 */
export interface RemoteEngine {
  url: string
  dir: string
  /** The engine's log, for a failure message. */
  log(): string
  stop(): Promise<void>
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, log: () => string, seconds = 90) {
  for (let i = 0; i < seconds * 4; i++) {
    if (await check()) return
    await sleep(250)
  }
  throw new Error(`${what} did not answer within ${seconds} s:\n${log().slice(-2000)}`)
}

/** Overlay mounts an engine left under its folder (a killed engine does not unmount). */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)
  for (const point of mounts) await execa('umount', ['-l', point], {reject: false})
}

function startDaemon(dir: string, command: string, args: string[], env: Record<string, string>): number {
  const out = openSync(path.join(dir, 'engine.log'), 'a')
  const child = spawn(command, args, {env, stdio: ['ignore', out, out], detached: true})
  child.unref()
  if (child.pid === undefined) throw new Error(`${command} could not be started`)
  writeFileSync(path.join(dir, 'engine.pid'), String(child.pid))
  return child.pid
}

async function stopDaemon(pid: number, dir: string): Promise<void> {
  if (alive(pid)) {
    process.kill(pid, 'SIGTERM')
    for (let i = 0; i < 120 && alive(pid); i++) await sleep(250)
    if (alive(pid)) process.kill(pid, 'SIGKILL')
  }
  await unmountUnder(dir)
  // Not rmSync: a build leaves ~1.5 GB of small files, and a blocked event loop would stop the
  // other engine's stop from running beside this one.
  await rm(dir, {recursive: true, force: true})
}

/** The stack's dockerd bridge, shared (its upper half) so builds in the second engine reach PyPI. */
async function stackBridge(env: Record<string, string>): Promise<string[]> {
  const inspect = await execa(
    'docker',
    [
      'network',
      'inspect',
      'bridge',
      '--format',
      '{{(index .IPAM.Config 0).Subnet}} {{index .Options "com.docker.network.bridge.name"}}',
    ],
    {env, reject: false},
  )
  const [subnet, bridge] = inspect.stdout.trim().split(' ')
  const match = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet ?? '')
  if (inspect.exitCode !== 0 || match === null || !bridge) return ['--bridge=none']
  // The stack's dockerd owns the NAT rules for the whole /24: this one takes addresses from .128 up.
  return ['--bridge', bridge, '--fixed-cidr', `${match[1]}.128/25`]
}

/**
 * A second Docker engine (as scripts/stack.sh starts the private one: its own config file, data
 * root, exec root and pidfile, no iptables), with the base image pulled into it from the stack's
 * registry, as a real engine gets its base image. That also tells it the registry already holds
 * the base layer, so its push of a build mounts that ~0.5 GB layer instead of compressing it on
 * one core and uploading it again (the layers the build made are still uploaded).
 */
export async function startDockerd(stackEnv: Record<string, string>): Promise<RemoteEngine> {
  const dir = mkdtempSync('/tmp/mld-dockerd-')
  // Beside the engine's start; a failure is the seed's (below).
  const pushed = pushBaseImage(stackEnv, dir)
  pushed.catch(() => undefined)
  const socket = path.join(dir, 'docker.sock')
  const url = `unix://${socket}`
  mkdirSync(path.join(dir, 'data'))
  mkdirSync(path.join(dir, 'exec'))
  writeFileSync(path.join(dir, 'daemon.json'), '{}')
  const driver = (
    await execa('docker', ['info', '--format', '{{.Driver}}'], {env: stackEnv, reject: false})
  ).stdout.trim()
  const log = () => readFileSync(path.join(dir, 'engine.log'), 'utf8')
  const pid = startDaemon(
    dir,
    'dockerd',
    [
      '--config-file',
      path.join(dir, 'daemon.json'),
      '--storage-driver',
      driver === 'overlay2' ? 'overlay2' : 'vfs',
      '--iptables=false',
      '--ip6tables=false',
      ...(await stackBridge(stackEnv)),
      '--data-root',
      path.join(dir, 'data'),
      '--exec-root',
      path.join(dir, 'exec'),
      '--pidfile',
      path.join(dir, 'dockerd.pid'),
      '-H',
      url,
    ],
    {...stackEnv, DOCKER_HOST: url},
  )
  return ready(
    {url, dir, log, stop: () => stopDaemon(pid, dir)},
    'the second dockerd',
    async () => (await execa('docker', ['-H', url, 'version'], {reject: false})).exitCode === 0,
    async () => {
      const reference = await pushed
      const env = {...stackEnv, DOCKER_HOST: url, DOCKER_CONFIG: path.join(dir, 'client')}
      if (reference === undefined) return importBaseImage('docker-import', env)
      await execa('docker', ['login', '-u', 'AWS', '--password-stdin', stackEnv.MLDEPLOY_REGISTRY!], {
        env,
        input: stackEnv.MLDEPLOY_REGISTRY_PASSWORD,
      })
      await execa('docker', ['pull', '--quiet', reference], {env})
      await execa('docker', ['tag', reference, baseImage(stackEnv)], {env})
    },
  )
}

const baseImage = (stackEnv: Record<string, string>): string =>
  stackEnv.MLDEPLOY_BASE_IMAGE ?? 'localhost/mldeploy-base:bookworm'

/**
 * The base image in the stack's registry, pushed from the local podman (where setup-system.sh
 * put it; a layer the registry has already is not sent again). Undefined when that podman does
 * not hold it: the engine imports the tarball then.
 */
async function pushBaseImage(stackEnv: Record<string, string>, dir: string): Promise<string | undefined> {
  const base = baseImage(stackEnv)
  if ((await execa('podman', ['image', 'exists', base], {env: stackEnv, reject: false})).exitCode !== 0)
    return undefined
  const registry = stackEnv.MLDEPLOY_REGISTRY!
  const reference = `${registry}/remote-engines/${base.split('/').at(-1)}`
  const authfile = path.join(dir, 'base-auth.json')
  await execa('podman', ['login', '--authfile', authfile, '-u', 'AWS', '--password-stdin', registry], {
    env: stackEnv,
    input: stackEnv.MLDEPLOY_REGISTRY_PASSWORD,
  })
  // Docker's manifest format, as docker itself would have pushed it.
  await execa('podman', ['push', '--quiet', '--authfile', authfile, '--format', 'v2s2', base, reference], {
    env: stackEnv,
  })
  return reference
}

/**
 * `podman system service` on its own socket and storage. The base image is not copied in: the
 * local podman's store is a read-only additional image store of the service (what it builds and
 * tags still lands in its own store), which saves an import of ~0.5 GB on every start.
 */
export async function startPodmanService(
  stackEnv: Record<string, string>,
  options: {baseImage?: boolean} = {},
): Promise<RemoteEngine> {
  const dir = mkdtempSync('/tmp/mld-podman-')
  const url = `unix://${path.join(dir, 'podman.sock')}`
  const log = () => readFileSync(path.join(dir, 'engine.log'), 'utf8')
  const driver = stackEnv.STORAGE_DRIVER === 'overlay' ? 'overlay' : 'vfs'
  const shared = options.baseImage === false ? undefined : await localImageStore(stackEnv)
  writeFileSync(
    path.join(dir, 'storage.conf'),
    [
      '[storage]',
      `driver = "${driver}"`,
      `graphroot = "${path.join(dir, 'root')}"`,
      `runroot = "${path.join(dir, 'run')}"`,
      ...(shared ? ['[storage.options]', `additionalimagestores = ["${shared}"]`] : []),
      '',
    ].join('\n'),
  )
  // The service builds and pushes: it needs the stack's registries.conf (the plain-http registry)
  // and chroot isolation, as the local podman does here.
  const pid = startDaemon(dir, 'podman', ['system', 'service', '--time=0', url], {
    ...stackEnv,
    CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf'),
  })
  const remote = {...stackEnv, CONTAINER_HOST: url}
  return ready(
    {url, dir, log, stop: () => stopDaemon(pid, dir)},
    'the podman service',
    async () =>
      (await execa('podman', ['--remote', '--url', url, 'version'], {env: stackEnv, reject: false}))
        .exitCode === 0,
    options.baseImage === false
      ? undefined
      : async () => {
          // A local store without the base image (setup-system.sh base-image not run): import it.
          const seen = await execa('podman', ['image', 'exists', baseImage(stackEnv)], {
            env: remote,
            reject: false,
          })
          if (seen.exitCode !== 0) await importBaseImage('podman-import', remote)
        },
  )
}

/** The local podman's store (the stack's storage.conf), where setup-system.sh put the base image. */
async function localImageStore(stackEnv: Record<string, string>): Promise<string> {
  const info = await execa('podman', ['info', '--format', '{{.Store.GraphRoot}}'], {env: stackEnv})
  return info.stdout.trim()
}

/** The engine once it answers (and holds the base image, when asked); stopped if it never does. */
async function ready(
  engine: RemoteEngine,
  what: string,
  answers: () => Promise<boolean>,
  seed: (() => Promise<unknown>) | undefined,
): Promise<RemoteEngine> {
  try {
    await waitFor(what, answers, engine.log)
    await seed?.()
  } catch (error) {
    await engine.stop()
    throw error
  }
  return engine
}

/** The base image into that engine's store (scripts/setup-system.sh's import phases). */
function importBaseImage(phase: 'docker-import' | 'podman-import', env: Record<string, string>) {
  return execa('bash', [path.join(REPO_ROOT, 'scripts/setup-system.sh'), phase], {env})
}
