import {CheckError} from '../errors.js'
import {adapterOn, type DeployState} from '../pipeline/state.js'
import {chooseApi} from '../systems/sagemaker-adapter.js'
import {withoutAwsCredentials} from '../systems/aws/index.js'
import type {PlannedCommand, Step} from '../pipeline/step.js'
import {collectProvenance, mldeployVersion} from '../systems/bento-store.js'
import {bentoGetArgs, bentomlEnv, modelGetArgs} from '../systems/bentoml.js'
import {buildxVersionArgs, probeDockerBuilder} from '../systems/docker-builder.js'
import {remoteArgs, revParseArgs, statusArgs} from '../systems/git-provenance.js'

/** The read-only commands that gather what the image will say about itself (see provenance.ts). */
function labelCommands(state: DeployState): PlannedCommand[] {
  const {config} = state
  const python = config.python.value
  const dir = config.target.dir
  const bento = state.bentoTag ?? '<bento-tag>'
  const bentoml = (args: string[], when?: string): PlannedCommand => ({
    command: python.command,
    args: [...python.prefix, ...args],
    cwd: dir,
    env: {...python.env, ...bentomlEnv()},
    ...(when === undefined ? {} : {when}),
  })
  const git = (args: string[], when?: string): PlannedCommand => ({
    command: 'git',
    args,
    cwd: dir,
    env: {GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C'},
    ...(when === undefined ? {} : {when}),
  })
  return [
    bentoml(bentoGetArgs(bento)),
    bentoml(modelGetArgs('<model-tag>'), 'for each model the bento packs'),
    git(revParseArgs()),
    git(statusArgs(), 'the target is in a git checkout'),
    git(remoteArgs()),
    ...(config.backend.value === 'docker'
      ? [{command: 'docker', args: buildxVersionArgs(), cwd: dir, when: 'DOCKER_BUILDKIT is not 0'}]
      : []),
  ]
}

/**
 * What the image will carry as OCI labels: the bento and the models it packs, their MLflow run,
 * the commit (`-dirty` when the target has uncommitted changes) and the remote. Best effort: a
 * missing git or store entry costs a label and a warning, never the push. With docker, also
 * whether it builds with buildx (then provenance and SBOM attestations are turned off).
 */
export const labelsStep: Step<DeployState> = {
  id: 'labels',
  title: 'Gather provenance labels',
  failure: 'containerize',
  describe: (state) => ({actions: [], commands: labelCommands(state)}),
  async run(state, io) {
    const {config} = state
    if (state.bentoTag !== undefined) {
      try {
        const {labels, bento, problems} = await collectProvenance({
          python: config.python.value,
          bentoTag: state.bentoTag,
          target: config.target,
          env: withoutAwsCredentials(config.childEnv),
          mldeployVersion: mldeployVersion(),
          signal: io.signal,
        })
        state.labels = labels
        state.bento = bento
        for (const problem of problems) state.warn(`Provenance labels incomplete: ${problem}`)
      } catch (error) {
        state.warn(`Provenance labels incomplete: ${(error as Error).message}`)
      }
    }
    // Issue 24: the adapter forwards /invocations to one API: chosen now, before anything is built.
    if (adapterOn(state)) {
      const apis = state.bento?.apis
      if (apis === undefined)
        throw new CheckError(
          'bento-apis',
          "The bento's APIs could not be read (bentoml get), and the SageMaker adapter forwards /invocations to one of them.",
          {
            hint: 'See the warning above; or push with --no-sagemaker-adapter if the service meets the contract itself.',
          },
        )
      state.sagemakerApi = chooseApi(apis, config.sagemaker?.api)
      io.output(
        `SageMaker adapter: /invocations → API ${state.sagemakerApi.name} (${state.sagemakerApi.route})`,
      )
    }
    if (config.backend.value === 'docker')
      state.dockerBuildx =
        (await probeDockerBuilder(withoutAwsCredentials(config.childEnv), config.target.dir)) === 'buildx'
    for (const [key, value] of Object.entries(state.labels)) io.output(`${key}=${value}`)
  },
}
