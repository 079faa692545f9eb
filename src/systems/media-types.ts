/**
 * The manifest media types of the OCI distribution API, which ECR's API speaks as well. A leaf
 * module: the registry's API, ECR's and the image reads all name them.
 */
export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const

/** Both image manifest types and both index types: without them a registry may down-convert or 406. */
export const MANIFEST_MEDIA_TYPES: string[] = [
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerList,
  MEDIA_TYPES.ociIndex,
]
