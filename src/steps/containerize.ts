import {PLACEHOLDER} from '../images.js'
import type {DeployState} from '../pipeline/state.js'
import type {PlannedCommand, Step} from '../pipeline/step.js'
import {bentomlEnv, containerizeArgs, containerizeOptions} from '../systems/bentoml.js'
import {runPlanned} from './run-command.js'

export function containerizeCommand(state: DeployState): PlannedCommand {
  const {config} = state
  const python = config.python.value
  const bentoTag =
    state.bentoTag ?? `<bento-name>:${state.config.bentoVersion?.value ?? PLACEHOLDER.bentoVersion}`
  return {
    command: python.command,
    args: [
      ...python.prefix,
      ...containerizeArgs(bentoTag, config.backend.value, state.images, config.platform?.value),
      ...containerizeOptions({labels: state.labels, dockerBuildx: state.dockerBuildx}),
    ],
    cwd: config.target.dir,
    env: {...python.env, ...bentomlEnv()},
  }
}

export const containerizeStep: Step<DeployState> = {
  id: 'containerize',
  title: 'Containerize',
  failure: 'containerize',
  describe: (state) => ({actions: [], commands: [containerizeCommand(state)]}),
  async run(state, io) {
    await runPlanned(state, io, containerizeCommand(state), {
      step: 'containerize',
      doing: `bentoml containerize (${state.config.backend.value})`,
    })
  },
}
