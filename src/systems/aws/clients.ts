import {EcrImageSource} from './ecr-image-source.js'
import type {ECRClient} from '@aws-sdk/client-ecr'
import type {STSClient} from '@aws-sdk/client-sts'
import type {AwsCredentialIdentity, AwsCredentialIdentityProvider} from '@smithy/types'

import {AwsError} from '../../errors.js'
import {SecretRegistry} from '../../secrets.js'
import {errorName, toAwsError} from './errors.js'
import {credentialProviderModule, ecrModule, stsModule} from './sdk.js'
import {QUIET_LOGGER, responseGuard} from './middleware.js'
import {type AwsSettings, endpointFor} from './settings.js'

/**
 * ECR and STS through the AWS SDK v3. The SDK is imported only when a command talks to AWS, to
 * keep `--help` and `--version` fast. Every client is built from explicit settings (one target's
 * endpoint, credentials, retries: see `awsSettingsFor`), never from what process.env says.
 */
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

/** A slow endpoint fails instead of hanging; a dry run gives up sooner (it must not wait on a closed network). */
const TIMEOUTS = {
  normal: {connectionTimeout: 5_000, requestTimeout: 30_000},
  quick: {connectionTimeout: 2_000, requestTimeout: 4_000},
}

/** The SDK's own default, stated so AWS_MAX_ATTEMPTS in process.env cannot decide for a target. */
const DEFAULT_MAX_ATTEMPTS = 3

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
  private chain?: Promise<AwsCredentialIdentityProvider>
  private readonly created: Array<{destroy(): void}> = []
  private readonly closing = new AbortController()
  /** What these clients know to be secret (the keys, resolved credentials); messages pass through it. */
  private readonly secrets = new SecretRegistry()

  constructor(
    readonly settings: AwsSettings,
    secrets?: SecretRegistry,
  ) {
    if (secrets !== undefined) this.secrets.shareWith(secrets)
    const fixed = settings.credentials
    if (fixed !== undefined) this.noteSecrets(fixed)
  }

  /** Secrets these clients learn (also the credentials the default chain resolves later) reach `registry` too. */
  shareSecretsWith(registry: SecretRegistry): void {
    this.secrets.shareWith(registry)
  }

  /**
   * Abort outstanding requests and close the clients' sockets, so nothing keeps the process
   * alive after a run; calls made afterwards fail at once.
   */
  close(): void {
    this.closing.abort(new Error('The AWS clients were closed.'))
    for (const client of this.created.splice(0)) client.destroy()
  }

  private noteSecrets(credentials: AwsCredentialIdentity): void {
    this.secrets.add(credentials.secretAccessKey)
    if (credentials.sessionToken !== undefined) this.secrets.add(credentials.sessionToken)
  }

  /** Static keys from the target's environment, else the default chain told which profile and files to use. */
  private readonly credentials = async (): Promise<AwsCredentialIdentity> => {
    const fixed = this.settings.credentials
    if (fixed !== undefined) return fixed
    const {profile, credentialsFile, configFile} = this.settings
    this.chain ??= credentialProviderModule().then(({defaultProvider}) =>
      defaultProvider({
        ...(profile === undefined ? {} : {profile}),
        ...(credentialsFile === undefined ? {} : {filepath: credentialsFile}),
        ...(configFile === undefined ? {} : {configFilepath: configFile}),
        logger: QUIET_LOGGER,
      }),
    )
    const found = await (await this.chain)()
    this.noteSecrets(found)
    return found
  }

  private clientConfig(service: string): Record<string, unknown> {
    const {settings} = this
    const endpoint = endpointFor(settings, service)
    return {
      region: settings.region,
      ...(endpoint === undefined ? {} : {endpoint}),
      credentials: this.credentials,
      maxAttempts: settings.quick ? 1 : (settings.maxAttempts ?? DEFAULT_MAX_ATTEMPTS),
      retryMode: settings.retryMode ?? 'standard',
      logger: QUIET_LOGGER,
      requestHandler: {
        ...(settings.quick ? TIMEOUTS.quick : TIMEOUTS.normal),
        // Without it the SDK only logs "[WARN] a request has exceeded the requestTimeout" and waits on.
        throwOnRequestTimeout: true,
        logger: QUIET_LOGGER,
      },
    }
  }

  private track<T extends {destroy(): void; middlewareStack: {add: (...args: never[]) => void}}>(
    client: T,
    service: string,
  ): T {
    const add = client.middlewareStack.add as unknown as (middleware: unknown, options: object) => void
    // Inside the deserializer: sees each attempt's raw answer before the SDK parses it.
    add.call(client.middlewareStack, responseGuard(service), {
      step: 'deserialize',
      priority: 'low',
      name: 'mldeployResponseGuard',
    })
    if (this.closing.signal.aborted) client.destroy()
    else this.created.push(client)
    return client
  }

  /**
   * Another service's client, built as ECR's and STS's are (this target's endpoint, credentials,
   * retries, the recording response guard): for the modules beside this one (S3, Logs, CodeBuild).
   */
  serviceClient<T extends {destroy(): void; middlewareStack: {add: (...args: never[]) => void}}>(
    service: string,
    make: (config: Record<string, unknown>) => T,
  ): T {
    return this.track(make(this.clientConfig(service)), service)
  }

  /** The abort options for a call: the caller's signal and close(), whichever comes first. */
  callOptions(signal?: AbortSignal): {abortSignal: AbortSignal} {
    return this.signal(signal)
  }

  /** An SDK failure as a typed AwsError (redacted, with region and profile). */
  failure(error: unknown, operation: string, doing: string): AwsError {
    return this.fail(error, operation, doing)
  }

  /** The repository's images read through ECR's API (manifest, config blob, tags, size). */
  async imageSource(repository: string, registryId?: string): Promise<EcrImageSource> {
    return new EcrImageSource(await this.ecr(), repository, registryId)
  }

  private ecr(): Promise<ECRClient> {
    this.ecrClient ??= ecrModule().then(({ECRClient}) =>
      this.track(new ECRClient(this.clientConfig('ecr')), 'ecr'),
    )
    return this.ecrClient
  }

  private sts(): Promise<STSClient> {
    this.stsClient ??= stsModule().then(({STSClient}) =>
      this.track(new STSClient(this.clientConfig('sts')), 'sts'),
    )
    return this.stsClient
  }

  /** The caller's signal and close(), whichever comes first. */
  private signal(signal: AbortSignal | undefined): {abortSignal: AbortSignal} {
    return {
      abortSignal:
        signal === undefined ? this.closing.signal : AbortSignal.any([signal, this.closing.signal]),
    }
  }

  private fail(error: unknown, operation: string, doing: string): AwsError {
    return toAwsError(error, operation, doing, this.settings, (text) => this.secrets.redact(text))
  }

  async identity(signal?: AbortSignal): Promise<Identity> {
    const {GetCallerIdentityCommand} = await stsModule()
    const client = await this.sts()
    try {
      const out = await client.send(new GetCallerIdentityCommand({}), this.signal(signal))
      if (out.Account === undefined) throw new Error('GetCallerIdentity returned no account')
      return {account: out.Account, arn: out.Arn ?? ''}
    } catch (error) {
      throw this.fail(error, 'sts:GetCallerIdentity', 'Reading the AWS identity (STS GetCallerIdentity)')
    }
  }

  /**
   * The repository's facts; a missing one is created when `create` says how, else it is a
   * not-found error naming repository, account and region.
   */
  async repository(
    repository: string,
    account: string,
    create: RepositorySettings | undefined,
    signal?: AbortSignal,
  ): Promise<RepositoryFacts> {
    const {CreateRepositoryCommand, DescribeRepositoriesCommand} = await ecrModule()
    const client = await this.ecr()
    try {
      const out = await client.send(
        new DescribeRepositoriesCommand({repositoryNames: [repository], registryId: account}),
        this.signal(signal),
      )
      const found = out.repositories?.[0]
      return {
        uri: found?.repositoryUri ?? '',
        mutability: found?.imageTagMutability ?? 'MUTABLE',
        created: false,
      }
    } catch (error) {
      if (errorName(error) !== 'RepositoryNotFoundException') {
        throw this.fail(error, 'ecr:DescribeRepositories', `Checking ECR repository ${repository}`)
      }
      if (create === undefined) {
        throw new AwsError(
          'not-found',
          'ecr:DescribeRepositories',
          `ECR repository ${repository} does not exist in account ${account}, region ${this.settings.region}.`,
          {
            hint: `Create it with --create-repository, or pick another with --repository.`,
            detail: this.secrets.redact(errorText(error)),
            cause: error,
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
        this.signal(signal),
      )
      return {uri: out.repository?.repositoryUri ?? '', mutability: create.mutability, created: true}
    } catch (error) {
      // Another run created it in the meantime: that is what we wanted.
      if (errorName(error) === 'RepositoryAlreadyExistsException')
        return this.repository(repository, account, undefined, signal)
      throw this.fail(error, 'ecr:CreateRepository', `Creating ECR repository ${repository}`)
    }
  }

  /** What the repository holds under each of these tags (absent tags are left out). */
  async imagesByTag(
    repository: string,
    tags: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, ImageFacts>> {
    const {DescribeImagesCommand} = await ecrModule()
    const client = await this.ecr()
    const found = new Map<string, ImageFacts>()
    // One call per tag: DescribeImages fails the whole call when any listed tag is missing.
    await Promise.all(
      tags.map(async (tag) => {
        try {
          const out = await client.send(
            new DescribeImagesCommand({repositoryName: repository, imageIds: [{imageTag: tag}]}),
            this.signal(signal),
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
          throw this.fail(error, 'ecr:DescribeImages', `Describing ${repository}:${tag} (DescribeImages)`)
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
    const {BatchGetImageCommand, PutImageCommand} = await ecrModule()
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
        this.signal(signal),
      )
      manifest = out.images?.[0]?.imageManifest
      mediaType = out.images?.[0]?.imageManifestMediaType
    } catch (error) {
      throw this.fail(
        error,
        'ecr:BatchGetImage',
        `Reading the manifest of ${repository}@${digest} (BatchGetImage)`,
      )
    }
    if (manifest === undefined) {
      throw new AwsError(
        'not-found',
        'ecr:BatchGetImage',
        `ECR has no image ${repository}@${digest} to tag as ${tag}.`,
      )
    }
    try {
      await client.send(
        new PutImageCommand({
          repositoryName: repository,
          imageManifest: manifest,
          ...(mediaType === undefined ? {} : {imageManifestMediaType: mediaType}),
          imageTag: tag,
        }),
        this.signal(signal),
      )
    } catch (error) {
      // The tag already names this very manifest: nothing to do.
      if (errorName(error) === 'ImageAlreadyExistsException') return
      if (errorName(error) === 'ImageTagAlreadyExistsException') {
        throw new AwsError(
          'conflict',
          'ecr:PutImage',
          `Tag ${tag} already exists in the immutable repository ${repository}.`,
          {
            hint: 'Use another tag, or make the repository mutable.',
            detail: this.secrets.redact(errorText(error)),
            cause: error,
          },
        )
      }
      throw this.fail(error, 'ecr:PutImage', `Tagging ${repository}@${digest} as ${tag} (PutImage)`)
    }
  }

  // --- push-only roles (issue 12) ---

  /**
   * The digest each tag names, read with BatchGetImage (a missing tag is left out): how
   * a role without ecr:DescribeImages (AWS's documented push policy has none) verifies its tags.
   */
  async digestsByTag(
    repository: string,
    tags: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, string>> {
    const {BatchGetImageCommand} = await ecrModule()
    const client = await this.ecr()
    const found = new Map<string, string>()
    // One call per tag: the answer's imageId is then the tag's image (moto names every image by
    // the last tag it was given, so a batched answer cannot be matched back reliably).
    await Promise.all(
      tags.map(async (tag) => {
        try {
          const out = await client.send(
            new BatchGetImageCommand({
              repositoryName: repository,
              imageIds: [{imageTag: tag}],
              acceptedMediaTypes: MANIFEST_MEDIA_TYPES,
            }),
            this.signal(signal),
          )
          const digest = out.images?.[0]?.imageId?.imageDigest
          if (digest !== undefined) found.set(tag, digest)
        } catch (error) {
          throw this.fail(error, 'ecr:BatchGetImage', `Reading ${repository}:${tag} (BatchGetImage)`)
        }
      }),
    )
    return found
  }

  // --- end push-only roles ---

  /** A read that hands out nothing: proves ECR answers and the credentials may list repositories. */
  async repositoryNames(maxResults: number, signal?: AbortSignal): Promise<string[]> {
    const {DescribeRepositoriesCommand} = await ecrModule()
    const client = await this.ecr()
    try {
      const out = await client.send(new DescribeRepositoriesCommand({maxResults}), this.signal(signal))
      return (out.repositories ?? []).flatMap((repository) => repository.repositoryName ?? [])
    } catch (error) {
      throw this.fail(error, 'ecr:DescribeRepositories', 'Listing ECR repositories (DescribeRepositories)')
    }
  }

  async authorization(secrets: SecretRegistry, signal?: AbortSignal): Promise<Authorization> {
    const {GetAuthorizationTokenCommand} = await ecrModule()
    const client = await this.ecr()
    let data
    try {
      const out = await client.send(new GetAuthorizationTokenCommand({}), this.signal(signal))
      data = out.authorizationData?.[0]
    } catch (error) {
      throw this.fail(
        error,
        'ecr:GetAuthorizationToken',
        'Getting an ECR login token (GetAuthorizationToken)',
      )
    }
    if (data?.authorizationToken === undefined || data.proxyEndpoint === undefined) {
      throw new AwsError('malformed', 'ecr:GetAuthorizationToken', 'ECR returned no authorization data.', {
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
    throw new AwsError(
      'malformed',
      'ecr:GetAuthorizationToken',
      'The ECR authorization token is not of the form user:password.',
      {hint: 'This is unexpected from ECR; check --registry and the AWS endpoint settings.'},
    )
  }
  return {username: text.slice(0, colon), password: text.slice(colon + 1)}
}

/** `https://123.dkr.ecr.us-east-1.amazonaws.com` → `123.dkr.ecr.us-east-1.amazonaws.com`. */
export function registryHostFromEndpoint(endpoint: string): string {
  return endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '')
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
