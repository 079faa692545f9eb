import {CONTENT_LABEL} from '../content-digest.js'
import {PLACEHOLDER} from '../images.js'
import type {DeployState} from '../pipeline/state.js'
import {note, type PlannedCommand, type Step, type StepDescription} from '../pipeline/step.js'
import {tagArgs} from '../systems/backend.js'
import {bentomlEnv, containerizeArgs, containerizeOptions} from '../systems/bentoml.js'
import {backendCommand, backendEngineEnv} from './engine-command.js'
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
      ...containerizeOptions({labels: imageLabels(state), dockerBuildx: state.dockerBuildx}),
    ],
    cwd: config.target.dir,
    // bentoml starts the backend CLI itself: the remote engine reaches it through the environment.
    env: {...python.env, ...bentomlEnv(), ...backendEngineEnv(state)},
  }
}

// --- reuse (issue 12) ---

/** Provenance labels plus the content digest, which the local reuse lookup filters on. */
function imageLabels(state: DeployState): Record<string, string> {
  return state.content === undefined ? state.labels : {...state.labels, [CONTENT_LABEL]: state.content.digest}
}

/** Local reuse: the image with this content gets the name the push uploads. */
export function localTagCommand(state: DeployState): PlannedCommand {
  const source = state.reuse?.source === 'local' ? state.reuse.imageId : '<local-image-id>'
  return backendCommand(state, tagArgs(source, state.uploadImage))
}

function describeContainerize(state: DeployState): StepDescription {
  const reuse = state.reuse
  if (reuse?.source === 'repository')
    return {
      actions: [note(`Skipped: the repository already has this content (${reuse.digest})`)],
      commands: [],
    }
  if (reuse?.source === 'local')
    return {
      actions: [note(`Skipped: the local engine has image ${reuse.imageId} with this content`)],
      commands: [localTagCommand(state)],
    }
  // Before the reuse step has decided (the dry run): both possibilities, each with its condition.
  if (state.content === undefined && !state.config.rebuild)
    return {
      actions: [],
      commands: [
        {
          ...containerizeCommand(state),
          when: 'no image with this content is in the repository or the local engine',
        },
        {...localTagCommand(state), when: 'only the local engine has an image with this content'},
      ],
    }
  return {actions: [], commands: [containerizeCommand(state)]}
}
// --- end reuse ---

export const containerizeStep: Step<DeployState> = {
  id: 'containerize',
  title: 'Containerize',
  failure: 'containerize',
  describe: describeContainerize,
  async run(state, io) {
    if (state.reuse?.source === 'repository') {
      const image = `${state.registry.value}/${state.config.repository.value}@${state.reuse.digest}`
      io.skip?.(`reused ${image} (same content)`)
      return
    }
    if (state.reuse?.source === 'local') {
      await runPlanned(state, io, localTagCommand(state), {
        step: 'containerize',
        doing: `Naming the local image ${state.reuse.imageId} ${state.uploadImage}`,
      })
      io.skip?.(`reused local image ${state.reuse.imageId} (same content)`)
      return
    }
    await runPlanned(state, io, containerizeCommand(state), {
      step: 'containerize',
      doing: `bentoml containerize (${state.config.backend.value})`,
    })
    state.builtLocally = true
  },
}
