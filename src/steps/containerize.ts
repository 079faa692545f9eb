import {mkdir, rm} from 'node:fs/promises'
import path from 'node:path'

import {CONTENT_LABEL} from '../content-digest.js'
import {CheckError} from '../errors.js'
import {PLACEHOLDER} from '../images.js'
import {adapterOn, type DeployState} from '../pipeline/state.js'
import {
  note,
  type PlannedAction,
  type PlannedCommand,
  type Step,
  type StepDescription,
  type StepIO,
} from '../pipeline/step.js'
import {
  ADAPTER_DIR,
  ADAPTER_FILE,
  ADAPTER_SHA,
  adapterBuildArgs,
  bentoImageName,
  writeAdapterContext,
} from '../systems/sagemaker-adapter.js'
import {tagArgs} from '../systems/backend.js'
import {bentomlEnv, containerizeArgs, containerizeOptions} from '../systems/bentoml.js'
import {backendCommand, backendEngineEnv} from './engine-command.js'
import {runPlanned} from './run-command.js'

export function containerizeCommand(state: DeployState): PlannedCommand {
  const {config} = state
  // Issue 24: with the adapter, the bento image gets a local name; the layer gets the registry's.
  const names = adapterOn(state)
    ? [bentoImageName(config.repository.value, state.bentoVersion)]
    : state.images
  const python = config.python.value
  const bentoTag =
    state.bentoTag ?? `<bento-name>:${state.config.bentoVersion?.value ?? PLACEHOLDER.bentoVersion}`
  return {
    command: python.command,
    args: [
      ...python.prefix,
      ...containerizeArgs(bentoTag, config.backend.value, names, config.platform?.value),
      ...containerizeOptions({labels: imageLabels(state), dockerBuildx: state.dockerBuildx}),
    ],
    cwd: config.target.dir,
    // bentoml starts the backend CLI itself: the remote engine reaches it through the environment.
    env: {...python.env, ...bentomlEnv(), ...backendEngineEnv(state)},
  }
}

// --- reuse (issue 12) ---

/**
 * Provenance labels plus the content digest, which the local reuse lookup filters on. With the
 * adapter, only the layer carries the digest: the lookup must never find the bento image beneath.
 */
function imageLabels(state: DeployState): Record<string, string> {
  return state.content === undefined || adapterOn(state)
    ? state.labels
    : {...state.labels, [CONTENT_LABEL]: state.content.digest}
}

// --- SageMaker adapter (issue 24 §1) ---

/** The layer's build context: a folder inside the run's private folder (removed on every ending). */
function adapterContextDir(state: DeployState): string {
  return path.join(state.workDir ?? path.join('$TMPDIR', 'mldeploy-XXXXXX'), 'sagemaker-adapter')
}

/** The adapter layer's build, FROM the image containerize just made, named as the push expects. */
export function adapterBuildCommand(state: DeployState): PlannedCommand {
  const {config} = state
  return backendCommand(
    state,
    adapterBuildArgs(config.backend.value, {
      contextDir: adapterContextDir(state),
      images: state.images,
      platform: config.platform?.value,
      dockerBuildx: state.dockerBuildx,
    }),
  )
}

function adapterNote(state: DeployState): PlannedAction {
  const api = state.sagemakerApi
  return note(
    `SageMaker adapter layer on ${bentoImageName(state.config.repository.value, state.bentoVersion)}: USER root, ${ADAPTER_DIR}/${ADAPTER_FILE} (${ADAPTER_SHA.slice(0, 19)}), EXPOSE 8080, ENTRYPOINT the adapter, /invocations → ${api === undefined ? 'API <sagemaker-api>' : `API ${api.name} (${api.route})`}; build context in the run's private folder, removed after`,
  )
}

async function buildAdapterLayer(state: DeployState, io: StepIO): Promise<void> {
  const api = state.sagemakerApi
  if (api === undefined) throw new CheckError('no-api', 'No API was chosen for the SageMaker adapter.')
  const dir = adapterContextDir(state)
  await mkdir(dir, {mode: 0o700})
  try {
    await writeAdapterContext(dir, {
      from: bentoImageName(state.config.repository.value, state.bentoVersion),
      images: state.images,
      api,
      labels: state.content === undefined ? {} : {[CONTENT_LABEL]: state.content.digest},
    })
    await runPlanned(state, io, adapterBuildCommand(state), {
      step: 'containerize',
      doing: `Building the SageMaker adapter layer (${state.config.backend.value} build)`,
    })
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}
// --- end SageMaker adapter ---

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
        ...(adapterOn(state)
          ? [
              {
                ...adapterBuildCommand(state),
                when: 'no image with this content is in the repository or the local engine',
              },
            ]
          : []),
        {...localTagCommand(state), when: 'only the local engine has an image with this content'},
      ],
      ...(adapterOn(state) ? {actions: [adapterNote(state)]} : {}),
    }
  if (adapterOn(state))
    return {actions: [adapterNote(state)], commands: [containerizeCommand(state), adapterBuildCommand(state)]}
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
    if (adapterOn(state)) await buildAdapterLayer(state, io)
    state.builtLocally = true
  },
}
