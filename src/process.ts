import {isUtf8} from 'node:buffer'
import {stripVTControlCharacters} from 'node:util'

import {LastLines, OutputBlock} from './output-block.js'
import {recordAction} from './ledger.js'
import {closeSpan, openSpan} from './trace.js'
import type {SecretRegistry} from './secrets.js'

export {lastLines, OutputBlock} from './output-block.js'

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
  /** Each line (costly on a heavy log: prefer onBlock and look for what you need in the block). */
  onLine?: (line: string) => void
  /**
   * One chunk of output at once: whole lines joined by `\n` (no trailing one), ANSI removed,
   * secrets redacted. A 500 MB log passes as a few thousand of these, never line by line, and
   * mostly as the bytes the child wrote (see OutputBlock).
   */
  onBlock?: (block: OutputBlock) => void
  /**
   * A promise while whoever shows the output is behind: reading stops until it resolves, so the
   * child blocks on its full pipe instead of its output piling up in memory.
   */
  outputReady?: () => Promise<void> | undefined
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

const EMPTY = Buffer.alloc(0)
const LF = 0x0a
const CR = 0x0d
const ESC = 0x1b
/** The one-character CSI (U+009B) that stripVTControlCharacters removes too, as UTF-8. */
const CSI = Buffer.from('\u009b', 'utf8')

/**
 * How much of `bytes` ends on a whole UTF-8 character: all of it, or up to where the last
 * character begins when its last bytes have not arrived yet.
 */
export function completeLength(bytes: Buffer): number {
  // The last character's first byte is at most 3 bytes back (continuation bytes are 10xxxxxx).
  for (let i = bytes.length - 1; i >= 0 && i >= bytes.length - 4; i--) {
    const byte = bytes[i]!
    if ((byte & 0xc0) === 0x80) continue
    const size = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1
    return i + size > bytes.length ? i : bytes.length
  }
  return bytes.length
}

/** After SIGTERM, how long a child's process group gets before SIGKILL. */
export const KILL_GRACE_MS = 3000

export async function runChild(run: ChildRun): Promise<ChildResult> {
  const started = performance.now()
  const tail = new LastLines(run.tailLines ?? 40)
  // execa is loaded on the first spawn, not at start-up.
  const {execa} = await import('execa')
  // Recorded here, at the one spawn point, so a step's record shows what really ran.
  const call = formatCommand(run, run.secrets)
  recordAction({kind: 'spawn', call})
  const span = openSpan('spawn', call)
  const child = execa(run.command, run.args, {
    cwd: run.cwd,
    env: {...run.baseEnv, ...run.env},
    extendEnv: false,
    input: run.input,
    stdin: run.input === undefined ? 'ignore' : undefined,
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
  const emit = (block: OutputBlock): void => {
    run.onBlock?.(block)
    if (run.onLine !== undefined) for (const line of block.lines()) run.onLine(line)
    tail.push(block)
  }
  const output = new OutputCutter(run.secrets, emit)
  // Both pipes feed one cutter, a chunk at a time as each arrives (what execa's `all` did, minus
  // its merged stream: that extra hop let the child's pipe sit full, and halved the throughput of
  // a chatty build). Reading stops on both while the host is behind.
  const streams = [child.stdout, child.stderr].filter((stream) => stream !== null)
  let paused = false
  const onData = (chunk: Buffer): void => {
    output.push(chunk)
    const caughtUp = run.outputReady?.()
    if (caughtUp === undefined || paused) return
    paused = true
    for (const stream of streams) stream.pause()
    void caughtUp.then(() => {
      paused = false
      for (const stream of streams) stream.resume()
    })
  }
  for (const stream of streams) stream.on('data', onData)
  const result = await child
  closeSpan(span)
  output.end()
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
    tail: tail.lines(),
    durationMs: performance.now() - started,
  }
}

/**
 * A child's output, read in chunks and cut into blocks of whole lines, as bytes: a 500 MB build
 * log costs neither memory (nothing is kept but the unfinished last line) nor a callback per
 * line, and a block that needs no cleaning (most of any log) is passed on as the bytes the child
 * wrote, never decoded. The unfinished line is kept as bytes too: a character split between two
 * chunks is whole once its line is.
 */
export class OutputCutter {
  private carry: Buffer = EMPTY

  constructor(
    private readonly secrets: SecretRegistry,
    private readonly emit: (block: OutputBlock) => void,
  ) {}

  push(chunk: Buffer): void {
    const data = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk])
    const hasCr = data.includes(CR)
    // \r alone (progress bars) ends a line too. A \r that ends the chunk may be the first half
    // of a \r\n split between two chunks: it waits for the next one (else an empty line appears).
    const held = hasCr && data[data.length - 1] === CR ? 1 : 0
    const body = data.subarray(0, data.length - held)
    const end = hasCr ? Math.max(body.lastIndexOf(LF), body.lastIndexOf(CR)) : body.lastIndexOf(LF)
    if (end !== -1) {
      this.carry = data.subarray(end + 1)
      // The \r of a \r\n is part of the line end.
      const last = body[end] === LF && body[end - 1] === CR ? end - 1 : end
      this.emit(this.cleanBlock(body.subarray(0, last), hasCr))
      return
    }
    // The last character may be incomplete: it waits, whole, for the next chunk.
    const whole = completeLength(body)
    const text = body.length < MAX_LINE ? '' : body.toString('utf8', 0, whole)
    if (text.length < MAX_LINE) {
      this.carry = data
      return
    }
    // A line that never ends is shown in pieces rather than held without bound. A secret may
    // straddle the cut: redact the piece, then hold back its last (longest secret - 1)
    // characters, so a secret that begins there is whole when the next output arrives.
    const piece = this.clean(text)
    const hold = Math.min(Math.max(this.secrets.longestLength() - 1, 0), MAX_LINE / 2, piece.length)
    let cut = piece.length - hold
    // Never split a surrogate pair between two pieces.
    if (cut > 0 && /[\uD800-\uDBFF]/.test(piece[cut - 1] ?? '')) cut--
    this.carry = Buffer.concat([Buffer.from(piece.slice(cut), 'utf8'), data.subarray(whole)])
    if (cut > 0) this.emit(OutputBlock.ofText(piece.slice(0, cut)))
  }

  /** The child is done: its last line, if it did not end it. */
  end(): void {
    // A last \r ends the last line, as a last \n would.
    const rest = this.carry.toString('utf8').replace(/\r$/, '').replace(/\r\n?/g, '\n')
    this.carry = EMPTY
    if (rest !== '') this.emit(OutputBlock.ofText(this.clean(rest)))
  }

  /** ANSI removed, then secrets redacted (idempotent: text held back is cleaned twice, harmlessly). */
  private clean(text: string): string {
    // Most blocks hold no escape sequence: skip the ANSI pass for them (it shows on 500 MB logs).
    return this.secrets.redact(
      text.includes('\u001b') || text.includes('\u009b') ? stripVTControlCharacters(text) : text,
    )
  }

  /**
   * Whole lines (no line end after the last) as they go out: their bytes when nothing in them
   * needs cleaning (no \r, no escape sequence, no secret, valid UTF-8), else the text cleaned.
   */
  private cleanBlock(bytes: Buffer, mayHaveCr: boolean): OutputBlock {
    if (
      !(mayHaveCr && bytes.includes(CR)) &&
      !bytes.includes(ESC) &&
      !bytes.includes(CSI) &&
      !this.secrets.mayChange(bytes) &&
      isUtf8(bytes)
    )
      return OutputBlock.ofBytes(bytes)
    const text = bytes.toString('utf8')
    return OutputBlock.ofText(this.clean(text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text))
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
