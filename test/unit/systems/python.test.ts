import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {describeChosenPython, resolvePython} from '../../../src/systems/python.js'
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

  it('else python3, saying why: no pipenv installed, or no Pipfile', () => {
    const {root, bin} = pipenvProject()
    const fallback = (why: string) => ({
      value: {command: 'python3', prefix: [], env: {}, description: 'python3', fallback: why},
      source: 'default',
    })
    const choose = 'set MLDEPLOY_PYTHON (or --python) to choose'
    expect(resolvePython(undefined, {PATH: '/nonexistent'}, root, root)).toEqual(
      fallback(
        `no virtualenv active (VIRTUAL_ENV), a Pipfile at the project root but no pipenv on PATH; ${choose}`,
      ),
    )
    expect(resolvePython(undefined, {PATH: bin}, tempDir('nopipfile'), root)).toEqual(
      fallback(`no virtualenv active (VIRTUAL_ENV), no Pipfile at the project root; ${choose}`),
    )
  })

  it('names a venv folder in the project that is not active (it is not used: ecr.sh never looked for one)', () => {
    for (const folder of ['.venv', 'venv']) {
      const root = tempDir('venv')
      mkdirSync(path.join(root, folder, 'bin'), {recursive: true})
      writeFileSync(path.join(root, folder, 'bin', 'python'), '')
      const python = resolvePython(undefined, {PATH: '/nonexistent'}, root, root).value
      expect(python.command).toBe('python3')
      expect(describeChosenPython(python)).toBe(
        `python3 (no virtualenv active (VIRTUAL_ENV), no Pipfile at the project root; the project's ${folder}/ is not active: activate it, or set MLDEPLOY_PYTHON (or --python) to its bin/python)`,
      )
    }
  })

  it('only the fallback carries a reason', () => {
    const {root, bin} = pipenvProject()
    const chosen = resolvePython(undefined, {PATH: bin}, root, root).value
    expect(describeChosenPython(chosen)).toBe('pipenv run python')
  })
})
