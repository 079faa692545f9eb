import {EventEmitter} from 'node:events'

import {describe, expect, it} from 'vitest'

import {safeWriter} from '../../../src/cli/writer.js'

/** A stream whose reader is behind while `needDrain` is set, as a pipe to a slow CI runner. */
function slowStream() {
  const stream = Object.assign(new EventEmitter(), {
    writableNeedDrain: false,
    written: [] as string[],
    write(text: string) {
      stream.written.push(text)
      return !stream.writableNeedDrain
    },
  })
  return stream
}

describe('safeWriter', () => {
  it('says when its reader is behind, and when it has caught up', async () => {
    const stream = slowStream()
    const writer = safeWriter(stream as unknown as NodeJS.WriteStream)
    expect(writer.ready?.()).toBeUndefined()
    stream.writableNeedDrain = true
    const behind = writer.ready?.()
    expect(behind).toBeInstanceOf(Promise)
    // Everyone waiting waits for the same drain.
    expect(writer.ready?.()).toBe(behind)
    let caughtUp = false
    void behind?.then(() => {
      caughtUp = true
    })
    await Promise.resolve()
    expect(caughtUp).toBe(false)
    stream.writableNeedDrain = false
    stream.emit('drain')
    await behind
    expect(caughtUp).toBe(true)
    expect(writer.ready?.()).toBeUndefined()
    expect(stream.listenerCount('drain')).toBe(0)
  })

  it('a stream that breaks while behind releases the waiters, and is never waited for again', async () => {
    const stream = slowStream()
    const writer = safeWriter(stream as unknown as NodeJS.WriteStream)
    stream.writableNeedDrain = true
    const behind = writer.ready?.()
    stream.emit('error', new Error('EPIPE'))
    await behind
    expect(writer.ready?.()).toBeUndefined()
    writer.write('after the break')
    expect(stream.written).toEqual([])
  })
})
