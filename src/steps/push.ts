import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {CheckError, RegistryError} from '../errors.js'
import type {DeployState} from '../pipeline/state.js'
import type {PlannedAction, PlannedCommand, Step, StepIO} from '../pipeline/step.js'
import {imageReference} from '../images.js'
import {
  digestFromPushLine,
  isDigest,
  LayerProgress,
  pushArgs,
  pushAsArgs,
  tagArgs,
} from '../systems/backend.js'
import {explainRegistryFailure} from '../systems/registry-errors.js'
import {registryCalls} from '../systems/registry-api.js'
import {backendAuthEnv, loginCommand, runLogin} from './login.js'
import {backendCommand, runEngine} from './engine-command.js'
import {runPlanned} from './run-command.js'
import {tagDigests} from './tag.js'

/** Tries per image for transient failures (network resets, 5xx), with doubling pauses between. */
export const PUSH_ATTEMPTS = 3
export const RETRY_BASE_MS = 1000
/** How often the layer counts are reported again while nothing changes (the elapsed time moves on). */
export const PROGRESS_TICK_MS = 5000

export function digestFile(state: DeployState, index: number): string {
  return path.join(state.workDir ?? path.join('$TMPDIR', 'mldeploy-XXXXXX'), `digest-${index}`)
}

/** One upload, under the bento version's tag; the other tags are added by the tag step. */
export function pushCommands(state: DeployState): PlannedCommand[] {
  const backend = state.config.backend.value
  return [state.uploadImage].map((image, index) =>
    backendCommand(
      state,
      pushArgs(
        backend,
        image,
        digestFromRegistry(state) ? undefined : digestFile(state, index),
        state.config.imageFormat.value,
      ),
      backendAuthEnv(state),
    ),
  )
}

// --- remote engines (issue 13) ---

/** `podman --remote push` (4.3) has no --digestfile: the registry says what the tag points at. */
export function digestFromRegistry(state: DeployState): boolean {
  return state.config.backend.value === 'podman' && runEngine(state) !== undefined
}

function registryDigestAction(state: DeployState): PlannedAction {
  const reference = state.uploadImage
  return state.registryIsEcr
    ? {
        text: `The pushed digest of ${reference}, from the registry (podman --remote push has no --digestfile): ECR DescribeImages`,
        calls: ['aws:ecr:DescribeImages'],
      }
    : {
        text: `The pushed digest of ${reference}, from the registry (podman --remote push has no --digestfile): registry API of ${state.registry.value} (HEAD manifest)`,
        calls: [registryCalls.headManifest(state.config.repository.value)],
      }
}

async function registryDigest(state: DeployState, signal: AbortSignal): Promise<string | undefined> {
  return (await tagDigests(state, [state.bentoVersion], signal)).get(state.bentoVersion)
}
// --- end remote engines ---

// --- reuse and push-only roles (issue 12) ---

/**
 * Another tag through the backend, for roles without ecr:BatchGetImage: the blobs are in the
 * registry already, so only the manifest travels. docker names the image locally first.
 */
export function backendTagCommands(state: DeployState, tag: string): PlannedCommand[] {
  const backend = state.config.backend.value
  const destination = imageReference(state.registry.value, state.config.repository.value, tag)
  const command = (args: string[]) => backendCommand(state, args, backendAuthEnv(state))
  const push = command(pushAsArgs(backend, state.uploadImage, destination, state.config.imageFormat.value))
  return backend === 'docker' ? [command(tagArgs(state.uploadImage, destination)), push] : [push]
}

export async function runBackendTag(state: DeployState, tag: string, io: StepIO): Promise<void> {
  for (const command of backendTagCommands(state, tag))
    await runPlanned(state, io, command, {
      step: 'tag',
      doing: `Tagging ${tag} through ${state.config.backend.value}`,
      explain: (tail) => explainRegistryFailure(tail, `Pushing the tag ${tag}`),
    })
}

const reusedRemotely = (state: DeployState): boolean => state.reuse?.source === 'repository'
// --- end reuse and push-only roles ---

export const pushStep: Step<DeployState> = {
  id: 'push',
  title: 'Push the image',
  failure: 'push',
  describe: (state) =>
    reusedRemotely(state)
      ? {
          actions: [{text: 'Skipped: the repository already has this image (no upload)', calls: []}],
          commands: [],
        }
      : describePush(state),
  async run(state, io) {
    if (reusedRemotely(state)) {
      io.skip?.('the repository already has this image (same content)')
      return
    }
    await runPush(state, io)
  },
}

function describePush(state: DeployState): {actions: PlannedAction[]; commands: PlannedCommand[]} {
  const described = {
    actions: [
      ...(digestFromRegistry(state) ? [registryDigestAction(state)] : []),
      {
        text: 'A fresh ECR login token (GetAuthorizationToken) and a new login, once, if the registry says the token expired',
        calls: ['aws:ecr:GetAuthorizationToken'],
        when: 'the login token expired',
      },
    ],
    commands: [
      ...pushCommands(state),
      {...loginCommand(state), when: 'the login token expired (then the push runs again)'},
      ...pushCommands(state).map((command) => ({
        ...command,
        when: `a transient failure (network reset, 5xx): up to ${PUSH_ATTEMPTS - 1} more tries`,
      })),
    ],
  }
  // The dry run does not know yet whether the reuse step will find the image in the repository.
  if (state.content === undefined && !state.config.rebuild)
    described.commands[0] = {...described.commands[0]!, when: 'the image is not reused from the repository'}
  return described
}

async function runPush(state: DeployState, io: StepIO): Promise<void> {
  const commands = pushCommands(state)
  const images = [state.uploadImage]
  let loggedInAgain = false
  for (const [index, command] of commands.entries()) {
    const image = images[index] ?? ''
    for (let attempt = 1; ; attempt++) {
      try {
        const digest = await pushOnce(state, io, command, image, index)
        if (state.digest !== undefined && state.digest !== digest) {
          throw new CheckError(
            'digest-changed',
            `${image} was pushed as ${digest}, but the first tag as ${state.digest}.`,
            {
              hint: 'The local image changed between pushes; run again.',
            },
          )
        }
        state.digest = digest
        state.pushed.push(image)
        io.output(`${image} -> ${digest}`)
        break
      } catch (error) {
        if (!(error instanceof RegistryError) || io.signal.aborted) throw error
        // Only an expired token is worth a new login, and only once.
        if (error.reason === 'login-expired' && !loggedInAgain) {
          loggedInAgain = true
          io.output('The login token expired: fetching a new one and logging in again.')
          state.authorization = await state.aws.authorization(state.secrets, io.signal)
          await runLogin(state, io)
          attempt--
          continue
        }
        // Auth, permission, missing repository, immutable tag: retrying cannot help.
        if (error.reason !== 'transient' || attempt >= PUSH_ATTEMPTS) throw error
        const pause = RETRY_BASE_MS * 2 ** (attempt - 1)
        io.output(
          `${error.message} Trying again in ${pause / 1000} s (attempt ${attempt + 1} of ${PUSH_ATTEMPTS}).`,
        )
        await sleep(pause, undefined, {signal: io.signal}).catch(() => undefined)
        if (io.signal.aborted) throw error
      }
    }
  }
}

async function pushOnce(
  state: DeployState,
  io: StepIO,
  command: PlannedCommand,
  image: string,
  index: number,
): Promise<string> {
  let printed: string | undefined
  // Layers done/total as the backend's output says them, reported again every few seconds.
  const layers = new LayerProgress()
  const report = (): void => io.progress?.({unit: 'layers', ...layers.counts})
  const ticker = setInterval(report, PROGRESS_TICK_MS)
  try {
    await runPlanned(state, io, command, {
      step: 'push',
      doing: `Pushing ${image}`,
      onLine: (line) => {
        printed = digestFromPushLine(line) ?? printed
        if (layers.read(line)) report()
      },
      explain: (tail) => explainRegistryFailure(tail, `Pushing ${image}`),
    })
  } finally {
    clearInterval(ticker)
  }
  const digest = digestFromRegistry(state)
    ? await registryDigest(state, io.signal)
    : state.config.backend.value === 'podman'
      ? await readDigest(digestFile(state, index))
      : printed
  if (digest === undefined || !isDigest(digest)) {
    throw new CheckError('no-digest', `Pushed ${image} but could not read its digest.`)
  }
  return digest
}

async function readDigest(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch {
    return undefined
  }
}
