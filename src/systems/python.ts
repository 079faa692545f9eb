import {existsSync} from 'node:fs'
import path from 'node:path'

import type {Sourced} from '../sourced.js'
import {findExecutable} from './executables.js'

/** How to start the project's Python: a command, arguments before the script, extra environment. */
export interface PythonCommand {
  command: string
  prefix: string[]
  env: Record<string, string>
  /** Human description, e.g. "pipenv run python (Pipfile at the project root)". */
  description: string
  /** Only for the fallback python3: what was looked for and not found, and how to choose. */
  fallback?: string
}

/** The Python as a line names it: the fallback with why it was chosen. */
export function describeChosenPython(python: PythonCommand): string {
  return python.fallback === undefined ? python.description : `${python.description} (${python.fallback})`
}

/**
 * The project's Python, in this order: an explicit choice, the active virtualenv, pipenv where
 * the project has a Pipfile and pipenv is installed, else python3 (as ecr.sh did).
 */
export function resolvePython(
  explicit: Sourced<string> | undefined,
  env: Record<string, string | undefined>,
  root: string,
  cwd: string,
): Sourced<PythonCommand> {
  if (explicit !== undefined) {
    const command = explicit.value.includes('/') ? path.resolve(cwd, explicit.value) : explicit.value
    return {value: {command, prefix: [], env: {}, description: command}, source: explicit.source}
  }
  const venv = env.VIRTUAL_ENV
  if (venv !== undefined && venv !== '') {
    const command = path.join(venv, 'bin', 'python')
    return {value: {command, prefix: [], env: {}, description: command}, source: 'env VIRTUAL_ENV'}
  }
  const pipfile = path.join(root, 'Pipfile')
  if (existsSync(pipfile) && findExecutable('pipenv', env, cwd) !== undefined) {
    return {
      value: {
        command: 'pipenv',
        prefix: ['run', 'python'],
        env: {PIPENV_PIPFILE: pipfile},
        description: 'pipenv run python',
      },
      source: 'Pipfile at the project root',
    }
  }
  return {
    value: {
      command: 'python3',
      prefix: [],
      env: {},
      description: 'python3',
      fallback: fallbackReason(env, root),
    },
    source: 'default',
  }
}

/**
 * Why nothing better than python3 was found: the places looked at, in order. A venv folder in the
 * project is not used unless active (ecr.sh never looked for one) but is named, being the likely fix.
 */
function fallbackReason(env: Record<string, string | undefined>, root: string): string {
  const looked = [
    'no virtualenv active (VIRTUAL_ENV)',
    existsSync(path.join(root, 'Pipfile'))
      ? 'a Pipfile at the project root but no pipenv on PATH'
      : 'no Pipfile at the project root',
  ]
  const local = ['.venv', 'venv'].find((folder) => existsSync(path.join(root, folder, 'bin', 'python')))
  const choose =
    local === undefined
      ? 'set MLDEPLOY_PYTHON (or --python) to choose'
      : `the project's ${local}/ is not active: activate it, or set MLDEPLOY_PYTHON (or --python) to its bin/python`
  return `${looked.join(', ')}; ${choose}`
}
