import {DeployError} from '../errors.js'
import {imageReference} from '../images.js'
import type {DeployState} from '../pipeline/state.js'
import type {Step} from '../pipeline/step.js'
import {manifestDigest, type RegistryAccess, retagManifest} from '../systems/registry-api.js'

/** The registry's own API, with this run's login, for pushes that do not go to ECR's endpoint. */
export function registryAccess(state: DeployState): RegistryAccess {
  const authorization = state.authorization
  if (authorization === undefined)
    throw new DeployError('auth', 'No ECR login token: the preflight did not fetch one.')
  return {
    scheme: state.config.registryScheme,
    host: state.registry.value,
    username: authorization.username,
    password: authorization.password,
  }
}

function how(state: DeployState): string {
  return state.registryIsEcr
    ? 'ECR BatchGetImage + PutImage'
    : `registry API of ${state.registry.value} (GET + PUT manifest)`
}

/**
 * Every tag but the bento version's points at the uploaded manifest without another upload:
 * N tags cost one push.
 */
export const tagStep: Step = {
  id: 'tag',
  title: 'Add the other tags (no upload)',
  failure: 'push',
  describe(state) {
    const actions = state.extraTags.map(
      (tag) =>
        `${imageReference(state.registry.value, state.config.repository.value, tag)} -> the pushed digest: ${how(state)}`,
    )
    return {actions: actions.length > 0 ? actions : ['no other tags'], commands: []}
  },
  async run(state, io) {
    const digest = state.digest
    if (digest === undefined) throw new DeployError('push', 'Nothing was pushed to tag.')
    const repository = state.config.repository.value
    for (const tag of state.extraTags) {
      if (state.registryIsEcr) await state.aws.retag(repository, digest, tag, io.signal)
      else await retagManifest(registryAccess(state), repository, digest, tag, io.signal)
      const reference = imageReference(state.registry.value, repository, tag)
      state.pushed.push(reference)
      io.output(`${reference} -> ${digest}`)
    }
  },
}

export const verifyStep: Step = {
  id: 'verify',
  title: 'Verify the tags',
  failure: 'push',
  describe(state) {
    const via = state.registryIsEcr
      ? 'ECR DescribeImages'
      : `registry API of ${state.registry.value} (HEAD manifest)`
    return {
      actions: [`Every tag (${state.tags.join(', ')}) points at the pushed digest: ${via}`],
      commands: [],
    }
  },
  async run(state, io) {
    const digest = state.digest
    if (digest === undefined) throw new DeployError('push', 'Nothing was pushed to verify.')
    const repository = state.config.repository.value
    const found = new Map<string, string | undefined>()
    if (state.registryIsEcr) {
      const images = await state.aws.imagesByTag(repository, state.tags, io.signal)
      for (const tag of state.tags) found.set(tag, images.get(tag)?.digest)
      const facts = images.get(state.bentoVersion)
      state.sizeBytes = facts?.sizeBytes ?? null
      state.pushedAt = facts?.pushedAt ?? null
    } else {
      const access = registryAccess(state)
      for (const tag of state.tags) found.set(tag, await manifestDigest(access, repository, tag, io.signal))
    }
    for (const [tag, actual] of found) {
      if (actual !== digest) {
        throw new DeployError(
          'push',
          `Tag ${tag} points at ${actual ?? 'nothing'}, not at the pushed ${digest}.`,
          {hint: 'Another push may have moved it at the same time; check the repository and run again.'},
        )
      }
      const reference = imageReference(state.registry.value, repository, tag)
      state.verified.push({
        tag,
        digest,
        reference,
        byDigest: `${state.registry.value}/${repository}@${digest}`,
      })
      io.output(`ok ${reference} = ${digest}`)
    }
  },
}
