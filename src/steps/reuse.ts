import {readImageFacts} from '../deploy-target-rules.js'
import {
  computeContentDigest,
  CONTENT_LABEL,
  CONTENT_TAG_PREFIX,
  type ImageSettingsInput,
} from '../content-digest.js'
import {errorMessage} from '../errors.js'
import {withoutAwsCredentials} from '../systems/aws/index.js'
import {adapterOn, type DeployState} from '../pipeline/state.js'
import {ADAPTER_SHA} from '../systems/sagemaker-adapter.js'
import {note, type PlannedAction, type PlannedCommand, type Step, type StepIO} from '../pipeline/step.js'
import {LABELS} from '../provenance.js'
import {firstImageId, imagesByLabelArgs} from '../systems/backend.js'
import {bentoPathArgs, locateBento} from '../systems/bento-store.js'
import {bentomlEnv} from '../systems/bentoml.js'
import {RegistryImageSource, type ImageSource} from '../systems/image-source.js'
import {manifestDigest, registryCalls} from '../systems/registry-api.js'
import {backendCommand} from './engine-command.js'
import {runPlanned} from './run-command.js'
import {deniedFor, registryAccess} from './tag.js'

/**
 * Between build and containerize: what will the image be made of (the content digest), and does
 * an image made of exactly that exist already — in the repository (then nothing is built or
 * uploaded: the tags are pointed at it) or in the local engine (then it is pushed, not rebuilt)?
 * Containerize, login and push read the decision (`state.reuse`). Reuse only saves time: a check
 * that cannot be made (a denied permission, an unreachable registry) is a warning, never a failure.
 */
const DESCRIBE_IMAGES = 'ecr:DescribeImages'

export function bentoPathCommand(state: DeployState): PlannedCommand {
  const python = state.config.python.value
  return {
    command: python.command,
    args: [...python.prefix, ...bentoPathArgs(state.bentoTag ?? '<bento-tag>')],
    cwd: state.config.target.dir,
    env: {...python.env, ...bentomlEnv()},
  }
}

export function localLookupCommand(state: DeployState): PlannedCommand {
  return backendCommand(state, imagesByLabelArgs(CONTENT_LABEL, state.content?.digest ?? '<content-digest>'))
}

/** The settings that change the image without changing a file of the bento. */
export function imageSettingsInput(state: DeployState): ImageSettingsInput {
  const {config} = state
  const buildOptions: Record<string, string> = {}
  // docker's classic builder and BuildKit make different images (and manifests) of the same Dockerfile.
  if (config.backend.value === 'docker') buildOptions.DOCKER_BUILDKIT = config.childEnv.DOCKER_BUILDKIT ?? ''
  return {
    backend: config.backend.value,
    platform: config.platform?.value,
    imageFormat: config.imageFormat.value,
    bentomlVersion: state.bentomlVersion,
    buildOptions,
    ...(adapterOn(state)
      ? {sagemakerAdapter: {sha: ADAPTER_SHA, api: config.sagemaker?.api?.value ?? ''}}
      : {}),
  }
}

/** The repository check runs unless --rebuild, or --rebuild in an IMMUTABLE repository (the content tag cannot move). */
function remoteCheck(state: DeployState): 'search' | 'immutable-guard' | 'none' {
  if (!state.config.rebuild) return 'search'
  return state.repositoryFacts?.mutability === 'IMMUTABLE' ? 'immutable-guard' : 'none'
}

function remoteActions(state: DeployState): PlannedAction[] {
  const repository = state.config.repository.value
  const tag = state.content?.tag ?? `${CONTENT_TAG_PREFIX}<content-digest>`
  const check = remoteCheck(state)
  if (check === 'none') return [note('--rebuild: no search for an existing image; containerize runs')]
  const why =
    check === 'immutable-guard'
      ? `--rebuild in an IMMUTABLE repository: does ${tag} already name another image (then the rebuilt image goes without it)`
      : `Is ${tag} already in the repository`
  if (state.registryIsEcr) {
    if (state.denied.has(DESCRIBE_IMAGES))
      return [note(`Repository check skipped: ${DESCRIBE_IMAGES} is denied for this role`)]
    const actions: PlannedAction[] = [{text: `${why}: ECR DescribeImages`, calls: [`aws:${DESCRIBE_IMAGES}`]}]
    if (check === 'search')
      actions.push({
        text: 'Which bento it was first built from: its labels (ECR BatchGetImage, GetDownloadUrlForLayer, GET of the config blob)',
        calls: ['aws:ecr:BatchGetImage', 'aws:ecr:GetDownloadUrlForLayer', 'http:GET <presigned-url-path>'],
        when: 'the repository has it',
      })
    return actions
  }
  const actions: PlannedAction[] = [
    {
      text: `${why}: registry API of ${state.registry.value} (HEAD manifest)`,
      calls: [registryCalls.headManifest(repository)],
    },
  ]
  if (check === 'search')
    actions.push({
      text: 'Which bento it was first built from: its labels (GET manifest and config blob)',
      calls: [registryCalls.getManifest(repository), `http:GET /v2/${repository}/blobs`],
      when: 'the repository has it',
    })
  return actions
}

export const reuseStep: Step<DeployState> = {
  id: 'reuse',
  title: 'Look for an image with the same content',
  failure: 'containerize',
  describe(state) {
    const actions: PlannedAction[] = [
      note(
        "Content digest: sha256 of the bento's files and its models' files (generated versions and creation times taken out) and the image settings",
      ),
      ...remoteActions(state),
    ]
    const commands: PlannedCommand[] = [bentoPathCommand(state)]
    if (!state.config.rebuild)
      commands.push({...localLookupCommand(state), when: 'the repository does not have it'})
    return {actions, commands}
  },
  async run(state, io) {
    try {
      await computeContent(state, io)
    } catch (error) {
      if (io.signal.aborted) throw error
      // Without a digest nothing can be reused or labelled: build as before, say why.
      state.contentTagOmitted = `the content digest could not be computed (${errorMessage(error)})`
      state.warn(`No content digest: ${errorMessage(error)} The image is built and pushed without reuse.`)
      io.skip?.(`no content digest: ${errorMessage(error)}`)
      return
    }
    const check = remoteCheck(state)
    if (check === 'none') {
      io.output('--rebuild: containerize runs whatever exists.')
      return
    }
    const existing = await remoteDigest(state, io)
    if (check === 'immutable-guard') {
      if (existing !== undefined) {
        state.contentTagOmitted = `--rebuild: ${state.content!.tag} already names ${existing} in the IMMUTABLE repository ${state.config.repository.value}`
        state.warn(`${state.contentTagOmitted}; the rebuilt image goes without that tag.`)
      }
      io.output('--rebuild: containerize runs whatever exists.')
      return
    }
    if (existing !== undefined) {
      const builtFromBento = await firstBento(state, existing, io)
      state.reuse = {source: 'repository', digest: existing, builtFromBento}
      state.digest = existing
      io.output(
        `reused: ${state.config.repository.value} has ${state.content!.tag} (${existing}${builtFromBento === null ? '' : `, first built from bento ${builtFromBento}`}): no containerize, no upload.`,
      )
      return
    }
    const local = await localImage(state, io)
    if (local !== undefined) {
      state.reuse = {source: 'local', imageId: local, builtFromBento: null}
      io.output(
        `reused: the local engine has image ${local} with this content: no containerize; it is pushed.`,
      )
      return
    }
    io.output('No image with this content yet: containerize runs.')
  },
}

async function computeContent(state: DeployState, io: StepIO): Promise<void> {
  const bentoTag = state.bentoTag
  if (bentoTag === undefined) throw new Error('the build named no bento.')
  const command = bentoPathCommand(state)
  io.output(`$ ${command.command} ${command.args.join(' ')}`)
  const {bentoDir, models} = await locateBento({
    python: state.config.python.value,
    bentoTag,
    cwd: state.config.target.dir,
    env: withoutAwsCredentials(state.config.childEnv),
    signal: io.signal,
  })
  const started = performance.now()
  state.content = await computeContentDigest({
    bentoTag,
    bentoDir,
    models,
    settings: imageSettingsInput(state),
  })
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  io.output(
    `content ${state.content.digest} (${state.content.tag}): ${state.content.files} files, ${(state.content.bytes / 1e6).toFixed(1)} MB hashed in ${seconds} s`,
  )
}

/** The digest the content tag names in the repository; undefined when absent or not checkable. */
async function remoteDigest(state: DeployState, io: StepIO): Promise<string | undefined> {
  const tag = state.content!.tag
  const repository = state.config.repository.value
  try {
    if (!state.registryIsEcr) return await manifestDigest(registryAccess(state), repository, tag, io.signal)
    if (state.denied.has(DESCRIBE_IMAGES)) {
      io.output(`Repository check skipped: ${DESCRIBE_IMAGES} is denied.`)
      return undefined
    }
    const found = await state.aws.imagesByTag(repository, [tag], io.signal)
    return found.get(tag)?.digest
  } catch (error) {
    if (io.signal.aborted) throw error
    if (deniedFor(error, DESCRIBE_IMAGES)) {
      state.deny(DESCRIBE_IMAGES)
      state.warn(
        `${DESCRIBE_IMAGES} is denied: the repository was not searched for an image with this content (remote reuse skipped).`,
      )
      return undefined
    }
    state.warn(`The repository could not be searched for an image with this content: ${errorMessage(error)}`)
    return undefined
  }
}

/** The bento an existing image was built from, from its labels (best effort: null when unreadable). */
async function firstBento(state: DeployState, digest: string, io: StepIO): Promise<string | null> {
  const repository = state.config.repository.value
  try {
    const source: ImageSource = state.registryIsEcr
      ? await state.aws.imageSource(repository, state.account?.value)
      : new RegistryImageSource(registryAccess(state), repository)
    const facts = await readImageFacts(source, digest, io.signal)
    return facts.labels[LABELS.bento] ?? facts.labels[LABELS.version] ?? null
  } catch (error) {
    io.output(
      `Could not read the labels of ${state.registry.value}/${repository}@${digest}: ${errorMessage(error)}`,
    )
    return null
  }
}

async function localImage(state: DeployState, io: StepIO): Promise<string | undefined> {
  const lines: string[] = []
  try {
    await runPlanned(state, io, localLookupCommand(state), {
      step: 'reuse',
      doing: `Looking for a local image with this content (${state.config.backend.value} images)`,
      onLine: (line) => lines.push(line),
    })
  } catch (error) {
    if (io.signal.aborted) throw error
    state.warn(
      `The local engine could not be searched for an image with this content: ${errorMessage(error)}`,
    )
    return undefined
  }
  return firstImageId(lines)
}
