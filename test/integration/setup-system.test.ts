import {chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa, type ResultPromise} from 'execa'
import {afterEach, describe, expect, it} from 'vitest'

import {REPO_ROOT, tempDir} from '../helpers/cli.js'

// Issue 22 §8: scripts/setup-system.sh waits, bounded and saying so, while another apt or dpkg
// holds its locks, instead of failing at once. apt's locks are fcntl locks (F_SETLK, listed in
// /proc/locks); a python3 child takes one the same way (fcntl.lockf) on a lock file of the test's
// own (MLDEPLOY_APT_LOCKS), so the machine's apt is never blocked, and is killed after each test.
// dpkg-query and apt-get are stand-ins on PATH: every package counts as missing, apt-get records
// its arguments and when it ran, and nothing is installed.
const SETUP = path.join(REPO_ROOT, 'scripts/setup-system.sh')
const isRoot = process.getuid?.() === 0

const HOLD = `import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o640)
fcntl.lockf(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
`

let holder: ResultPromise | undefined

afterEach(async () => {
  holder?.kill('SIGKILL')
  await holder?.catch(() => undefined)
  holder = undefined
})

/** A stand-in machine: the lock file, the fake dpkg-query and apt-get, the cache folder. */
function machine(): {dir: string; lock: string; calls: string; env: Record<string, string>} {
  const dir = tempDir('apt-lock')
  const bin = path.join(dir, 'bin')
  const calls = path.join(dir, 'apt-get.calls')
  mkdirSync(bin)
  writeFileSync(path.join(bin, 'dpkg-query'), '#!/bin/sh\nexit 1\n')
  writeFileSync(path.join(bin, 'apt-get'), `#!/bin/sh\necho "$(date +%s.%N) $*" >> '${calls}'\n`)
  for (const tool of ['dpkg-query', 'apt-get']) chmodSync(path.join(bin, tool), 0o755)
  const lock = path.join(dir, 'lock-frontend')
  writeFileSync(lock, '')
  return {
    dir,
    lock,
    calls,
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      MLDEPLOY_CACHE: path.join(dir, 'cache'),
      MLDEPLOY_APT_LOCKS: `${path.join(dir, 'lock')} ${lock}`,
      TMPDIR: dir,
    },
  }
}

/** Takes the lock in a child for `seconds`; resolves once it is held, with the child's pid. */
async function holdLock(lock: string, seconds: number): Promise<number> {
  const child = execa('python3', ['-c', HOLD, lock, String(seconds)], {reject: false})
  holder = child
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', () => reject(new Error('the lock holder exited before taking the lock')))
  })
  return child.pid!
}

describe.skipIf(!isRoot)('setup-system.sh apt: another apt holds the lock', () => {
  it('waits up to the bound, names the holder, then fails without calling apt-get', async () => {
    const m = machine()
    const pid = await holdLock(m.lock, 60)
    const result = await execa('bash', [SETUP, 'apt'], {
      env: {...m.env, MLDEPLOY_APT_LOCK_TIMEOUT: '2'},
      reject: false,
    })
    expect(result.exitCode).not.toBe(0)
    expect(result.stderr).toContain(
      `apt: waiting up to 2 s for another apt/dpkg to finish (pid ${pid} python3 holds ${m.lock})`,
    )
    expect(result.stderr).toContain(`apt: pid ${pid} still holds ${m.lock} after 2 s`)
    expect(result.stderr).toContain('MLDEPLOY_APT_LOCK_TIMEOUT')
    expect(existsSync(m.calls)).toBe(false)
  })

  it('proceeds once the lock is released, passing what is left of the bound to apt-get', async () => {
    const m = machine()
    const pid = await holdLock(m.lock, 1.5)
    const released = holder!.then(() => Date.now() / 1000)
    const result = await execa('bash', [SETUP, 'apt'], {
      env: {...m.env, MLDEPLOY_APT_LOCK_TIMEOUT: '60'},
      reject: false,
    })
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stderr).toContain(
      `apt: waiting up to 60 s for another apt/dpkg to finish (pid ${pid} python3`,
    )
    const calls = readFileSync(m.calls, 'utf8').trim().split('\n')
    expect(calls).toHaveLength(2)
    const [update, install] = calls.map((line) => line.split(' '))
    expect(update!.slice(1)).toEqual(['-o', expect.any(String), 'update', '-q'])
    expect(install!.slice(1, 7)).toEqual([
      '-o',
      expect.any(String),
      'install',
      '-y',
      '-q',
      '--no-install-recommends',
    ])
    expect(install).toContain('podman')
    for (const call of [update!, install!]) {
      const left = Number(/^DPkg::Lock::Timeout=(\d+)$/.exec(call[2]!)?.[1])
      expect(left).toBeGreaterThan(50)
      expect(left).toBeLessThanOrEqual(60)
      // apt-get ran only after the other one let go.
      expect(Number(call[0])).toBeGreaterThanOrEqual(await released)
    }
  })

  it('says nothing about locks and calls apt-get at once when none is held', async () => {
    const m = machine()
    const result = await execa('bash', [SETUP, 'apt'], {env: m.env, reject: false})
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stderr).not.toContain('waiting')
    expect(readFileSync(m.calls, 'utf8').trim().split('\n')).toHaveLength(2)
  })
})
