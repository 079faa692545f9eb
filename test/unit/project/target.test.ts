import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {UsageError} from '../../../src/errors.js'
import {findProjectRoot, parseTargetName, resolveRoot, resolveTarget} from '../../../src/project/target.js'
import {makeProject, tempDir} from '../../helpers/cli.js'

function usage(fn: () => unknown): UsageError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    expect((error as UsageError).domain).toBe('usage')
    return error as UsageError
  }
  throw new Error('expected a usage error')
}

describe('target names', () => {
  it('accepts model/version with or without deploy/ and a trailing slash', () => {
    expect(parseTargetName('modelA/V1')).toEqual({model: 'modelA', version: 'V1'})
    expect(parseTargetName('deploy/modelA/V1/')).toEqual({model: 'modelA', version: 'V1'})
  })

  it.each([
    ['', /empty/],
    ['/etc/passwd', /absolute path/],
    ['../x/V1', /leaves deploy/],
    ['modelA/../../x', /leaves deploy/],
    ['modelA', /not of the form/],
    ['a/b/c', /not of the form/],
    ['modelA/V 1', /invalid folder name/],
    ['modelA/-V1', /invalid folder name/],
  ])('refuses %j', (spec, message) => {
    expect(usage(() => parseTargetName(spec)).message).toMatch(message)
  })
})

describe('resolving against the project', () => {
  it('finds the root by walking up, and resolves the target folder', () => {
    const root = makeProject()
    const deep = path.join(root, 'deploy/modelA/V1')
    expect(findProjectRoot(deep)).toBe(root)
    const target = resolveTarget('modelA/V1', resolveRoot(undefined, deep))
    expect(target).toEqual({name: 'modelA/V1', model: 'modelA', version: 'V1', dir: deep, root})
  })

  it('explains a missing root and a --root without deploy/', () => {
    const empty = tempDir('empty')
    expect(usage(() => resolveRoot(undefined, empty)).message).toMatch(/No project found/)
    expect(usage(() => resolveRoot(empty, '/')).message).toMatch(/has no deploy\/ folder/)
  })

  it('names the missing files', () => {
    const root = makeProject()
    mkdirSync(path.join(root, 'deploy/modelB/V1'), {recursive: true})
    writeFileSync(path.join(root, 'deploy/modelB/V1/service.py'), '')
    expect(usage(() => resolveTarget('modelB/V1', root)).message).toMatch(/missing create_bento_model.py/)
    expect(usage(() => resolveTarget('modelC/V1', root)).message).toMatch(/not found/)
  })

  it('refuses a target that is a symlink to a folder outside deploy/', () => {
    const root = makeProject()
    const outside = makeProject()
    mkdirSync(path.join(root, 'deploy/linked'), {recursive: true})
    symlinkSync(path.join(outside, 'deploy/modelA/V1'), path.join(root, 'deploy/linked/V1'))
    expect(usage(() => resolveTarget('linked/V1', root)).message).toMatch(/outside/)
  })

  it('refuses required files that are symlinks out of deploy/', () => {
    const root = makeProject()
    const dir = path.join(root, 'deploy/modelD/V1')
    mkdirSync(dir, {recursive: true})
    writeFileSync(path.join(dir, 'create_bento_model.py'), '')
    symlinkSync('/etc/hostname', path.join(dir, 'service.py'))
    expect(usage(() => resolveTarget('modelD/V1', root)).message).toMatch(/symlink .* outside deploy/)
  })
})
