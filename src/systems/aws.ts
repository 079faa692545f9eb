import type {ECRClient} from '@aws-sdk/client-ecr'
import type {STSClient} from '@aws-sdk/client-sts'

import {DeployError} from '../errors.js'
import type {SecretRegistry} from '../secrets.js'

/**
 * ECR and STS through the AWS SDK v3. The SDK is imported only when a command talks to AWS, to
 * keep `--help` and `--version` fast. Endpoints, credentials and retries follow the SDK's own
 * environment (`AWS_ENDPOINT_URL`, `AWS_PROFILE`, `AWS_MAX_ATTEMPTS`...).
 */
export interface AwsSettings {
  region: string
  profile?: string
  /** Fewer attempts and short timeouts: for a dry run that must not hang without a network. */
  quick?: boolean
}

export interface Identity {
  account: string
  arn: string
}

export interface Authorization {
  /** Bare registry host from `proxyEndpoint`, as logins need it. */
  registry: string
  /** Decoded from `AWS:<password>`; registered as a secret before it is returned. */
  password: string
  username: string
  expiresAt?: Date
}

function clientConfig(settings: AwsSettings): Record<string, unknown> {
  return {
    region: settings.region,
    ...(settings.profile === undefined ? {} : {profile: settings.profile}),
    ...(settings.quick
      ? {maxAttempts: 1, requestHandler: {connectionTimeout: 2000, requestTimeout: 4000}}
      : {}),
  }
}

export type TagMutability = 'MUTABLE' | 'IMMUTABLE'

export interface RepositorySettings {
  mutability: TagMutability
  scanOnPush: boolean
}

export interface RepositoryFacts {
  uri: string
  mutability: string
  created: boolean
}

export interface ImageFacts {
  digest: string
  sizeBytes: number | null
  pushedAt: string | null
  tags: string[]
}

export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]

export class AwsClients {
  private ecrClient?: Promise<ECRClient>
  private stsClient?: Promise<STSClient>

  constructor(readonly settings: AwsSettings) {}

  /** Close the clients' sockets: nothing may keep the process alive after a command ends. */
  close(): void {
    for (const client of [this.ecrClient, this.stsClient]) void client?.then((each) => each.destroy())
  }

  private ecr(): Promise<ECRClient> {
    this.ecrClient ??= import('@aws-sdk/client-ecr').then(
      ({ECRClient}) => new ECRClient(clientConfig(this.settings)),
    )
    return this.ecrClient
  }

  private sts(): Promise<STSClient> {
    this.stsClient ??= import('@aws-sdk/client-sts').then(
      ({STSClient}) => new STSClient(clientConfig(this.settings)),
    )
    return this.stsClient
  }

  async identity(signal?: AbortSignal): Promise<Identity> {
    const {GetCallerIdentityCommand} = await import('@aws-sdk/client-sts')
    const client = await this.sts()
    try {
      const out = await client.send(new GetCallerIdentityCommand({}), {abortSignal: signal})
      if (out.Account === undefined) throw new Error('GetCallerIdentity returned no account')
      return {account: out.Account, arn: out.Arn ?? ''}
    } catch (error) {
      throw awsError(error, 'Reading the AWS identity (STS GetCallerIdentity)', this.settings)
    }
  }

  /**
   * The repository's facts; a missing one is created when `create` says how, else it is a
   * preflight error naming repository, account and region.
   */
  async repository(
    repository: string,
    account: string,
    create: RepositorySettings | undefined,
    signal?: AbortSignal,
  ): Promise<RepositoryFacts> {
    const {CreateRepositoryCommand, DescribeRepositoriesCommand} = await import('@aws-sdk/client-ecr')
    const client = await this.ecr()
    try {
      const out = await client.send(
        new DescribeRepositoriesCommand({repositoryNames: [repository], registryId: account}),
        {abortSignal: signal},
      )
      const found = out.repositories?.[0]
      return {
        uri: found?.repositoryUri ?? '',
        mutability: found?.imageTagMutability ?? 'MUTABLE',
        created: false,
      }
    } catch (error) {
      if (errorName(error) !== 'RepositoryNotFoundException') {
        throw awsError(error, `Checking ECR repository ${repository}`, this.settings)
      }
      if (create === undefined) {
        throw new DeployError(
          'preflight',
          `ECR repository ${repository} does not exist in account ${account}, region ${this.settings.region}.`,
          {
            hint: `Create it with --create-repository, or pick another with --repository.`,
            detail: errorMessage(error),
          },
        )
      }
    }
    try {
      const out = await client.send(
        new CreateRepositoryCommand({
          repositoryName: repository,
          imageTagMutability: create.mutability,
          imageScanningConfiguration: {scanOnPush: create.scanOnPush},
        }),
        {abortSignal: signal},
      )
      return {uri: out.repository?.repositoryUri ?? '', mutability: create.mutability, created: true}
    } catch (error) {
      // Another run created it in the meantime: that is what we wanted.
      if (errorName(error) === 'RepositoryAlreadyExistsException')
        return this.repository(repository, account, undefined, signal)
      throw awsError(error, `Creating ECR repository ${repository}`, this.settings)
    }
  }

  /** What the repository holds under each of these tags (absent tags are left out). */
  async imagesByTag(
    repository: string,
    tags: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, ImageFacts>> {
    const {DescribeImagesCommand} = await import('@aws-sdk/client-ecr')
    const client = await this.ecr()
    const found = new Map<string, ImageFacts>()
    // One call per tag: DescribeImages fails the whole call when any listed tag is missing.
    await Promise.all(
      tags.map(async (tag) => {
        try {
          const out = await client.send(
            new DescribeImagesCommand({repositoryName: repository, imageIds: [{imageTag: tag}]}),
            {abortSignal: signal},
          )
          const detail = out.imageDetails?.[0]
          if (detail?.imageDigest !== undefined) {
            found.set(tag, {
              digest: detail.imageDigest,
              sizeBytes: detail.imageSizeInBytes ?? null,
              pushedAt: detail.imagePushedAt?.toISOString() ?? null,
              tags: detail.imageTags ?? [],
            })
          }
        } catch (error) {
          if (errorName(error) === 'ImageNotFoundException') return
          throw awsError(error, `Describing ${repository}:${tag} (DescribeImages)`, this.settings)
        }
      }),
    )
    return found
  }

  /**
   * Point `tag` at the image with `digest` without uploading anything: read its manifest
   * (BatchGetImage) and put it back under the new tag (PutImage).
   */
  async retag(repository: string, digest: string, tag: string, signal?: AbortSignal): Promise<void> {
    const {BatchGetImageCommand, PutImageCommand} = await import('@aws-sdk/client-ecr')
    const client = await this.ecr()
    let manifest: string | undefined
    let mediaType: string | undefined
    try {
      const out = await client.send(
        new BatchGetImageCommand({
          repositoryName: repository,
          imageIds: [{imageDigest: digest}],
          acceptedMediaTypes: MANIFEST_MEDIA_TYPES,
        }),
        {abortSignal: signal},
      )
      manifest = out.images?.[0]?.imageManifest
      mediaType = out.images?.[0]?.imageManifestMediaType
    } catch (error) {
      throw awsError(error, `Reading the manifest of ${repository}@${digest} (BatchGetImage)`, this.settings)
    }
    if (manifest === undefined) {
      throw new DeployError('push', `ECR has no image ${repository}@${digest} to tag as ${tag}.`)
    }
    try {
      await client.send(
        new PutImageCommand({
          repositoryName: repository,
          imageManifest: manifest,
          ...(mediaType === undefined ? {} : {imageManifestMediaType: mediaType}),
          imageTag: tag,
        }),
        {abortSignal: signal},
      )
    } catch (error) {
      // The tag already names this very manifest: nothing to do.
      if (errorName(error) === 'ImageAlreadyExistsException') return
      if (errorName(error) === 'ImageTagAlreadyExistsException') {
        throw new DeployError(
          'push',
          `Tag ${tag} already exists in the immutable repository ${repository}.`,
          {
            hint: 'Use another tag, or make the repository mutable.',
            detail: errorMessage(error),
          },
        )
      }
      throw awsError(error, `Tagging ${repository}@${digest} as ${tag} (PutImage)`, this.settings)
    }
  }

  /** A read that hands out nothing: proves ECR answers and the credentials may list repositories. */
  async repositoryNames(maxResults: number, signal?: AbortSignal): Promise<string[]> {
    const {DescribeRepositoriesCommand} = await import('@aws-sdk/client-ecr')
    const client = await this.ecr()
    try {
      const out = await client.send(new DescribeRepositoriesCommand({maxResults}), {abortSignal: signal})
      return (out.repositories ?? []).flatMap((repository) => repository.repositoryName ?? [])
    } catch (error) {
      throw awsError(error, 'Listing ECR repositories (DescribeRepositories)', this.settings)
    }
  }

  async authorization(secrets: SecretRegistry, signal?: AbortSignal): Promise<Authorization> {
    const {GetAuthorizationTokenCommand} = await import('@aws-sdk/client-ecr')
    const client = await this.ecr()
    let data
    try {
      const out = await client.send(new GetAuthorizationTokenCommand({}), {abortSignal: signal})
      data = out.authorizationData?.[0]
    } catch (error) {
      throw awsError(error, 'Getting an ECR login token (GetAuthorizationToken)', this.settings)
    }
    if (data?.authorizationToken === undefined || data.proxyEndpoint === undefined) {
      throw new DeployError('preflight', 'ECR returned no authorization data.', {
        hint: 'Check that the credentials may call ecr:GetAuthorizationToken.',
      })
    }
    // The raw token is itself a credential: register it before anything can print it.
    secrets.add(data.authorizationToken)
    const decoded = decodeAuthorizationToken(data.authorizationToken)
    secrets.add(decoded.password)
    return {
      ...decoded,
      registry: registryHostFromEndpoint(data.proxyEndpoint),
      ...(data.expiresAt === undefined ? {} : {expiresAt: data.expiresAt}),
    }
  }
}

/** ECR tokens are base64 of `<username>:<password>` (the username is always AWS). */
export function decodeAuthorizationToken(token: string): {username: string; password: string} {
  const text = Buffer.from(token, 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon <= 0 || colon === text.length - 1) {
    throw new DeployError('auth', 'The ECR authorization token is not of the form user:password.', {
      hint: 'This is unexpected from ECR; check --registry and the AWS endpoint settings.',
    })
  }
  return {username: text.slice(0, colon), password: text.slice(colon + 1)}
}

/** `https://123.dkr.ecr.us-east-1.amazonaws.com` → `123.dkr.ecr.us-east-1.amazonaws.com`. */
export function registryHostFromEndpoint(endpoint: string): string {
  return endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '')
}

/** The region the SDK would use for this profile (its config file), if any. */
export async function regionFromProfile(profile: string | undefined): Promise<string | undefined> {
  const {STSClient} = await import('@aws-sdk/client-sts')
  try {
    const client = new STSClient(profile === undefined ? {} : {profile})
    const region = await client.config.region()
    return region || undefined
  } catch {
    return undefined
  }
}

export function errorName(error: unknown): string {
  return (error as {name?: string} | undefined)?.name ?? ''
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** One clear line for the SDK failures people actually hit. */
export function awsError(error: unknown, doing: string, settings: AwsSettings): DeployError {
  if (error instanceof DeployError) return error
  const name = errorName(error)
  const message = errorMessage(error)
  const code = (error as {code?: string} | undefined)?.code
  const where = `region ${settings.region}${settings.profile === undefined ? '' : `, profile ${settings.profile}`}`
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new DeployError('preflight', `${doing} failed: no AWS credentials found (${where}).`, {
      hint: 'Set AWS_PROFILE (and run aws sso login if it uses SSO), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --dry-run with --account-id.',
      detail: message,
    })
  }
  if (/ExpiredToken|expired/i.test(name) || /security token .* expired/i.test(message)) {
    return new DeployError('preflight', `${doing} failed: the AWS credentials have expired (${where}).`, {
      hint: 'Refresh them (aws sso login, or new session credentials) and run again.',
      detail: message,
    })
  }
  if (/AccessDenied|UnauthorizedOperation|InvalidClientTokenId|SignatureDoesNotMatch/.test(name)) {
    return new DeployError('preflight', `${doing} failed: AWS refused the request (${name}, ${where}).`, {
      hint: 'Check that the credentials belong to the right account and may use ECR.',
      detail: message,
    })
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || name === 'TimeoutError') {
    return new DeployError(
      'preflight',
      `${doing} failed: the AWS endpoint could not be reached (${code ?? name}).`,
      {
        hint: 'Check the network, proxy and AWS_ENDPOINT_URL settings.',
        detail: message,
      },
    )
  }
  return new DeployError('preflight', `${doing} failed: ${message.split('\n')[0]} (${where}).`, {
    detail: message,
  })
}
