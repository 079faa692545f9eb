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
  return {value: {command: 'python3', prefix: [], env: {}, description: 'python3'}, source: 'default'}
}
