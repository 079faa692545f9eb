import {describe, expect, it} from 'vitest'

import {type DoctorResult, formatDoctor} from '../../../src/doctor/doctor.js'

const result = {
  status: 'failed',
  target: null,
  root: null,
  stage: null,
  envFiles: [],
  settings: {},
  checks: [
    {id: 'node', title: 'Node.js', status: 'pass', message: 'v20', durationMs: 1},
    {id: 'disk', title: 'Disk', status: 'warn', message: 'low', fix: 'free some', durationMs: 1},
    {id: 'aws', title: 'AWS', status: 'fail', message: 'no credentials', fix: 'log in', durationMs: 1},
  ],
  counts: {pass: 1, warn: 1, fail: 1, skip: 0},
} as DoctorResult

describe("doctor's report", () => {
  it('colours pass, warn and fail at a terminal', () => {
    const text = formatDoctor(result, false, true)
    expect(text).toContain('\u001B[32mpass\u001B[0m  Node.js')
    expect(text).toContain('\u001B[33mwarn\u001B[0m  Disk')
    expect(text).toContain('\u001B[31mfail\u001B[0m  AWS')
  })

  it('has no escape codes elsewhere (a pipe, a log, NO_COLOR)', () => {
    const text = formatDoctor(result)
    expect(text).not.toContain('\u001B[')
    expect(text).toContain('fail  AWS')
  })
})
