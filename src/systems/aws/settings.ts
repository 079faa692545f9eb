import {readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import path from 'node:path'

import type {SecretRegistry} from '../../secrets.js'

/** What CloudTrail shows for a role mldeploy assumed. */
export const ROLE_SESSION_NAME = 'mldeploy-promote'

/** The region when nothing names one (as the aws CLI's users expect from ecr.sh). */
export const FALLBACK_REGION = 'us-east-1'

export interface StaticCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

/**
 * Everything a client needs, resolved from one target's environment record: nothing is left for
 * the SDK to read from process.env, so with several targets each one talks to its own endpoint
 * with its own credentials.
 */
export interface AwsSettings {
  region: string
  profile?: string
  /** Fewer attempts and short timeouts: for a dry run that must not hang without a network. */
  quick?: boolean
  /** `AWS_ENDPOINT_URL`: every service unless `endpoints` names it. */
  endpoint?: string
  /** `AWS_ENDPOINT_URL_<SERVICE>` by lower-case service (`ecr`, `sts`, `s3`, `codebuild`, `cloudwatch_logs`). */
  endpoints?: Record<string, string>
  /** Static keys; without them the default chain runs with `profile` and the files below. */
  credentials?: StaticCredentials
  /** `AWS_CONFIG_FILE` */
  configFile?: string
  /** `AWS_SHARED_CREDENTIALS_FILE` */
  credentialsFile?: string
  maxAttempts?: number
  retryMode?: 'standard' | 'adaptive' | 'legacy'
  /** A role to assume with the credentials above (STS AssumeRole): promote's --to-role-arn. */
  assumeRole?: {roleArn: string; sessionName: string}
}

export interface AwsOverrides {
  /** Already resolved (flag, AWS_REGION, AWS_DEFAULT_REGION, profile): wins over the record. */
  region?: string
  /** From --profile or AWS_PROFILE. */
  profile?: string
  quick?: boolean
  /** A role the clients assume (STS AssumeRole) with the credentials found. */
  roleArn?: string
}

const value = (env: Record<string, string | undefined>, name: string): string | undefined => {
  const found = env[name]?.trim()
  return found === undefined || found === '' ? undefined : found
}

/** The endpoint for one service: its own variable first, then the general one. */
export function endpointFor(settings: AwsSettings, service: string): string | undefined {
  return settings.endpoints?.[service.toLowerCase()] ?? settings.endpoint
}

/**
 * Client settings for one target from its own environment record (process env over its .env
 * files, see `PushConfig.childEnv`); process.env itself is never read or written here.
 */
export function awsSettingsFor(env: Record<string, string>, overrides: AwsOverrides = {}): AwsSettings {
  const profile = overrides.profile ?? value(env, 'AWS_PROFILE')
  const configFile = expandHome(value(env, 'AWS_CONFIG_FILE'), env)
  const credentialsFile = expandHome(value(env, 'AWS_SHARED_CREDENTIALS_FILE'), env)
  const settings: AwsSettings = {
    region: overrides.region ?? regionFromEnv(env, profile).value,
    ...(profile === undefined ? {} : {profile}),
    ...(overrides.quick ? {quick: true} : {}),
    ...(overrides.roleArn === undefined
      ? {}
      : {assumeRole: {roleArn: overrides.roleArn, sessionName: ROLE_SESSION_NAME}}),
    ...(configFile === undefined ? {} : {configFile}),
    ...(credentialsFile === undefined ? {} : {credentialsFile}),
  }
  const endpoint = value(env, 'AWS_ENDPOINT_URL')
  if (endpoint !== undefined) settings.endpoint = endpoint
  const endpoints: Record<string, string> = {}
  for (const [name, raw] of Object.entries(env)) {
    const service = /^AWS_ENDPOINT_URL_([A-Z0-9_]+)$/.exec(name)?.[1]
    if (service !== undefined && raw.trim() !== '') endpoints[service.toLowerCase()] = raw.trim()
  }
  if (Object.keys(endpoints).length > 0) settings.endpoints = endpoints

  const accessKeyId = value(env, 'AWS_ACCESS_KEY_ID')
  const secretAccessKey = value(env, 'AWS_SECRET_ACCESS_KEY')
  // As the aws CLI does: keys in the environment beat AWS_PROFILE, an explicit --profile beats keys.
  const profileFromFlag = overrides.profile !== undefined && overrides.profile !== value(env, 'AWS_PROFILE')
  if (accessKeyId !== undefined && secretAccessKey !== undefined && !profileFromFlag) {
    const sessionToken = value(env, 'AWS_SESSION_TOKEN')
    settings.credentials = {
      accessKeyId,
      secretAccessKey,
      ...(sessionToken === undefined ? {} : {sessionToken}),
    }
  }

  const attempts = Number(value(env, 'AWS_MAX_ATTEMPTS'))
  if (Number.isInteger(attempts) && attempts >= 1) settings.maxAttempts = attempts
  const retryMode = value(env, 'AWS_RETRY_MODE')
  if (retryMode === 'standard' || retryMode === 'adaptive' || retryMode === 'legacy')
    settings.retryMode = retryMode
  return settings
}

export interface SourcedRegion {
  value: string
  source: string
}

/** AWS_REGION, then AWS_DEFAULT_REGION (the aws CLI's, not read by the SDK), the profile's, the fallback. */
export function regionFromEnv(env: Record<string, string>, profile?: string): SourcedRegion {
  const region = value(env, 'AWS_REGION')
  if (region !== undefined) return {value: region, source: 'env AWS_REGION'}
  const defaultRegion = value(env, 'AWS_DEFAULT_REGION')
  if (defaultRegion !== undefined) return {value: defaultRegion, source: 'env AWS_DEFAULT_REGION'}
  const name = profile ?? value(env, 'AWS_PROFILE')
  const fromProfile = regionFromProfile(env, name)
  if (fromProfile !== undefined) return {value: fromProfile, source: `AWS profile ${name ?? 'default'}`}
  return {value: FALLBACK_REGION, source: 'default'}
}

/**
 * Region: the already resolved one (flag, AWS_REGION, AWS_DEFAULT_REGION, each with where it came
 * from), else the profile's in the target's AWS config file, else the fallback.
 */
export async function resolveRegion(config: {
  region: SourcedRegion | undefined
  profile: SourcedRegion | undefined
  childEnv: Record<string, string>
}): Promise<SourcedRegion> {
  if (config.region !== undefined) return config.region
  const profile = config.profile?.value
  const fromProfile = regionFromProfile(config.childEnv, profile)
  if (fromProfile !== undefined) return {value: fromProfile, source: `AWS profile ${profile ?? 'default'}`}
  return {value: FALLBACK_REGION, source: 'default'}
}

/**
 * The profile's `region` from the AWS config file (`AWS_CONFIG_FILE` or `~/.aws/config`): read
 * here instead of through the SDK, which costs ~80 ms of imports for one line of a file.
 */
export function regionFromProfile(
  env: Record<string, string>,
  profile: string | undefined,
): string | undefined {
  const file = expandHome(value(env, 'AWS_CONFIG_FILE'), env) ?? path.join(homeOf(env), '.aws', 'config')
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  return parseConfigFile(text)[profile ?? 'default']?.region
}

/** `[default]` and `[profile NAME]` sections of an AWS config file; nested (indented) keys are skipped. */
export function parseConfigFile(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {}
  let current: Record<string, string> | undefined
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(trimmed)
    if (header !== null) {
      const name = header[1]!
      const profile = /^profile\s+(.+)$/.exec(name)?.[1]?.trim()
      // `[default]` and `[profile default]` both name the default profile; other bare names are not profiles.
      const key = profile ?? (name === 'default' ? 'default' : undefined)
      current = key === undefined ? undefined : (sections[key] ??= {})
      continue
    }
    if (current === undefined || /^\s/.test(line)) continue
    const pair = /^([^=]+?)\s*=\s*(.*)$/.exec(trimmed)
    if (pair !== null) current[pair[1]!.toLowerCase()] = pair[2]!.replace(/\s+[#;].*$/, '')
  }
  return sections
}

function homeOf(env: Record<string, string>): string {
  return value(env, 'HOME') ?? homedir()
}

function expandHome(file: string | undefined, env: Record<string, string>): string | undefined {
  if (file === undefined) return undefined
  return file === '~' || file.startsWith('~/') ? path.join(homeOf(env), file.slice(1)) : file
}

/** Register the target's AWS secrets before anything can print them (a child's error, an SDK message). */
export function registerAwsSecrets(env: Record<string, string>, secrets: SecretRegistry): void {
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    const secret = value(env, name)
    if (secret !== undefined) secrets.add(secret)
  }
}

const CREDENTIAL_VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']

/**
 * A child's environment without the AWS keys. Only the import step (`create_bento_model.py`)
 * needs them, for MLflow artifacts stored in S3; bentoml build/containerize and the backend's
 * login and push do not (the registry password comes from GetAuthorizationToken on stdin).
 */
export function withoutAwsCredentials(env: Record<string, string>): Record<string, string> {
  const rest = {...env}
  for (const name of CREDENTIAL_VARIABLES) delete rest[name]
  return rest
}

/**
 * The AWS variables this module reads (above) and the SDK's credential chain honours, for the
 * `.env` typo check: a key with the AWS_ prefix close to one of these is probably a typo.
 */
export const AWS_VARIABLES = [
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_ENDPOINT_URL',
  ...CREDENTIAL_VARIABLES,
  'AWS_MAX_ATTEMPTS',
  'AWS_RETRY_MODE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_EC2_METADATA_DISABLED',
] as const
