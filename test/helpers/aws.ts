import {createHash} from 'node:crypto'

import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  PutImageCommand,
} from '@aws-sdk/client-ecr'

/** Environment that points the real AWS SDK (in mldeploy and here) at moto on loopback. */
export function motoEnv(motoUrl: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: motoUrl,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
  }
}

export async function createRepository(motoUrl: string, name: string, region = 'us-east-1'): Promise<void> {
  const client = new ECRClient({
    region,
    endpoint: motoUrl,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  })
  await client.send(new CreateRepositoryCommand({repositoryName: name}))
  client.destroy()
}

function ecrClient(motoUrl: string): ECRClient {
  return new ECRClient({
    region: 'us-east-1',
    endpoint: motoUrl,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  })
}

/**
 * Put an image manifest under a tag, as a push would have (moto stores manifests, not layers).
 * moto's digest hashes the layer digests only: `distinct` gives the image a layer of its own, so
 * images seeded under different tags get different digests.
 */
export async function seedImage(
  motoUrl: string,
  repositoryName: string,
  imageTag: string,
  distinct = false,
): Promise<string> {
  const client = ecrClient(motoUrl)
  const layer = createHash('sha256').update(`${repositoryName}:${imageTag}`).digest('hex')
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: `sha256:${'cd'.repeat(32)}`,
      size: 2,
    },
    layers: distinct
      ? [{mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${layer}`, size: 1}]
      : [],
    annotations: {seed: imageTag},
  })
  const out = await client.send(new PutImageCommand({repositoryName, imageManifest: manifest, imageTag}))
  client.destroy()
  return out.image?.imageId?.imageDigest ?? ''
}

export async function describeRepository(motoUrl: string, name: string) {
  const client = ecrClient(motoUrl)
  const out = await client.send(new DescribeRepositoriesCommand({repositoryNames: [name]}))
  client.destroy()
  return out.repositories?.[0]
}

export async function createImmutableRepository(motoUrl: string, name: string): Promise<void> {
  const client = ecrClient(motoUrl)
  await client.send(new CreateRepositoryCommand({repositoryName: name, imageTagMutability: 'IMMUTABLE'}))
  client.destroy()
}

/** The tags of every image in a repository of this moto (throws when the repository is missing). */
export async function imageTags(motoUrl: string, repositoryName: string): Promise<string[]> {
  const client = ecrClient(motoUrl)
  try {
    const out = await client.send(new DescribeImagesCommand({repositoryName}))
    return (out.imageDetails ?? []).flatMap((detail) => detail.imageTags ?? []).sort()
  } finally {
    client.destroy()
  }
}
