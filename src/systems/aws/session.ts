import type {ECRClient} from '@aws-sdk/client-ecr'
import type {STSClient} from '@aws-sdk/client-sts'
import type {AwsCredentialIdentity, AwsCredentialIdentityProvider} from '@smithy/types'

import {AwsError} from '../../errors.js'
import {SecretRegistry} from '../../secrets.js'
import {toAwsError, withChainReason} from './errors.js'
import {QUIET_LOGGER, responseGuard} from './middleware.js'
import {type AwsSettings, endpointFor} from './settings.js'
import {credentialProviderModule, ecrModule, stsModule} from './sdk.js'

/**
 * One target's AWS session: its credentials, the ECR and STS clients built from explicit settings
 * (one target's endpoint, credentials, retries: see `awsSettingsFor`, never process.env), who the
 * caller is and an ECR login token. The SDK is imported only when a command talks to AWS, to keep
 * `--help` and `--version` fast. The ECR repository and image operations build on it
 * (ecr-repositories.ts, ecr-images.ts) through `EcrApi`.
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

/** What the ECR operations need from a session: the client, call options, error mapping. */
export interface EcrApi {
  client(): Promise<ECRClient>
  /** The caller's signal and close(), whichever comes first. */
  options(signal: AbortSignal | undefined): {abortSignal: AbortSignal}
  fail(error: unknown, operation: string, doing: string): AwsError
  redact(text: string): string
  region: string
}

/** A slow endpoint fails instead of hanging; a dry run gives up sooner (it must not wait on a closed network). */
const TIMEOUTS = {
  normal: {connectionTimeout: 5_000, requestTimeout: 30_000},
  quick: {connectionTimeout: 2_000, requestTimeout: 4_000},
}

/** The SDK's own default, stated so AWS_MAX_ATTEMPTS in process.env cannot decide for a target. */
const DEFAULT_MAX_ATTEMPTS = 3

export class AwsSession {
  private ecrClient?: Promise<ECRClient>
  private stsClient?: Promise<STSClient>
  private chain?: Promise<AwsCredentialIdentityProvider>
  /** What the default chain said on its debug log: the only place it names some failures. */
  private readonly chainLog: string[] = []
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

  /**
   * With a role to assume (promote's --to-role-arn): that role's temporary credentials, asked of STS
   * with the base credentials below and renewed five minutes before they expire.
   */
  private readonly credentials = async (): Promise<AwsCredentialIdentity> => {
    const role = this.settings.assumeRole
    if (role === undefined) return this.baseCredentials()
    const held = this.assumed === undefined ? undefined : await this.assumed.catch(() => undefined)
    if (held?.expiration === undefined || held.expiration.getTime() - Date.now() < 300_000) {
      this.assumed = this.assume(role.roleArn, role.sessionName)
    }
    return this.assumed!
  }

  private assumed?: Promise<AwsCredentialIdentity>

  private async assume(roleArn: string, sessionName: string): Promise<AwsCredentialIdentity> {
    const {AssumeRoleCommand, STSClient} = await stsModule()
    const client = this.track(
      new STSClient({...this.clientConfig('sts'), credentials: this.baseCredentials}),
      'sts',
    )
    let found
    try {
      const out = await client.send(
        new AssumeRoleCommand({RoleArn: roleArn, RoleSessionName: sessionName}),
        this.signal(undefined),
      )
      found = out.Credentials
    } catch (error) {
      throw this.fail(error, 'sts:AssumeRole', `Assuming role ${roleArn} (STS AssumeRole)`)
    }
    if (found?.AccessKeyId === undefined || found.SecretAccessKey === undefined)
      throw new AwsError(
        'malformed',
        'sts:AssumeRole',
        `STS AssumeRole of ${roleArn} returned no credentials.`,
      )
    const credentials: AwsCredentialIdentity = {
      accessKeyId: found.AccessKeyId,
      secretAccessKey: found.SecretAccessKey,
      ...(found.SessionToken === undefined ? {} : {sessionToken: found.SessionToken}),
      ...(found.Expiration === undefined ? {} : {expiration: found.Expiration}),
    }
    this.noteSecrets(credentials)
    return credentials
  }

  /** Static keys from the target's environment, else the default chain told which profile and files to use. */
  private readonly baseCredentials = async (): Promise<AwsCredentialIdentity> => {
    const fixed = this.settings.credentials
    if (fixed !== undefined) return fixed
    const {profile, credentialsFile, configFile} = this.settings
    this.chain ??= credentialProviderModule().then(({defaultProvider}) =>
      defaultProvider({
        ...(profile === undefined ? {} : {profile}),
        ...(credentialsFile === undefined ? {} : {filepath: credentialsFile}),
        ...(configFile === undefined ? {} : {configFilepath: configFile}),
        logger: {...QUIET_LOGGER, debug: (...said: unknown[]) => this.noteChainLog(said)},
      }),
    )
    let found: AwsCredentialIdentity
    try {
      found = await (await this.chain)()
    } catch (error) {
      throw withChainReason(error, this.chainLog)
    }
    this.noteSecrets(found)
    return found
  }

  private noteChainLog(said: unknown[]): void {
    const line = said.find((part): part is string => typeof part === 'string')
    // Bounded: a long-lived session keeps only the latest lines.
    if (line !== undefined) this.chainLog.push(this.secrets.redact(line))
    if (this.chainLog.length > 50) this.chainLog.shift()
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

  /** For the ECR operation modules (repositories, images). */
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

  protected get ecrApi(): EcrApi {
    return {
      client: () => this.ecr(),
      options: (signal) => this.signal(signal),
      fail: (error, operation, doing) => this.fail(error, operation, doing),
      redact: (text) => this.secrets.redact(text),
      region: this.settings.region,
    }
  }

  protected ecr(): Promise<ECRClient> {
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

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
