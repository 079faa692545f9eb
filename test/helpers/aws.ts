import {createHash} from 'node:crypto'
import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  PutImageCommand,
} from '@aws-sdk/client-ecr'

import {FAKE_CONFIG, FAKE_CONFIG_DIGEST} from './ecr-layers.js'

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

/**
 * A home folder whose AWS config holds profiles with cached credentials that ran out, as the SDK
 * finds them on disk: `sso-new` (an sso-session profile), `sso-legacy` (sso_start_url in the
 * profile), both with an SSO cache entry (`~/.aws/sso/cache/<sha1>.json`) that expired an hour
 * ago and holds no refresh token (so the SDK tries no refresh), `sso-gone` (no cache entry at
 * all) and `process` (a credential_process answering an Expiration in the past).
 */
export function expiredCredentialsHome(home: string): {configFile: string} {
  const cache = path.join(home, '.aws', 'sso', 'cache')
  mkdirSync(cache, {recursive: true})
  const answer = JSON.stringify({
    Version: 1,
    AccessKeyId: 'AKIDPROCESS',
    SecretAccessKey: 'process-secret',
    SessionToken: 'process-token',
    Expiration: '2020-01-01T00:00:00Z',
  })
  const answerScript = path.join(home, 'credential-process.cjs')
  writeFileSync(answerScript, `console.log(${JSON.stringify(answer)})\n`)
  const configFile = path.join(home, '.aws', 'config')
  writeFileSync(
    configFile,
    [
      '[profile sso-new]',
      'sso_session = team',
      'sso_account_id = 123456789012',
      'sso_role_name = Deployer',
      'region = eu-west-1',
      '[sso-session team]',
      'sso_start_url = https://team.awsapps.com/start',
      'sso_region = eu-west-1',
      '[profile sso-legacy]',
      'sso_start_url = https://legacy.awsapps.com/start',
      'sso_region = eu-west-1',
      'sso_account_id = 123456789012',
      'sso_role_name = Deployer',
      'region = eu-west-1',
      '[profile sso-gone]',
      'sso_session = gone',
      'sso_account_id = 123456789012',
      'sso_role_name = Deployer',
      '[sso-session gone]',
      'sso_start_url = https://gone.awsapps.com/start',
      'sso_region = eu-west-1',
      '[profile process]',
      `credential_process = "${process.execPath}" "${answerScript}"`,
      '',
    ].join('\n'),
  )
  const expired = {
    accessToken: 'expired-access-token',
    expiresAt: new Date(Date.now() - 3_600_000).toISOString(),
  }
  // The cache is named after the session's name (sso-session) or the start URL (legacy).
  for (const key of ['team', 'https://legacy.awsapps.com/start']) {
    const name = createHash('sha1').update(key).digest('hex')
    writeFileSync(
      path.join(cache, `${name}.json`),
      JSON.stringify({...expired, startUrl: key, region: 'eu-west-1'}),
    )
  }
  return {configFile}
}

/**
 * Issue 24: an image in modela/v1 as SageMaker takes it (Docker V2, its config the linux/amd64 one
 * test/helpers/ecr-layers.ts serves), or the same as OCI; distinct per tag. Returns its digest.
 */
export async function seedDeployableImage(
  motoUrl: string,
  imageTag: string,
  format: 'docker' | 'oci' = 'docker',
): Promise<string> {
  const docker = format === 'docker'
  const mediaType = docker
    ? 'application/vnd.docker.distribution.manifest.v2+json'
    : 'application/vnd.oci.image.manifest.v1+json'
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: docker
        ? 'application/vnd.docker.container.image.v1+json'
        : 'application/vnd.oci.image.config.v1+json',
      digest: FAKE_CONFIG_DIGEST,
      size: FAKE_CONFIG.length,
    },
    layers: [
      {
        mediaType: docker
          ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
          : 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: `sha256:${createHash('sha256').update(`${imageTag}/${format}`).digest('hex')}`,
        size: 1,
      },
    ],
  })
  const client = ecrClient(motoUrl)
  const out = await client.send(
    new PutImageCommand({
      repositoryName: 'modela/v1',
      imageManifest: manifest,
      imageTag,
      imageManifestMediaType: mediaType,
    }),
  )
  client.destroy()
  return out.image?.imageId?.imageDigest ?? ''
}
