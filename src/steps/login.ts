import path from 'node:path'

import {CheckError} from '../errors.js'
import type {DeployState} from '../pipeline/state.js'
import type {PlannedCommand, Step, StepIO} from '../pipeline/step.js'
import {authEnv, loginArgs} from '../systems/backend.js'
import {explainRegistryFailure} from '../systems/registry-errors.js'
import {backendCommand} from './engine-command.js'
import {runPlanned} from './run-command.js'

/** Where this run keeps its login: a private folder, unless the user wants to keep the login. */
export function backendAuthEnv(state: DeployState): Record<string, string> {
  if (state.config.keepLogin) return {}
  const dir = state.workDir ?? path.join('$TMPDIR', 'mldeploy-XXXXXX')
  return authEnv(state.config.backend.value, dir)
}

export function loginCommand(state: DeployState): PlannedCommand {
  return {
    ...backendCommand(state, loginArgs(state.registry.value), backendAuthEnv(state)),
    stdinDescription: 'the ECR password from GetAuthorizationToken',
  }
}

export const loginStep: Step<DeployState> = {
  id: 'login',
  title: 'Log in to the registry',
  failure: 'auth',
  // Issue 23: it needs the token (preflight) and the reuse decision only, so it runs beside
  // labels and containerize; a failure is still the login's (exit class auth), shown at its turn.
  startsAfter: 'reuse',
  describe: (state) =>
    state.reuse?.source === 'repository'
      ? {
          actions: [
            {text: 'Skipped: nothing to upload (the image is reused from the repository)', calls: []},
          ],
          commands: [],
        }
      : {
          actions: [],
          commands: [
            state.content === undefined && !state.config.rebuild
              ? {...loginCommand(state), when: 'the image is not reused from the repository'}
              : loginCommand(state),
          ],
        },
  async run(state, io) {
    // Reused from the repository (issue 12): tags go through the API, no backend login needed.
    if (state.reuse?.source === 'repository') {
      io.skip?.('nothing to upload: the image is reused from the repository')
      return
    }
    await runLogin(state, io)
  },
}

export async function runLogin(state: DeployState, io: StepIO): Promise<void> {
  const authorization = state.authorization
  if (authorization === undefined) {
    throw new CheckError('no-token', 'No ECR login token: the preflight did not fetch one.')
  }
  await runPlanned(state, io, loginCommand(state), {
    step: 'login',
    doing: `${state.config.backend.value} login to ${state.registry.value}`,
    input: authorization.password,
    explain: (tail) => explainRegistryFailure(tail, `${state.config.backend.value} login`),
  })
}
