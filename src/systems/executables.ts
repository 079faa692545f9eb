import {accessSync, constants, statSync} from 'node:fs'
import path from 'node:path'

/** Where `name` would be found on PATH (or the path itself when it has a slash), without running it. */
export function findExecutable(
  name: string,
  env: Record<string, string | undefined>,
  cwd: string,
): string | undefined {
  if (name.includes('/')) {
    const full = path.resolve(cwd, name)
    return isExecutable(full) ? full : undefined
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue
    const full = path.join(dir, name)
    if (isExecutable(full)) return full
  }
  return undefined
}

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}
