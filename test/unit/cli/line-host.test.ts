import {describe, expect, it} from 'vitest'

import {LineHost, PROGRESS_EVERY_MS, QuietHost} from '../../../src/cli/line-host.js'
import type {Writer} from '../../../src/cli/writer.js'
import {OutputBlock} from '../../../src/output-block.js'

const PUSH = {target: undefined, id: 'push', title: 'Push the image'}

function host(kind: typeof LineHost = LineHost) {
  const written: string[] = []
  const clock = {now: 0}
  const writer = {write: (text: string) => written.push(text)} as unknown as Writer
  return {host: new kind(writer, () => clock.now), written, clock}
}

const progressLines = (written: string[]): string[] =>
  written.filter((text) => text.includes('layers')).map((text) => text.replace(/^\[[\d:]+\] {3}/, ''))

describe('progress in CI logs (LineHost)', () => {
  it('prints at most one progress line per 10 s of a step, the latest text', () => {
    const {host: lines, written, clock} = host()
    lines.stepStarted(PUSH)
    lines.stepProgress(PUSH, '0/13 layers done, 0s')
    clock.now = PROGRESS_EVERY_MS - 1
    lines.stepProgress(PUSH, '0/13 layers done, 9s')
    clock.now = PROGRESS_EVERY_MS
    lines.stepProgress(PUSH, '2/13 layers done, 10s')
    clock.now = PROGRESS_EVERY_MS + 5000
    lines.stepProgress(PUSH, '3/13 layers done, 15s')
    clock.now = 2 * PROGRESS_EVERY_MS + 1
    lines.stepProgress(PUSH, '13/13 layers done, 20s')
    expect(progressLines(written)).toEqual(['2/13 layers done, 10s\n', '13/13 layers done, 20s\n'])
  })

  it('counts from each step start, and per target', () => {
    const {host: lines, written, clock} = host()
    const other = {...PUSH, target: 'modelB/V1'}
    lines.stepStarted(PUSH)
    clock.now = 8000
    lines.stepStarted(other)
    clock.now = 10_000
    lines.stepProgress(PUSH, '1/2 layers done, 10s')
    lines.stepProgress(other, '1/5 layers done, 2s')
    expect(progressLines(written)).toEqual(['1/2 layers done, 10s\n'])
    clock.now = 18_000
    lines.stepProgress(other, '4/5 layers done, 10s')
    expect(progressLines(written).at(-1)).toBe('[modelB/V1] 4/5 layers done, 10s\n')
  })

  it('--quiet shows no progress', () => {
    const {host: quiet, written, clock} = host(QuietHost)
    quiet.stepStarted(PUSH)
    clock.now = 60_000
    quiet.stepProgress(PUSH, '1/2 layers done, 60s')
    expect(written).toEqual([])
  })
})

describe("a child's output in CI logs (LineHost)", () => {
  /** What reached stderr, as the bytes a CI log gets. */
  function bytesOf(write: (host: LineHost) => void): Buffer {
    const written: Buffer[] = []
    const writer: Writer = {
      write: (text, encoding) => written.push(Buffer.from(text, encoding ?? 'utf8')),
    }
    write(new LineHost(writer))
    return Buffer.concat(written)
  }

  it('prefixes every line of a block with one timestamp, the same bytes from bytes as from text', () => {
    const text = 'naïve café\n\n漢字 and 😀\nlast'
    const step = {...PUSH, target: 'modèle/V1'}
    for (const block of [OutputBlock.ofText(text), OutputBlock.ofBytes(Buffer.from(text))]) {
      const shown = bytesOf((host) => host.stepOutput(step, block)).toString('utf8')
      const stamp = shown.slice(0, 10)
      expect(stamp).toMatch(/^\[\d\d:\d\d:\d\d\]$/)
      expect(shown).toBe(
        [`naïve café`, '', '漢字 and 😀', 'last'].map((line) => `${stamp}   [modèle/V1] ${line}\n`).join(''),
      )
    }
  })

  it('shows a block of one line as one line', () => {
    const one = bytesOf((host) => host.stepOutput(PUSH, OutputBlock.ofBytes(Buffer.from('only'))))
    expect(one.toString()).toMatch(/^\[[\d:]+\] {3}only\n$/)
  })
})

describe('flow control (LineHost)', () => {
  it("is behind exactly when its writer's reader is", () => {
    const behind = Promise.resolve()
    let ready: Promise<void> | undefined = undefined
    const writer: Writer = {write: () => undefined, ready: () => ready}
    const lines = new LineHost(writer)
    expect(lines.outputReady()).toBeUndefined()
    ready = behind
    expect(lines.outputReady()).toBe(behind)
  })
})

describe('step ends in CI logs (LineHost)', () => {
  const CONTAINERIZE = {target: undefined, id: 'containerize', title: 'Containerize'}
  const strip = (written: string[]): string[] => written.map((text) => text.replace(/^\[[\d:]+\] /, ''))

  it('a step that ran and skipped its work says why; one skipped after a failure says nothing', () => {
    const {host: lines, written} = host()
    lines.stepEnded(CONTAINERIZE, 'skipped', 40, undefined, 'reused r/m@sha256:1 (same content)')
    lines.stepEnded(PUSH, 'skipped', 0)
    lines.stepEnded(PUSH, 'done', 1500)
    expect(strip(written)).toEqual([
      '↓ Containerize [skipped: reused r/m@sha256:1 (same content)] (0.0 s)\n',
      '✔ Push the image (1.5 s)\n',
    ])
  })
})
