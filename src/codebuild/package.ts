import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {parseEnvFile} from '../config/env-layers.js'
import type {Target} from '../config/target.js'
import {isSecretEntry} from '../secrets.js'
import type {ZipEntry} from './zip.js'
import {isDirectory, isFile} from '../files.js'

/**
 * What a CodeBuild build gets from this machine: the target folder, the project root's
 * environment files and the `.env` files without their secrets, laid out as the project is
 * (`deploy/<model>/<version>/...`), so the mldeploy inside the build finds the same target.
 */
export const MLDEPLOY_PACKAGE_PATH = '_mldeploy/mldeploy.tgz'

/** The project root's files that describe its Python environment. */
const ENVIRONMENT_FILE = /^(?:Pipfile|Pipfile\.lock|requirements[\w.-]*\.txt)$/

/** Never packed: caches, virtualenvs, VCS data, compiled Python, and .env files (filtered below). */
const SKIPPED_DIRS = new Set([
  '__pycache__',
  '.git',
  '.venv',
  'venv',
  '.mypy_cache',
  '.pytest_cache',
  'node_modules',
])
const SKIPPED_FILE = /^(?:\.env(?:\..*)?|.*\.py[co]|\.DS_Store)$/

export interface OmittedSecret {
  /** The .env file, as the package holds it (`deploy/modelA/V1/.env`). */
  file: string
  key: string
}

export interface SourceFiles {
  entries: ZipEntry[]
  /** `.env` keys left out because they hold secrets: named to the user, never their values. */
  omitted: OmittedSecret[]
}

/** Everything but the packed mldeploy, read from the disk (read-only: the dry run calls it too). */
export function sourceFiles(target: Target, stage: string | undefined): SourceFiles {
  const entries: ZipEntry[] = []
  const omitted: OmittedSecret[] = []
  const targetPrefix = `deploy/${target.model}/${target.version}`
  for (const file of walk(target.dir))
    entries.push({path: `${targetPrefix}/${file}`, data: readFileSync(path.join(target.dir, file))})
  for (const name of readdirSync(target.root).sort())
    if (ENVIRONMENT_FILE.test(name) && isFile(path.join(target.root, name)))
      entries.push({path: name, data: readFileSync(path.join(target.root, name))})
  const envNames = stage === undefined ? ['.env'] : ['.env', `.env.${stage}`]
  for (const [dir, prefix] of [
    [target.dir, `${targetPrefix}/`],
    [target.root, ''],
  ] as const) {
    for (const name of envNames) {
      const file = path.join(dir, name)
      if (!isFile(file)) continue
      const shown = `${prefix}${name}`
      const {text, secrets} = withoutSecrets(parseEnvFile(file))
      for (const key of secrets) omitted.push({file: shown, key})
      entries.push({path: shown, data: Buffer.from(text)})
    }
  }
  return {entries, omitted}
}

/** A .env file's entries without the secret ones, written back in dotenv syntax. */
export function withoutSecrets(values: Record<string, string>): {text: string; secrets: string[]} {
  const secrets: string[] = []
  const lines: string[] = []
  for (const [key, value] of Object.entries(values)) {
    if (isSecretEntry(key, value)) secrets.push(key)
    else lines.push(`${key}=${dotenvQuote(value)}`)
  }
  const header =
    secrets.length === 0
      ? '# Written by mldeploy for a CodeBuild build.'
      : `# Written by mldeploy for a CodeBuild build; left out (secrets): ${secrets.join(', ')}.`
  return {text: `${[header, ...lines].join('\n')}\n`, secrets}
}

/** Single quotes keep a value literal in dotenv; a value with a quote or newline takes double quotes. */
function dotenvQuote(value: string): string {
  if (!value.includes("'") && !value.includes('\n')) return `'${value}'`
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`
}

/** Files under `dir`, relative, with forward slashes, sorted. */
function walk(dir: string, prefix = ''): string[] {
  const found: string[] = []
  for (const entry of readdirSync(path.join(dir, prefix), {withFileTypes: true}).sort((a, b) =>
    a.name < b.name ? -1 : 1,
  )) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`
    const full = path.join(dir, relative)
    if (entry.isDirectory() || (entry.isSymbolicLink() && isDirectory(full))) {
      if (!SKIPPED_DIRS.has(entry.name)) found.push(...walk(dir, relative))
    } else if (!SKIPPED_FILE.test(entry.name) && isFile(full)) found.push(relative)
  }
  return found
}

/** The installed mldeploy package's root (where its package.json is), packed for the build. */
export function mldeployPackageRoot(from = import.meta.dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {name?: string}
      if (manifest.name === 'mldeploy') return dir
    } catch {
      // not here: one folder up
    }
    if (path.dirname(dir) === dir) throw new Error(`No mldeploy package.json above ${from}`)
  }
}
