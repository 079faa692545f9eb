import {describe, expect, it} from 'vitest'

import {
  DEFAULT_TIMEOUTS_MS,
  MAX_DURATION_MS,
  MIN_DURATION_MS,
  parseDuration,
  resolveTimeouts,
} from '../../../src/config/timeouts.js'
import {STEP_IDS} from '../../../src/step-ids.js'

describe('step time limits', () => {
  it('has a default for every step, long enough for real builds', () => {
    expect(Object.keys(DEFAULT_TIMEOUTS_MS)).toEqual([...STEP_IDS])
    expect(DEFAULT_TIMEOUTS_MS).toEqual({
      preflight: 120_000,
      import: 1_800_000,
      build: 1_800_000,
      reuse: 600_000,
      containerize: 5_400_000,
      login: 120_000,
      push: 3_600_000,
      serving: 600_000,
      scan: 600_000,
      tag: 300_000,
      verify: 300_000,
    })
    expect([MIN_DURATION_MS, MAX_DURATION_MS]).toEqual([1000, 86_400_000])
  })

  it('reads seconds, minutes and hours, with decimals and spaces around', () => {
    expect(parseDuration(' 90s ', 'x')).toBe(90_000)
    expect(parseDuration('45m', 'x')).toBe(2_700_000)
    expect(parseDuration('2h', 'x')).toBe(7_200_000)
    expect(parseDuration('0.5h', 'x')).toBe(1_800_000)
    expect(parseDuration('1.0001s', 'x')).toBe(1000)
  })

  it.each([
    ['forever', '"forever" is not a duration.'],
    ['-5s', '"-5s" is not a duration.'],
    ['5 s', '"5 s" is not a duration.'],
    ['90', '"90" has no unit: use s, m or h.'],
    ['2d', '"2d": d is not a unit: use s, m or h.'],
    ['0h', '"0h" is too short: it must be at least 1s.'],
    ['0', '"0" is too short: it must be at least 1s.'],
    ['0.9s', '"0.9s" is too short: it must be at least 1s.'],
    ['24.01h', '"24.01h" is too long: it must be at most 24h.'],
    ['1441m', '"1441m" is too long: it must be at most 24h.'],
  ])('refuses %j', (text, message) => {
    expect(() => parseDuration(text, '--timeout build')).toThrow(`--timeout build: ${message}`)
  })

  it('cuts a long value in the message', () => {
    expect(() => parseDuration('x'.repeat(100), 'T')).toThrow(`T: "${'x'.repeat(40)}" is not a duration.`)
  })

  it('sets the named steps and keeps the defaults of the others', () => {
    const timeouts = resolveTimeouts([' build = 2h ', 'push=90s', 'build=3h'], '--timeout')
    expect(timeouts.build).toBe(3 * 3_600_000)
    expect(timeouts.push).toBe(90_000)
    expect(timeouts.containerize).toBe(DEFAULT_TIMEOUTS_MS.containerize)
    // The defaults themselves are never changed.
    expect(DEFAULT_TIMEOUTS_MS.build).toBe(1_800_000)
    expect(resolveTimeouts([], 'x')).toEqual(DEFAULT_TIMEOUTS_MS)
  })

  it.each(['build', 'compile=2h', '=2h', 'build:2h'])('refuses the item %j, listing the steps', (item) => {
    expect(() => resolveTimeouts([item], 'Timeouts (from env MLDEPLOY_TIMEOUTS)')).toThrow(
      `Timeouts (from env MLDEPLOY_TIMEOUTS): ${JSON.stringify(item)} is not <step>=<duration>.`,
    )
    try {
      resolveTimeouts([item], 'T')
    } catch (error) {
      expect((error as {hint: string}).hint).toBe(
        'Steps: preflight, import, build, reuse, containerize, login, push, serving, scan, tag, verify; e.g. --timeout containerize=2h.',
      )
    }
  })

  it('names the step when its duration is bad', () => {
    expect(() => resolveTimeouts(['login=soon'], '--timeout')).toThrow(
      '--timeout login: "soon" is not a duration.',
    )
  })
})
