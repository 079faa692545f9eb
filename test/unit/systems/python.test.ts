import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {resolvePython} from '../../../src/systems/python.js'
import {tempDir} from '../../helpers/cli.js'

/** A project root with a Pipfile, and a bin folder with a pipenv in it. */
function pipenvProject() {
  const root = tempDir('py')
  writeFileSync(path.join(root, 'Pipfile'), '[packages]\n')
  const bin = path.join(root, 'bin')
  mkdirSync(bin)
  writeFileSync(path.join(bin, 'pipenv'), '#!/bin/sh\n')
  chmodSync(path.join(bin, 'pipenv'), 0o755)
  return {root, bin}
}

describe('resolvePython', () => {
  it('an explicit choice wins; a relative path is taken from cwd, a bare name from PATH', () => {
    const {root, bin} = pipenvProject()
    const env = {PATH: bin, VIRTUAL_ENV: '/venv'}
    expect(resolvePython({value: './py/python', source: 'flag --python'}, env, root, '/work')).toEqual({
      value: {command: '/work/py/python', prefix: [], env: {}, description: '/work/py/python'},
      source: 'flag --python',
    })
    expect(
      resolvePython({value: 'python3.11', source: 'env MLDEPLOY_PYTHON'}, env, root, '/work').value.command,
    ).toBe('python3.11')
  })

  it('then the active virtualenv', () => {
    const {root, bin} = pipenvProject()
    expect(resolvePython(undefined, {PATH: bin, VIRTUAL_ENV: '/venv'}, root, root)).toEqual({
      value: {command: '/venv/bin/python', prefix: [], env: {}, description: '/venv/bin/python'},
      source: 'env VIRTUAL_ENV',
    })
  })

  it('then pipenv, when the project has a Pipfile and pipenv is installed', () => {
    const {root, bin} = pipenvProject()
    expect(resolvePython(undefined, {PATH: bin, VIRTUAL_ENV: ''}, root, root)).toEqual({
      value: {
        command: 'pipenv',
        prefix: ['run', 'python'],
        env: {PIPENV_PIPFILE: path.join(root, 'Pipfile')},
        description: 'pipenv run python',
      },
      source: 'Pipfile at the project root',
    })
  })

  it('else python3: no pipenv installed, or no Pipfile', () => {
    const {root, bin} = pipenvProject()
    const fallback = {
      value: {command: 'python3', prefix: [], env: {}, description: 'python3'},
      source: 'default',
    }
    expect(resolvePython(undefined, {PATH: '/nonexistent'}, root, root)).toEqual(fallback)
    expect(resolvePython(undefined, {PATH: bin}, tempDir('nopipfile'), root)).toEqual(fallback)
  })
})
