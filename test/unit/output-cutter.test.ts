import {StringDecoder} from 'node:string_decoder'
import {stripVTControlCharacters} from 'node:util'

import {describe, expect, it} from 'vitest'

import {LastLines, OutputBlock} from '../../src/output-block.js'
import {OutputCutter} from '../../src/process.js'
import {SecretRegistry} from '../../src/secrets.js'

const PASSWORD = 'eyJwYXlsb2FkIjoiVGhpc0lzQVNlY3JldFBhc3N3b3Jk'
const UNICODE_SECRET = 'pässwörd-ünïcødé-😀'

function registry(): SecretRegistry {
  const secrets = new SecretRegistry()
  secrets.add(PASSWORD)
  secrets.add(UNICODE_SECRET)
  return secrets
}

/**
 * The runner's reading as it was before output stayed bytes (decoded chunk by chunk, cut and
 * cleaned as text): what a person saw then is what they must see now.
 */
function textReference(chunks: Buffer[], secrets: SecretRegistry): string[] {
  const MAX_LINE = 64 * 1024
  const blocks: string[] = []
  const clean = (text: string): string =>
    secrets.redact(text.includes('\u001b') || text.includes('\u009b') ? stripVTControlCharacters(text) : text)
  let carry = ''
  const decoder = new StringDecoder('utf8')
  for (const chunk of chunks) {
    let raw = carry + decoder.write(chunk)
    const held = raw.endsWith('\r') ? '\r' : ''
    if (held !== '') raw = raw.slice(0, -1)
    const text = raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw
    const end = text.lastIndexOf('\n')
    if (end === -1 && text.length < MAX_LINE) {
      carry = text + held
      continue
    }
    if (end !== -1) {
      carry = text.slice(end + 1) + held
      blocks.push(clean(text.slice(0, end)))
      continue
    }
    const piece = clean(text)
    const hold = Math.min(Math.max(secrets.longestLength() - 1, 0), MAX_LINE / 2, piece.length)
    let cut = piece.length - hold
    if (cut > 0 && /[\uD800-\uDBFF]/.test(piece[cut - 1] ?? '')) cut--
    carry = piece.slice(cut) + held
    if (cut > 0) blocks.push(piece.slice(0, cut))
  }
  const rest = (carry + decoder.end()).replace(/\r$/, '').replace(/\r\n?/g, '\n')
  if (rest !== '') blocks.push(clean(rest))
  return blocks
}

function cut(chunks: Buffer[], secrets: SecretRegistry): OutputBlock[] {
  const blocks: OutputBlock[] = []
  const cutter = new OutputCutter(secrets, (block) => blocks.push(block))
  for (const chunk of chunks) cutter.push(chunk)
  cutter.end()
  return blocks
}

/** A log with every kind of line the runner treats apart. */
const MIXED = (long: boolean): Buffer =>
  Buffer.concat([
    Buffer.from(
      [
        'INFO plain line',
        'naïve café — ünïcode, 漢字 and 😀 (four bytes)',
        '\u001b[1;32mgreen\u001b[0m and \u009b31mC1 red\u009b0m',
        `password ${PASSWORD} in the middle`,
        `unicode secret ${UNICODE_SECRET}!`,
        'Authorization: AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/ecr/aws4_request',
        '{"x-amz-security-token": "IQoJb3JpZ2luX2VjEJr"}',
        'progress 10%\rprogress 50%\rprogress 100%\r',
        'windows line\r\nanother\r\n',
        '__tag__:iris_v1:abcdefghijklmnop',
        '',
        ...(long ? ['x'.repeat(70_000) + PASSWORD + ' tail of a very long line', 'after the long line'] : []),
      ].join('\n'),
    ),
    Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0x20, 0x62, 0x79, 0x74, 0x65, 0x0a]),
    Buffer.from('last line without an end'),
  ])

function chunked(bytes: Buffer, sizes: (i: number) => number): Buffer[] {
  const chunks: Buffer[] = []
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = Math.max(1, sizes(i))
    chunks.push(bytes.subarray(at, at + size))
    at += size
  }
  return chunks
}

describe('OutputCutter: a child output cut into clean blocks of whole lines', () => {
  it('shows the same blocks as the text reading did, however the output is cut into chunks', () => {
    let seed = 7
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      return seed / 2_147_483_648
    }
    // The line longer than 64 KiB (shown in pieces) only in the larger chunks: cut small, the
    // text reading of it takes long.
    const cuttings: Array<[string, boolean, (i: number) => number]> = [
      ['whole', true, () => 1e6],
      ['64 KiB', true, () => 65_536],
      ['4099 bytes', true, () => 4099],
      ['random up to 3000 bytes', true, () => Math.floor(random() * 3000)],
      ['random up to 20 bytes', false, () => Math.floor(random() * 20)],
      ['one byte', false, () => 1],
    ]
    for (const [name, long, sizes] of cuttings) {
      const chunks = chunked(MIXED(long), sizes)
      const shown = cut(chunks, registry()).map((block) => block.text)
      expect(shown, name).toEqual(textReference(chunks, registry()))
      const all = shown.join('\n')
      expect(all, name).not.toContain(PASSWORD)
      expect(all, name).not.toContain(UNICODE_SECRET)
      expect(all, name).not.toContain('IQoJb3JpZ2luX2VjEJr')
      expect(all, name).not.toContain('\u001b')
      expect(all, name).not.toContain('\r')
    }
  })

  it('passes a plain block on as the bytes the child wrote, and cleans the others as text', () => {
    const chunks = ['one\ntwo\nthr', 'ee\n', '\u001b[31mred\u001b[0m\n'].map((text) => Buffer.from(text))
    const blocks = cut(chunks, registry())
    expect(blocks.map((block) => [block.hasBytes, block.text])).toEqual([
      [true, 'one\ntwo'],
      [true, 'three'],
      [false, 'red'],
    ])
  })

  it('redacts a secret split between two chunks, and one that is not ASCII', () => {
    const line = Buffer.from(`a ${PASSWORD} b ${UNICODE_SECRET} c\n`)
    for (let at = 1; at < line.length; at++) {
      const blocks = cut([line.subarray(0, at), line.subarray(at)], registry())
      expect(blocks.map((block) => block.text).join('\n'), `cut at ${at}`).toBe('a ******** b ******** c')
    }
  })

  it('keeps a character whole when its bytes arrive in two chunks', () => {
    const line = Buffer.from('€ and 😀\n')
    for (let at = 1; at < line.length; at++) {
      const blocks = cut([line.subarray(0, at), line.subarray(at)], new SecretRegistry())
      expect(
        blocks.map((block) => block.text),
        `cut at ${at}`,
      ).toEqual(['€ and 😀'])
    }
  })

  it('still cleans escape sequences, \\r and credential headers', () => {
    const shown = (text: string): string =>
      cut([Buffer.from(text)], new SecretRegistry())
        .map((block) => block.text)
        .join('\n')
    expect(shown('\u001b[31mred\u001b[0m plain\n')).toBe('red plain')
    expect(shown('\u009b1mbold\u009b0m\n')).toBe('bold')
    expect(shown('10%\r50%\r\ndone\n')).toBe('10%\n50%\ndone')
    expect(shown('authorization=Bearer abc.def\n')).toBe('authorization=********')
    expect(shown('X-AMZ-SECURITY-TOKEN: FwoGZXIvYXdzEJr\n')).toBe('X-AMZ-SECURITY-TOKEN: ********')
    // A credential header's name alone, or a z elsewhere, changes nothing.
    expect(shown('zip authorizations lazily\n')).toBe('zip authorizations lazily')
  })
})

describe('OutputBlock', () => {
  it('reads the same from its bytes as from its text', () => {
    const text = 'first\nsecond ünïcode\n\nlast 😀'
    for (const block of [OutputBlock.ofText(text), OutputBlock.ofBytes(Buffer.from(text))]) {
      expect(block.text).toBe(text)
      expect(block.bytes.equals(Buffer.from(text))).toBe(true)
      expect(block.lines()).toEqual(text.split('\n'))
      expect(block.lastLines(2)).toEqual(['', 'last 😀'])
      expect(block.lastLines(9)).toEqual(text.split('\n'))
      expect(block.lastLines(0)).toEqual([])
      expect(block.includes('ünïcode')).toBe(true)
      expect(block.includes('absent')).toBe(false)
    }
    expect(OutputBlock.ofBytes(Buffer.alloc(0)).lastLines(3)).toEqual([''])
    expect(OutputBlock.ofBytes(Buffer.from('a\n')).lastLines(1)).toEqual([''])
  })
})

describe('LastLines: the tail of output streaming by, decoded only when asked', () => {
  it('gives the last lines across blocks of any size, text or bytes, as one list would', () => {
    let seed = 11
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      return seed / 2_147_483_648
    }
    const all: string[] = []
    const tail = new LastLines(5)
    for (let i = 0; i < 200; i++) {
      const lines = Array.from({length: 1 + Math.floor(random() * 8)}, (_, k) => `b${i} l${k} ü`)
      if (random() < 0.1) lines.push('')
      all.push(...lines)
      const text = lines.join('\n')
      tail.push(i % 2 === 0 ? OutputBlock.ofText(text) : OutputBlock.ofBytes(Buffer.from(text)))
      expect(tail.lines(), `after block ${i}`).toEqual(all.slice(-5))
    }
  })

  it('holds no more blocks than lines asked for; clear() forgets them; 0 keeps nothing', () => {
    const tail = new LastLines(3)
    for (const line of ['a', 'b', 'c', 'd']) tail.push(OutputBlock.ofText(line))
    expect(tail.lines()).toEqual(['b', 'c', 'd'])
    tail.push(OutputBlock.ofText('e\nf\ng\nh'))
    expect(tail.lines()).toEqual(['f', 'g', 'h'])
    tail.clear()
    expect(tail.lines()).toEqual([])
    const none = new LastLines(0)
    none.push(OutputBlock.ofText('a'))
    expect(none.lines()).toEqual([])
  })
})
