import {PLACEHOLDER} from '../images.js'
import type {DeployState} from '../pipeline/state.js'
import type {PlannedCommand, Step} from '../pipeline/step.js'
import {collectProvenance, mldeployVersion} from '../systems/bento-store.js'
import {bentomlEnv, containerizeArgs, containerizeOptions} from '../systems/bentoml.js'
import {probeDockerBuilder} from '../systems/docker-builder.js'
import {runPlanned} from './run-command.js'

/** Whether docker builds with buildx (probed when the step runs); the lead may move it onto the state. */
const dockerBuildx = new WeakMap<DeployState, boolean>()

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
      ...containerizeOptions({labels: state.labels, dockerBuildx: dockerBuildx.get(state) ?? false}),
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
    // Provenance labels (issue 11): best effort, a missing git or store entry costs a label, not the run.
    if (state.bentoTag !== undefined) {
      try {
        const python = state.config.python.value
        const {labels} = await collectProvenance({
          python,
          bentoTag: state.bentoTag,
          target: state.config.target,
          env: state.config.childEnv,
          mldeployVersion: mldeployVersion(),
          signal: io.signal,
        })
        state.labels = labels
      } catch (error) {
        state.warn(`Provenance labels incomplete: ${(error as Error).message}`)
      }
    }
    if (state.config.backend.value === 'docker')
      dockerBuildx.set(
        state,
        (await probeDockerBuilder(state.config.childEnv, state.config.target.dir)) === 'buildx',
      )
    await runPlanned(state, io, containerizeCommand(state), {
      step: 'containerize',
      doing: `bentoml containerize (${state.config.backend.value})`,
    })
  },
}
