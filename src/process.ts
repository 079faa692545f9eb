import {stripVTControlCharacters} from 'node:util'

import {execa} from 'execa'

import type {SecretRegistry} from './secrets.js'

/**
 * The one place mldeploy starts child processes. Arguments go as an array (never through a
 * shell), secrets go on stdin only, output is streamed line by line (never buffered whole, so a
 * 500 MB build log costs no memory) and redacted before anyone sees it.
 */
export interface ChildCommand {
  command: string
  args: string[]
  cwd: string
  /** Extra variables on top of the base environment. */
  env?: Record<string, string>
}

export interface ChildRun extends ChildCommand {
  /** The full environment for the child (the base); `env` is laid over it. */
  baseEnv: Record<string, string>
  /** Written to stdin, then closed. Must be registered in `secrets` when it is one. */
  input?: string
  secrets: SecretRegistry
  onLine?: (line: string) => void
  signal?: AbortSignal
  timeoutMs?: number
  /** How many of the last output lines to keep for error messages. */
  tailLines?: number
}

export interface ChildResult {
  exitCode: number | undefined
  /** `ENOENT` when the executable is missing, and other spawn error codes. */
  spawnErrorCode?: string
  signal?: string
  timedOut: boolean
  canceled: boolean
  /** The last lines of stdout and stderr, interleaved, ANSI removed, secrets redacted. */
  tail: string[]
  durationMs: number
}

export async function runChild(run: ChildRun): Promise<ChildResult> {
  const started = performance.now()
  const keep = run.tailLines ?? 40
  const tail: string[] = []
  const child = execa(run.command, run.args, {
    cwd: run.cwd,
    env: {...run.baseEnv, ...run.env},
    extendEnv: false,
    input: run.input,
    stdin: run.input === undefined ? 'ignore' : undefined,
    all: true,
    buffer: false,
    reject: false,
    ...(run.signal === undefined ? {} : {cancelSignal: run.signal}),
    forceKillAfterDelay: 3000,
    ...(run.timeoutMs === undefined ? {} : {timeout: run.timeoutMs}),
  })
  try {
    for await (const raw of child.iterable({from: 'all'})) {
      const line = run.secrets.redact(stripVTControlCharacters(String(raw)))
      tail.push(line)
      if (tail.length > keep) tail.shift()
      run.onLine?.(line)
    }
  } catch {
    // Iteration ends with the child's failure; the awaited result below describes it.
  }
  const result = await child
  const code = (result as {code?: string}).code
  return {
    exitCode: result.exitCode,
    ...(code === undefined ? {} : {spawnErrorCode: code}),
    ...(result.signal === undefined ? {} : {signal: result.signal}),
    timedOut: result.timedOut,
    canceled: result.isCanceled,
    tail,
    durationMs: performance.now() - started,
  }
}

/** How a command is shown to people: quoted where needed, secrets redacted. */
export function formatCommand(command: ChildCommand, secrets?: SecretRegistry): string {
  const quote = (word: string): string =>
    /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
  const env = Object.entries(command.env ?? {}).map(([key, value]) => `${key}=${quote(value)}`)
  const text = [...env, command.command, ...command.args]
    .map((word, i) => (i < env.length ? word : quote(word)))
    .join(' ')
  return secrets === undefined ? text : secrets.redact(text)
}
