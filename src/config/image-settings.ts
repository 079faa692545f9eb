import {UsageError} from '../errors.js'
import type {Sourced} from './env-layers.js'
import type {DockerBuilder} from '../systems/docker-builder.js'

/**
 * What kind of image a push makes and where it is meant to run. Docker V2 schema 2 is the default
 * because every AWS runtime accepts it; SageMaker refuses OCI manifests and indexes
 * (aws/amazon-sagemaker-feedback#180, mlflow/mlflow#13834).
 */
export const IMAGE_FORMATS = ['docker', 'oci'] as const
export type ImageFormat = (typeof IMAGE_FORMATS)[number]
export const DEPLOY_TARGETS = ['sagemaker', 'any'] as const
export type DeployTarget = (typeof DEPLOY_TARGETS)[number]

export const DEFAULT_IMAGE_FORMAT: ImageFormat = 'docker'
export const DEFAULT_DEPLOY_TARGET: DeployTarget = 'any'

/** SageMaker runs Docker V2 schema 2 manifests only: asking for both is bad input. */
export function checkTargetFormat(
  deployTarget: Sourced<DeployTarget>,
  imageFormat: Sourced<ImageFormat>,
): void {
  if (deployTarget.value === 'sagemaker' && imageFormat.value === 'oci') {
    throw new UsageError(
      `Deploy target sagemaker (from ${deployTarget.source}) cannot run an OCI image (image format from ${imageFormat.source}): SageMaker accepts Docker V2 schema 2 manifests only.`,
      {hint: 'Use --image-format docker (the default) with --deploy-target sagemaker.'},
    )
  }
}

export {type DockerBuilder, dockerBuilder} from '../systems/docker-builder.js'

/** `--backend docker --image-format oci` with the classic builder cannot work: say why, exit 2. */
export function checkBackendFormat(
  backend: 'podman' | 'docker',
  format: Sourced<ImageFormat>,
  builder: DockerBuilder | undefined,
): void {
  if (backend !== 'docker' || format.value !== 'oci' || builder !== 'classic') return
  throw new UsageError(
    `--backend docker cannot make an OCI image here (image format oci from ${format.source}): this docker builds with the classic builder (no working \`docker buildx\`, or DOCKER_BUILDKIT=0), which makes Docker V2 images only.`,
    {hint: 'Use --image-format docker, or --backend podman for OCI.'},
  )
}
