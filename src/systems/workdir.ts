import {rmSync} from 'node:fs'
import {chmod, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {EnvironmentError} from '../errors.js'

/**
 * A fresh folder only this user can read (0700), under the temp folder: where a run keeps its
 * private registry login. A temp folder that is missing, not a folder, read-only or full is the
 * machine's fault, not a bug: it becomes an `EnvironmentError` saying which folder and what to do.
 */
/**
 * Folders made here and not removed yet. Whatever ends the process (an uncaught exception, an
 * exit from a library) removes them on 'exit' as a last resort: a private folder may hold a
 * registry login and must never outlive the run.
 */
const live = new Set<string>()
let exitHook = false

function removeOnExit(dir: string): void {
  live.add(dir)
  if (exitHook) return
  exitHook = true
  process.once('exit', () => {
    for (const each of live) rmSync(each, {recursive: true, force: true})
  })
}

export async function makePrivateDir(prefix: string): Promise<string> {
  const base = tmpdir()
  let dir: string
  try {
    dir = await mkdtemp(path.join(base, prefix))
  } catch (error) {
    throw privateDirError(error, base, process.env.TMPDIR)
  }
  try {
    await chmod(dir, 0o700)
  } catch (error) {
    await removePrivateDir(dir)
    throw privateDirError(error, base, process.env.TMPDIR)
  }
  removeOnExit(dir)
  return dir
}

/** Remove a folder made by `makePrivateDir` and all it holds; a folder already gone is fine. */
export async function removePrivateDir(dir: string): Promise<void> {
  await rm(dir, {recursive: true, force: true})
  live.delete(dir)
}

/** The error for a temp folder `base` that refused a new folder (exported for tests of each code). */
export function privateDirError(error: unknown, base: string, tmpdirVariable?: string): EnvironmentError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'unknown'
  // Name the setting the user can change when it is what chose the folder.
  const named =
    tmpdirVariable !== undefined && tmpdirVariable !== '' ? `TMPDIR=${base}` : `The temp folder ${base}`
  const elsewhere = 'Set TMPDIR to a writable folder.'
  const options = {cause: error, detail: (error as Error | undefined)?.message ?? String(error)}
  switch (code) {
    case 'ENOENT':
      return new EnvironmentError('temp-missing', `${named} does not exist.`, {...options, hint: elsewhere})
    case 'ENOTDIR':
      return new EnvironmentError('temp-not-a-folder', `${named} is not a folder.`, {
        ...options,
        hint: elsewhere,
      })
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new EnvironmentError('temp-unwritable', `${named} is not writable (${code}).`, {
        ...options,
        hint: elsewhere,
      })
    case 'ENOSPC':
    case 'EDQUOT':
      return new EnvironmentError('temp-full', `${named} is full (${code}).`, {
        ...options,
        hint: 'Free some space there, or set TMPDIR to another folder.',
      })
    default:
      return new EnvironmentError('temp-failed', `Cannot create a private folder in ${base} (${code}).`, {
        ...options,
        hint: elsewhere,
      })
  }
}
