import {statSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it, vi} from 'vitest'

import {EnvironmentError, exitClassOf} from '../../../src/errors.js'
import {makePrivateDir, privateDirError, removePrivateDir} from '../../../src/systems/workdir.js'
import {tempDir} from '../../helpers/cli.js'

const saved = process.env.TMPDIR

/** Run with TMPDIR set to `dir` (os.tmpdir() reads it on every call). */
async function inTmpdir<T>(dir: string, body: () => Promise<T>): Promise<T> {
  process.env.TMPDIR = dir
  try {
    return await body()
  } finally {
    if (saved === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = saved
  }
}

describe('makePrivateDir', () => {
  it('makes a 0700 folder under the temp folder, and removes it', async () => {
    const base = tempDir('workdir')
    const dir = await inTmpdir(base, () => makePrivateDir('mldeploy-'))
    expect(path.dirname(dir)).toBe(base)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    await removePrivateDir(dir)
    await removePrivateDir(dir)
    expect(() => statSync(dir)).toThrow()
  })

  it('names a missing TMPDIR and the fix; the engine classifies it as exit 3', async () => {
    const error = await inTmpdir('/nonexistent', () => makePrivateDir('mldeploy-')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(EnvironmentError)
    expect(error).toMatchObject({
      reason: 'temp-missing',
      oneLine: 'TMPDIR=/nonexistent does not exist. Set TMPDIR to a writable folder.',
    })
    expect(exitClassOf(error, 'internal')).toBe('preflight')
  })

  it('says when TMPDIR is a file', async () => {
    await expect(inTmpdir('/etc/passwd', () => makePrivateDir('mldeploy-'))).rejects.toMatchObject({
      reason: 'temp-not-a-folder',
      message: 'TMPDIR=/etc/passwd is not a folder.',
    })
  })

  it('says when the temp folder refuses new folders (even for root: sysfs)', async () => {
    const error = await inTmpdir('/sys', () => makePrivateDir('mldeploy-')).catch((e: unknown) => e)
    expect(error).toMatchObject({
      reason: 'temp-unwritable',
      message: /^TMPDIR=\/sys is not writable \(E(PERM|ACCES|ROFS)\)\.$/,
    })
  })

  it('maps permission and space errors it cannot provoke as root', () => {
    const fault = (code: string): Error => Object.assign(new Error(`${code}: fault`), {code})
    expect(privateDirError(fault('EACCES'), '/t', '/t').oneLine).toBe(
      'TMPDIR=/t is not writable (EACCES). Set TMPDIR to a writable folder.',
    )
    expect(privateDirError(fault('ENOSPC'), '/tmp', undefined).oneLine).toBe(
      'The temp folder /tmp is full (ENOSPC). Free some space there, or set TMPDIR to another folder.',
    )
    expect(privateDirError(fault('EMFILE'), '/tmp').reason).toBe('temp-failed')
    for (const code of ['EPERM', 'EROFS'])
      expect(privateDirError(fault(code), '/t').reason).toBe('temp-unwritable')
    expect(privateDirError(fault('EDQUOT'), '/t').message).toBe('The temp folder /t is full (EDQUOT).')
    // The system's own words go to the detail (--verbose); a thrown non-error still says something.
    expect(privateDirError(fault('EMFILE'), '/t')).toMatchObject({
      message: 'Cannot create a private folder in /t (EMFILE).',
      detail: 'EMFILE: fault',
      hint: 'Set TMPDIR to a writable folder.',
    })
    expect(privateDirError('odd', '/t')).toMatchObject({reason: 'temp-failed', detail: 'odd'})
    expect(privateDirError(fault('ENOENT'), '/t', '').message).toBe('The temp folder /t does not exist.')
  })
})

describe('the last-resort removal on exit', () => {
  it('one exit listener removes every private folder still there', async () => {
    // A fresh copy of the module: its exit listener is added by its first private folder.
    vi.resetModules()
    const fresh = await import('../../../src/systems/workdir.js')
    const before = process.listeners('exit')
    const base = tempDir('workdir')
    const [kept, other, removed] = await inTmpdir(base, () =>
      Promise.all([fresh.makePrivateDir('a-'), fresh.makePrivateDir('b-'), fresh.makePrivateDir('c-')]),
    )
    await fresh.removePrivateDir(removed!)
    const added = process.listeners('exit').filter((listener) => !before.includes(listener))
    expect(added).toHaveLength(1)
    try {
      // What the process runs on 'exit' (called directly: emitting 'exit' would reach vitest's own).
      ;(added[0] as () => void)()
    } finally {
      process.removeListener('exit', added[0]!)
    }
    for (const dir of [kept!, other!, removed!]) expect(() => statSync(dir), dir).toThrow()
  })
})
