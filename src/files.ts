import {statSync} from 'node:fs'

/** Is there a regular file at `file` (following links)? Anything unreadable counts as no. */
export function isFile(file: string): boolean {
  try {
    return statSync(file).isFile()
  } catch {
    return false
  }
}

/** Is there a directory at `file` (following links)? Anything unreadable counts as no. */
export function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory()
  } catch {
    return false
  }
}
