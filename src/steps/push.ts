import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {DeployError} from '../errors.js'
import type {DeployState} from '../pipeline/state.js'
import type {PlannedCommand, Step} from '../pipeline/step.js'
import {digestFromPushLine, isDigest, pushArgs} from '../systems/backend.js'
import {explainRegistryFailure} from '../systems/registry-errors.js'
import {backendAuthEnv} from './login.js'
import {runPlanned} from './run-command.js'

export function digestFile(state: DeployState, index: number): string {
  return path.join(state.workDir ?? path.join('$TMPDIR', 'mldeploy-XXXXXX'), `digest-${index}`)
}

export function pushCommands(state: DeployState): PlannedCommand[] {
  const backend = state.config.backend.value
  return state.images.map((image, index) => ({
    command: backend,
    args: pushArgs(backend, image, digestFile(state, index)),
    cwd: state.config.target.dir,
    env: backendAuthEnv(state),
  }))
}

export const pushStep: Step = {
  id: 'push',
  title: 'Push the images',
  failure: 'push',
  describe: (state) => ({actions: [], commands: pushCommands(state)}),
  async run(state, io) {
    const commands = pushCommands(state)
    const images = state.images
    for (const [index, command] of commands.entries()) {
      let printed: string | undefined
      await runPlanned(state, io, command, {
        failure: 'push',
        doing: `Pushing ${images[index]}`,
        onLine: (line) => {
          printed = digestFromPushLine(line) ?? printed
        },
        explain: (tail) => explainRegistryFailure(tail, 'push', `Pushing ${images[index]}`),
      })
      const digest =
        state.config.backend.value === 'podman' ? await readDigest(digestFile(state, index)) : printed
      if (digest === undefined || !isDigest(digest)) {
        throw new DeployError('push', `Pushed ${images[index]} but could not read its digest.`)
      }
      if (state.digest !== undefined && state.digest !== digest) {
        throw new DeployError(
          'push',
          `${images[index]} was pushed as ${digest}, but the first tag as ${state.digest}.`,
          {
            hint: 'The image changed between pushes; run again.',
          },
        )
      }
      state.digest = digest
      io.output(`${images[index]} -> ${digest}`)
    }
  },
}

async function readDigest(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch {
    return undefined
  }
}
