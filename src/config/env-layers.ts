import {readFileSync} from 'node:fs'

import {parse} from 'dotenv'

import {usageError} from '../errors.js'
import type {Sourced} from '../sourced.js'

export type {Sourced} from '../sourced.js'

export interface EnvFile {
  path: string
  /** Path relative to the project root, for display. */
  shown: string
  /** By variable name (a settings file's keys are read as their settings' variables). */
  values: Record<string, string>
  /** A settings file's own key for each variable (`region` for AWS_REGION), for provenance. */
  keys?: Record<string, string>
  /** A settings file (`mldeploy.yaml`), meant to be committed; `.env` files are local. */
  committed?: boolean
  /** The stage whose values these are (a settings file's `stages:` entry, or a `.env.<stage>`). */
  stage?: string
}

const KEY_LINE = /^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*[=:]/

/**
 * Environment lookups in precedence order: the process environment, then the local `.env` files,
 * then the committed `mldeploy.yaml` files; within each, the target's before the project root's
 * (a stage's values before the plain ones). dotenv parses; we never let it write to process.env
 * so that precedence stays ours to decide and report.
 */
export class EnvLayers {
  readonly files: EnvFile[]

  constructor(
    private readonly processEnv: NodeJS.ProcessEnv,
    files: EnvFile[],
  ) {
    this.files = files
  }

  get(name: string): Sourced<string> | undefined {
    return this.fromProcess(name) ?? this.fromFiles([name])
  }

  /** The process environment's value, if set and not empty. */
  fromProcess(name: string): Sourced<string> | undefined {
    const value = this.processEnv[name]
    return value === undefined || value === '' ? undefined : {value, source: `env ${name}`}
  }

  /** The first file (in precedence order) that sets one of `names`. */
  fromFiles(names: readonly string[]): Sourced<string> | undefined {
    const found = this.fileOf(names)
    return found && {value: found.value, source: found.source}
  }

  /** The first file that sets one of `names`: the value, where it came from, the file and its own key. */
  fileOf(names: readonly string[]): (Sourced<string> & {file: EnvFile; key: string}) | undefined {
    for (const file of this.files)
      for (const name of names) {
        const value = file.values[name]
        if (value === undefined || value === '') continue
        const key = file.keys?.[name] ?? name
        return {value, source: `${describeFile(file)} ${key}`, file, key}
      }
    return undefined
  }

  /** The files read, each once (a settings file holds a stage's layer and its plain one). */
  fileNames(): string[] {
    return [...new Set(this.files.map((file) => file.shown))]
  }

  /** The environment children get: the .env values under the process environment. */
  childEnv(): Record<string, string> {
    const env: Record<string, string> = {}
    for (const file of [...this.files].reverse()) Object.assign(env, file.values)
    for (const [key, value] of Object.entries(this.processEnv)) if (value !== undefined) env[key] = value
    return env
  }
}

/** A file as a source names it: a settings file's stage is part of where a value came from. */
function describeFile(file: EnvFile): string {
  return file.committed === true && file.stage !== undefined
    ? `${file.shown} (stage ${file.stage})`
    : file.shown
}

/** Parse one .env file, refusing lines dotenv would silently drop (a typo there hides a setting). */
export function parseEnvFile(file: string): Record<string, string> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw usageError(`Cannot read ${file}: ${(error as Error).message}.`, 'Fix its permissions or remove it.')
  }
  let openQuote: string | undefined
  let openLine = 0
  const lines = text.split(/\r?\n/)
  for (const [index, line] of lines.entries()) {
    if (openQuote !== undefined) {
      if (line.includes(openQuote)) openQuote = undefined
      continue
    }
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    if (!KEY_LINE.test(line)) {
      throw usageError(
        `${file}:${index + 1} is not a KEY=value line: ${JSON.stringify(trimmed.slice(0, 60))}.`,
        'Fix or comment out that line (dotenv syntax: KEY=value).',
      )
    }
    // A quoted value that does not close on its line continues on the next ones (dotenv multiline).
    const value = line.slice(line.search(/[=:]/) + 1).trim()
    const quote = value[0]
    if ((quote === '"' || quote === "'" || quote === '`') && value.indexOf(quote, 1) === -1) {
      openQuote = quote
      openLine = index + 1
    }
  }
  // A quote that never closes would swallow every line after it (a setting silently lost).
  if (openQuote !== undefined) {
    throw usageError(
      `${file}:${openLine} opens a ${openQuote} quote that never closes.`,
      `Close it (a multi-line value ends with ${openQuote} on a later line) or remove it.`,
    )
  }
  return parse(text)
}
