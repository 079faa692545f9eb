import {describe, expect, it} from 'vitest'

import {formatElapsed, keepTail, TAIL_LINES} from '../../../src/cli/listr-host.js'

// At a terminal a running step shows its elapsed time and only the last lines of its child's
// output, so the task list stays on screen (the whole output goes to CI logs through LineHost).
describe('the task list at a terminal', () => {
  it('keeps the last few non-empty lines of a step, across chunks', () => {
    let tail: string[] = []
    tail = keepTail(tail, 'one\ntwo\n')
    expect(tail).toEqual(['one', 'two'])
    tail = keepTail(tail, 'three\n\nfour\nfive\nsix')
    expect(tail).toHaveLength(TAIL_LINES)
    expect(tail).toEqual(['three', 'four', 'five', 'six'])
    expect(keepTail(tail, '')).toEqual(tail)
  })

  it('says the elapsed time in seconds, then minutes', () => {
    expect(formatElapsed(999)).toBe('0s')
    expect(formatElapsed(12_400)).toBe('12s')
    expect(formatElapsed(184_000)).toBe('3m 04s')
  })
})
