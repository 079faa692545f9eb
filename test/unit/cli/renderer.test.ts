import {describe, expect, it} from 'vitest'

import {chooseRenderer} from '../../../src/cli/renderer.js'

describe('renderer choice', () => {
  const tty = {stdoutIsTTY: true, stderrIsTTY: true, env: {}, json: false}
  it('animates only for a person at a terminal', () => {
    expect(chooseRenderer(tty)).toBe('default')
  })
  it.each([
    [{...tty, stdoutIsTTY: false}],
    [{...tty, env: {CI: 'true'}}],
    [{...tty, json: true}],
    [{...tty, env: {TERM: 'dumb'}}],
  ])('prints timestamped lines otherwise (%j)', (environment) => {
    expect(chooseRenderer(environment)).toBe('verbose')
  })
  it('treats CI=false as no CI', () => {
    expect(chooseRenderer({...tty, env: {CI: 'false'}})).toBe('default')
  })
})
