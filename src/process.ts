import {StringDecoder} from 'node:string_decoder'
import {stripVTControlCharacters} from 'node:util'

import {recordAction} from './pipeline/ledger.js'
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
  /** Each line (costly on a heavy log: prefer onText and look for what you need in the block). */
  onLine?: (line: string) => void
  /**
   * One chunk of output at once: whole lines joined by `\n` (no trailing one), ANSI removed,
   * secrets redacted. A 500 MB log passes as a few thousand of these, never line by line.
   */
  onText?: (text: string) => void
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

/** The longest line kept whole before it is shown in pieces. */
const MAX_LINE = 64 * 1024

/** After SIGTERM, how long a child's process group gets before SIGKILL. */
export const KILL_GRACE_MS = 3000

export async function runChild(run: ChildRun): Promise<ChildResult> {
  const started = performance.now()
  const keep = run.tailLines ?? 40
  const tail: string[] = []
  // execa is loaded on the first spawn, not at start-up.
  const {execa} = await import('execa')
  // Recorded here, at the one spawn point, so a step's record shows what really ran.
  recordAction({kind: 'spawn', call: formatCommand(run, run.secrets)})
  const child = execa(run.command, run.args, {
    cwd: run.cwd,
    env: {...run.baseEnv, ...run.env},
    extendEnv: false,
    input: run.input,
    stdin: run.input === undefined ? 'ignore' : undefined,
    all: true,
    buffer: false,
    reject: false,
    // Its own process group, so an interrupt or a timeout can end the child *and* what it
    // started (bentoml's podman build, docker's helpers): no orphans left running.
    detached: true,
  })
  let stopReason: 'canceled' | 'timeout' | undefined
  let killTimer: NodeJS.Timeout | undefined
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined) return
    try {
      process.kill(-child.pid, signal)
    } catch {
      // The group is gone already.
    }
  }
  const stop = (reason: 'canceled' | 'timeout'): void => {
    if (stopReason !== undefined) return
    stopReason = reason
    signalGroup('SIGTERM')
    killTimer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS)
  }
  const onAbort = (): void => stop('canceled')
  if (run.signal?.aborted) stop('canceled')
  run.signal?.addEventListener('abort', onAbort, {once: true})
  const timeoutTimer =
    run.timeoutMs === undefined ? undefined : setTimeout(() => stop('timeout'), run.timeoutMs)
  // Output is read in chunks and cut into lines here: a 500 MB build log costs neither memory
  // (nothing is kept but the tail) nor a callback per line for the display.
  let carry = ''
  // ANSI removed, then secrets redacted (idempotent: text held back is cleaned twice, harmlessly).
  const clean = (text: string): string =>
    // Most chunks hold no escape sequence: skip the ANSI pass for them (it shows on 500 MB logs).
    run.secrets.redact(
      text.includes('\u001b') || text.includes('\u009b') ? stripVTControlCharacters(text) : text,
    )
  const emit = (cleaned: string): void => {
    run.onText?.(cleaned)
    if (run.onLine !== undefined) for (const line of cleaned.split('\n')) run.onLine(line)
    tail.push(...lastLines(cleaned, keep))
    if (tail.length > keep) tail.splice(0, tail.length - keep)
  }
  const decoder = new StringDecoder('utf8')
  child.all?.on('data', (chunk: Buffer) => {
    // \r alone (progress bars) ends a line too. A \r that ends the chunk may be the first half
    // of a \r\n split between two chunks: it waits for the next one (else an empty line appears).
    let raw = carry + decoder.write(chunk)
    const held = raw.endsWith('\r') ? '\r' : ''
    if (held !== '') raw = raw.slice(0, -1)
    const text = raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw
    const end = text.lastIndexOf('\n')
    if (end === -1 && text.length < MAX_LINE) {
      carry = text + held
      return
    }
    if (end !== -1) {
      carry = text.slice(end + 1) + held
      emit(clean(text.slice(0, end)))
      return
    }
    // A line that never ends is shown in pieces rather than held without bound. A secret may
    // straddle the cut: redact the piece, then hold back its last (longest secret - 1)
    // characters, so a secret that begins there is whole when the next output arrives.
    const piece = clean(text)
    const hold = Math.min(Math.max(run.secrets.longestLength() - 1, 0), MAX_LINE / 2, piece.length)
    let cut = piece.length - hold
    // Never split a surrogate pair between two pieces.
    if (cut > 0 && /[\uD800-\uDBFF]/.test(piece[cut - 1] ?? '')) cut--
    carry = piece.slice(cut) + held
    if (cut > 0) emit(piece.slice(0, cut))
  })
  const result = await child
  // A last \r ends the last line, as a last \n would.
  const rest = (carry + decoder.end()).replace(/\r$/, '').replace(/\r\n?/g, '\n')
  if (rest !== '') emit(clean(rest))
  clearTimeout(timeoutTimer)
  clearTimeout(killTimer)
  run.signal?.removeEventListener('abort', onAbort)
  // Whatever of the group outlived its leader after a stop goes now.
  if (stopReason !== undefined) signalGroup('SIGKILL')
  const code = (result as {code?: string}).code
  return {
    exitCode: result.exitCode,
    ...(code === undefined ? {} : {spawnErrorCode: code}),
    ...(result.signal === undefined ? {} : {signal: result.signal}),
    timedOut: stopReason === 'timeout',
    canceled: stopReason === 'canceled',
    tail,
    durationMs: performance.now() - started,
  }
}

/** The last `count` lines of a block, found from its end: the rest of the block is never split. */
export function lastLines(text: string, count: number): string[] {
  if (count <= 0) return []
  let start = text.length
  let found = 0
  while (found < count && start > 0) {
    start = text.lastIndexOf('\n', start - 1)
    found++
    if (start === -1) break
  }
  return (start === -1 ? text : text.slice(start + 1)).split('\n')
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
