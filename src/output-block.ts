/**
 * A block of output on its way to the host: whole lines joined by `\n` (no trailing one), already
 * clean (ANSI removed, secrets redacted). A child's output stays the bytes it wrote where nothing
 * needed cleaning: a 500 MB build log passes as a few thousand blocks that are never decoded,
 * split into lines or encoded again unless someone asks.
 *
 * Clean by construction: `runChild` makes blocks from a child's output after cleaning it, the
 * engine from text it redacted. Whoever holds one may show it as it is.
 */
export class OutputBlock {
  private constructor(
    private encoded: Buffer | undefined,
    private decoded: string | undefined,
  ) {}

  /** Bytes that are valid UTF-8 and clean already. */
  static ofBytes(bytes: Buffer): OutputBlock {
    return new OutputBlock(bytes, undefined)
  }

  /** Text that is clean already. */
  static ofText(text: string): OutputBlock {
    return new OutputBlock(undefined, text)
  }

  /** Whether the block has its bytes already (a child's), rather than text to encode. */
  get hasBytes(): boolean {
    return this.encoded !== undefined
  }

  /** The block as UTF-8 (encoded once, only if asked). */
  get bytes(): Buffer {
    this.encoded ??= Buffer.from(this.decoded ?? '', 'utf8')
    return this.encoded
  }

  /** The block as text (decoded once, only if asked). */
  get text(): string {
    this.decoded ??= (this.encoded ?? Buffer.alloc(0)).toString('utf8')
    return this.decoded
  }

  /** Whether the block holds `literal`, searched in whichever form the block already has. */
  includes(literal: string): boolean {
    return this.decoded !== undefined
      ? this.decoded.includes(literal)
      : this.bytes.includes(literal, 0, 'utf8')
  }

  /** Whether the block holds the needle (see Needle). */
  has(needle: Needle): boolean {
    return needle.in(this.bytes)
  }

  /** Every line (the whole block decoded and split: for small outputs, or a block known to matter). */
  lines(): string[] {
    return this.text.split('\n')
  }

  /** The last `count` lines, found from the end: only those are decoded. */
  lastLines(count: number): string[] {
    if (this.decoded !== undefined) return lastLines(this.decoded, count)
    if (count <= 0) return []
    const bytes = this.bytes
    const start = startOfLastLines(count, bytes.length, (before) => bytes.lastIndexOf(0x0a, before))
    return bytes.toString('utf8', start).split('\n')
  }
}

/**
 * The last `count` lines of output streaming by, decoded only when asked (a child's tail is read
 * once, if at all; decoding and splitting it for every block showed on a 500 MB log). Each block
 * holds a line or more, so the last `count` blocks hold the last `count` lines: no more are kept.
 */
export class LastLines {
  private blocks: OutputBlock[] = []

  constructor(private readonly count: number) {}

  push(block: OutputBlock): void {
    if (this.count <= 0) return
    this.blocks.push(block)
    if (this.blocks.length > this.count) this.blocks.shift()
  }

  clear(): void {
    this.blocks = []
  }

  lines(): string[] {
    const lines = this.blocks.flatMap((block) => block.lastLines(this.count))
    return lines.slice(Math.max(lines.length - this.count, 0))
  }
}

/** The last `count` lines of a text, found from its end: the rest of it is never split. */
export function lastLines(text: string, count: number): string[] {
  if (count <= 0) return []
  return text
    .slice(startOfLastLines(count, text.length, (before) => text.lastIndexOf('\n', before)))
    .split('\n')
}

/**
 * Where the last `count` (> 0) lines of a text or of its bytes begin: just after the line end
 * before them, or 0. `lineEndAtOrBefore(i)` is the text's or the bytes' `lastIndexOf` of `\n`.
 */
function startOfLastLines(count: number, length: number, lineEndAtOrBefore: (at: number) => number): number {
  let start = length
  for (let found = 0; found < count && start > 0; found++) {
    start = lineEndAtOrBefore(start - 1)
    if (start === -1) break
  }
  return start + 1
}

/**
 * Whether `bytes` holds `lower` (ASCII letters in lower case, and other ASCII) at `start`, its
 * letters in any case. Setting bit 0x20 lowercases an ASCII letter; a few control bytes then
 * pass for punctuation, which only makes a caller look closer.
 */
export function asciiLowerEquals(bytes: Uint8Array, start: number, lower: Uint8Array): boolean {
  if (start < 0 || start + lower.length > bytes.length) return false
  for (let i = 0; i < lower.length; i++) if ((bytes[start + i]! | 0x20) !== lower[i]) return false
  return true
}

/**
 * Bytes as common in build logs as their place here, the commonest first (English letters, the
 * letters of INFO and ERROR, then rarer ones); any other byte is rarer than all of these.
 */
const COMMON = ' etaoinsrhldcum\n.:/-_=,fpgwyb0123456789INFOERWAGDBUvkTSCLPMH()[]\'"xjqzKVYXJQZ'

/**
 * A literal looked for in many blocks by its rarest byte: a `memchr` for that byte, then a
 * comparison where it is. Node's own search stops wherever the literal's first byte is: the N
 * of `No module named` is in every INFO line, and a base64 secret may begin with an `e`.
 */
export class Needle {
  readonly bytes: Buffer
  private readonly anchor: number

  /**
   * `anyCase`: the literal is ASCII in lower case and matches in any ASCII case; it must hold a
   * byte that is not a letter (`name=`), which is the one searched for.
   */
  constructor(
    literal: string,
    private readonly anyCase = false,
  ) {
    this.bytes = Buffer.from(literal, 'utf8')
    let anchor = -1
    let rank = Infinity
    for (const [i, byte] of this.bytes.entries()) {
      if (anyCase && (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7a) continue
      const common = COMMON.indexOf(String.fromCharCode(byte))
      const rarity = common === -1 || byte >= 0x80 ? COMMON.length : common
      if (anchor === -1 || rarity > rank) {
        anchor = i
        rank = rarity
      }
    }
    if (anchor === -1) throw new Error(`Needle: nothing to search for in ${JSON.stringify(literal)}`)
    this.anchor = anchor
  }

  /** Whether `bytes` holds the literal. */
  in(bytes: Buffer): boolean {
    const needle = this.bytes
    const byte = needle[this.anchor]!
    for (let at = bytes.indexOf(byte, this.anchor); at !== -1; at = bytes.indexOf(byte, at + 1)) {
      const start = at - this.anchor
      if (start + needle.length > bytes.length) return false
      if (this.anyCase ? asciiLowerEquals(bytes, start, needle) : equalsAt(bytes, start, needle)) return true
    }
    return false
  }
}

function equalsAt(bytes: Uint8Array, start: number, needle: Uint8Array): boolean {
  for (let i = 0; i < needle.length; i++) if (bytes[start + i] !== needle[i]) return false
  return true
}
