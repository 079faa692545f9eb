import {describe, expect, it} from 'vitest'

import {formatElapsed, keepTail, TAIL_LINES} from '../../../src/cli/listr-host.js'
import {OutputBlock} from '../../../src/output-block.js'

// At a terminal a running step shows its elapsed time and only the last lines of its child's
// output, so the task list stays on screen (the whole output goes to CI logs through LineHost).
describe('the task list at a terminal', () => {
  it('keeps the last few non-empty lines of a step, across chunks', () => {
    // A child's block as its bytes, a check's line as text: the same lines either way.
    for (const block of [OutputBlock.ofText, (text: string) => OutputBlock.ofBytes(Buffer.from(text))]) {
      let tail: string[] = []
      tail = keepTail(tail, block('one\ntwo\n'))
      expect(tail).toEqual(['one', 'two'])
      tail = keepTail(tail, block('three\n\nfour\nfive\nsix'))
      expect(tail).toHaveLength(TAIL_LINES)
      expect(tail).toEqual(['three', 'four', 'five', 'six'])
      expect(keepTail(tail, block(''))).toEqual(tail)
      // Blank lines at the end of a block: the non-empty ones before them still count.
      expect(keepTail([], block(`x\nα\nb\n  \nc${'\n'.repeat(20)}`))).toEqual(['x', 'α', 'b', 'c'])
      expect(keepTail(['old'], block(`\n\nnew${'\n '.repeat(9)}`))).toEqual(['old', 'new'])
    }
  })

  it('takes the tail from the end of a large block', () => {
    const lines = Array.from({length: 50_000}, (_, i) => `line ${i}`)
    const block = OutputBlock.ofBytes(Buffer.from(lines.join('\n')))
    expect(keepTail([], block)).toEqual(lines.slice(-TAIL_LINES))
  })

  it('says the elapsed time in seconds, then minutes', () => {
    expect(formatElapsed(999)).toBe('0s')
    expect(formatElapsed(12_400)).toBe('12s')
    expect(formatElapsed(184_000)).toBe('3m 04s')
  })
})
