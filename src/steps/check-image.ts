import type {ImageFormat} from '../config/image-settings.js'
import {
  checkRequestedFormat,
  checkDeployTarget,
  readImageFacts,
  type RuleResult,
} from '../deploy-target-rules.js'
import {CheckError, errorMessage} from '../errors.js'
import {platformOf} from '../image-facts.js'
import type {DeployState} from '../pipeline/state.js'
import type {PlannedAction, Step} from '../pipeline/step.js'
import {RegistryImageSource} from '../systems/image-source.js'
import type {ImageSource} from '../systems/image-source.js'
import {registryAccess} from './tag.js'

const FORMAT_WORDS: Record<ImageFormat, string> = {
  docker: 'a Docker V2 schema 2 manifest',
  oci: 'an OCI image manifest',
}

/** SageMaker's rules, as the dry run lists them (deploy-target-rules.ts has each one's source). */
const SAGEMAKER_RULES = [
  'format: a Docker V2 schema 2 manifest, not OCI, not an index',
  'format: linux/amd64',
  'contract: starts its server when run with `serve`',
  'contract: listens on port 8080',
  'contract: answers GET /ping and POST /invocations',
  'contract: runs as root',
]

function readActions(state: DeployState): PlannedAction[] {
  const index = 'the manifest is an image, not an index'
  if (state.registryIsEcr) {
    return [
      {text: 'Read the pushed manifest: ECR BatchGetImage', calls: ['aws:ecr:BatchGetImage']},
      {
        text: 'Read its config (platform, labels, ports, entrypoint): ECR GetDownloadUrlForLayer, then a GET of that URL',
        calls: ['aws:ecr:GetDownloadUrlForLayer', 'http:GET <presigned-url-path>'],
        when: index,
      },
    ]
  }
  const repository = state.config.repository.value
  return [
    {
      text: `Read the pushed manifest: registry API of ${state.registry.value}`,
      calls: [`http:GET /v2/${repository}/manifests/<digest>`],
    },
    {
      text: 'Read its config (platform, labels, ports, entrypoint): registry API',
      calls: [`http:GET /v2/${repository}/blobs/<config-digest>`],
      when: index,
    },
  ]
}

async function imageSource(state: DeployState): Promise<ImageSource> {
  const repository = state.config.repository.value
  if (!state.registryIsEcr) return new RegistryImageSource(registryAccess(state), repository)
  return state.aws.imageSource(repository, state.account?.value)
}

/**
 * After the upload and before any tag moves: read what the registry holds (no pull) and check it
 * against the requested format and the deploy target's rules, so an image that will not run where
 * it is deployed fails here (exit 8) instead of at deploy time. Without a deploy target, a read
 * the role may not make (GetDownloadUrlForLayer, say) is a warning: the push itself is fine.
 */
export const checkImageStep: Step<DeployState> = {
  id: 'check',
  title: 'Check the pushed image',
  failure: 'push',
  describe(state) {
    const {imageFormat, deployTarget} = state.config
    const rules: PlannedAction[] = [
      {
        text: `The registry holds ${FORMAT_WORDS[imageFormat.value]} (--image-format ${imageFormat.value})`,
        calls: [],
      },
      ...(deployTarget.value === 'sagemaker'
        ? SAGEMAKER_RULES.map((rule) => ({text: `SageMaker rule, ${rule}`, calls: []}))
        : []),
    ]
    return {actions: [...readActions(state), ...rules], commands: []}
  },
  async run(state, io) {
    const digest = state.digest
    if (digest === undefined) throw new CheckError('no-image', 'There is no image to check.')
    const {imageFormat, deployTarget} = state.config
    const strict = deployTarget.value !== 'any'
    let facts
    try {
      facts = await readImageFacts(await imageSource(state), digest, io.signal)
    } catch (error) {
      if (strict) throw error
      state.warn(
        `The pushed image could not be read back, so its format was not checked: ${errorMessage(error)}`,
      )
      return
    }
    state.image = facts
    io.output(
      `${facts.mediaType}, ${platformOf(facts) ?? 'no single platform'}, ${facts.layers} layers, ${(facts.totalSizeBytes / 1e6).toFixed(1)} MB`,
    )
    const results: RuleResult[] = [
      checkRequestedFormat(imageFormat.value, facts),
      ...checkDeployTarget(deployTarget.value, facts, state.bento),
    ]
    state.imageRules = results
    for (const result of results)
      io.output(`${result.ok ? 'ok  ' : 'FAIL'} ${result.rule}: ${result.message}`)
    const failed = results.filter((result) => !result.ok)
    if (failed.length > 0) {
      const first = failed[0]!
      throw new CheckError(
        'image-rules',
        `The pushed image breaks ${failed.length} rule(s) of ${deployTarget.value === 'any' ? `--image-format ${imageFormat.value}` : `--deploy-target ${deployTarget.value}`}: ${failed.map((each) => `${each.rule} (${each.message})`).join('; ')}`,
        {
          hint: `${first.fix ?? 'See the rules above.'} No tag was moved to it.`,
        },
      )
    }
  },
}
