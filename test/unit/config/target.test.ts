import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {UsageError} from '../../../src/errors.js'
import {
  findProjectRoot,
  missingTarget,
  modelContaining,
  parseTargetName,
  resolveRoot,
  resolveTarget,
  targetAt,
} from '../../../src/config/target.js'
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

describe('no target given inside a model folder', () => {
  it("lists that model's versions (V2 before V10) and the command to run", () => {
    const root = makeProject({'deploy/modelA/V10/service.py': '', 'deploy/modelA/V2/service.py': ''})
    const model = path.join(root, 'deploy/modelA')
    expect(missingTarget(undefined, model, 'push').message).toBe(
      'Missing target: deploy/modelA/ holds versions V1, V2, V10: run mldeploy push modelA/V1 (or cd into a version).',
    )
    expect(missingTarget(root, model, 'migrate').message).toContain('run mldeploy migrate modelA/V1')
    expect(missingTarget(undefined, model, 'push').hint).toBeUndefined()
    expect(() => targetAt(root, model)).toThrow(
      'No target here: deploy/modelA/ holds versions V1, V2, V10: name one as modelA/V1 (or cd into a version).',
    )
  })

  it('a model folder without versions says to create one; elsewhere the general advice', () => {
    const root = makeProject()
    mkdirSync(path.join(root, 'deploy/modelB'))
    expect(missingTarget(undefined, path.join(root, 'deploy/modelB'), 'push').message).toBe(
      'Missing target: deploy/modelB/ holds no version folder yet: create one with mldeploy init modelB/<version>.',
    )
    for (const cwd of [root, path.join(root, 'deploy'), tempDir('elsewhere')])
      expect(missingTarget(undefined, cwd, 'push')).toMatchObject({
        message: 'Missing target: name one or more as <model>/<version>, or use --all.',
        hint: 'See: mldeploy push --help.',
      })
    // A --root without deploy/ is the general advice too, not a second error.
    expect(missingTarget(tempDir('noroot'), root, 'push').message).toContain('name one or more')
  })

  it('only the model folder itself counts: not a version, deeper, a dot folder or outside deploy/', () => {
    const root = makeProject()
    mkdirSync(path.join(root, 'deploy/.git'))
    expect(modelContaining(root, path.join(root, 'deploy/modelA'))).toBe('modelA')
    expect(modelContaining(root, path.join(root, 'deploy/modelA/V1'))).toBeUndefined()
    expect(modelContaining(root, path.join(root, 'deploy/.git'))).toBeUndefined()
    expect(modelContaining(root, path.join(root, 'deploy'))).toBeUndefined()
    expect(modelContaining(root, root)).toBeUndefined()
    expect(modelContaining(root, path.join(root, 'missing'))).toBeUndefined()
  })
})
