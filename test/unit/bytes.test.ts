import {describe, expect, it} from 'vitest'

import {formatBytes} from '../../src/bytes.js'

describe('formatBytes', () => {
  it('prints GiB with one decimal from one GiB up, MiB and KiB whole (rounded down) below, bytes under a KiB', () => {
    expect(formatBytes(1024 ** 3)).toBe('1.0 GiB')
    expect(formatBytes(10.25 * 1024 ** 3)).toBe('10.3 GiB')
    expect(formatBytes(1024 ** 3 - 1024 ** 2)).toBe('1023 MiB')
    expect(formatBytes(5 * 1024 ** 2)).toBe('5 MiB')
    expect(formatBytes(1024 ** 2 - 1)).toBe('1023 KiB')
    expect(formatBytes(1536)).toBe('1 KiB')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(0)).toBe('0 B')
  })
})
