import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {findExecutable} from '../../../src/systems/executables.js'
import {tempDir} from '../../helpers/cli.js'

function folders() {
  const root = tempDir('exec')
  const a = path.join(root, 'a')
  const b = path.join(root, 'b')
  mkdirSync(a)
  mkdirSync(b)
  const write = (dir: string, name: string, mode: number) => {
    writeFileSync(path.join(dir, name), '#!/bin/sh\n')
    chmodSync(path.join(dir, name), mode)
  }
  write(a, 'plain', 0o644)
  write(b, 'plain', 0o755)
  write(a, 'tool', 0o755)
  write(b, 'tool', 0o755)
  mkdirSync(path.join(a, 'dir-named-tool'))
  return {root, a, b}
}

describe('findExecutable', () => {
  it('takes the first executable file on PATH, skipping non-executables and empty entries', () => {
    const {a, b} = folders()
    const env = {PATH: ['', a, b].join(path.delimiter)}
    expect(findExecutable('tool', env, '/')).toBe(path.join(a, 'tool'))
    expect(findExecutable('plain', env, '/')).toBe(path.join(b, 'plain'))
    expect(findExecutable('dir-named-tool', env, '/')).toBeUndefined()
    expect(findExecutable('missing', env, '/')).toBeUndefined()
  })

  it('an empty PATH entry does not mean the current folder', () => {
    const {a} = folders()
    expect(findExecutable('tool', {PATH: ''}, a)).toBeUndefined()
    expect(findExecutable('tool', {}, a)).toBeUndefined()
  })

  it('a name with a slash is a path, relative to cwd, and must be executable', () => {
    const {root, a} = folders()
    expect(findExecutable('a/tool', {PATH: ''}, root)).toBe(path.join(a, 'tool'))
    expect(findExecutable(path.join(a, 'plain'), {}, '/')).toBeUndefined()
    expect(findExecutable('a/dir-named-tool', {}, root)).toBeUndefined()
    expect(findExecutable('a/none', {}, root)).toBeUndefined()
  })
})
