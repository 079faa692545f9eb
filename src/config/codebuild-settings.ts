import {usageError} from '../errors.js'

/** What `--builder codebuild` and `mldeploy builder setup codebuild` resolve (issue 13). */
export const DEFAULT_CODEBUILD_PROJECT = 'mldeploy'
export const DEFAULT_COMPUTE_TYPE = 'BUILD_GENERAL1_MEDIUM'
export const COMPUTE_TYPES = [
  'BUILD_GENERAL1_SMALL',
  'BUILD_GENERAL1_MEDIUM',
  'BUILD_GENERAL1_LARGE',
  'BUILD_GENERAL1_XLARGE',
  'BUILD_GENERAL1_2XLARGE',
] as const
/** A current Linux standard image: docker (with buildx), Python 3.11-3.13, Node 20-22, the aws CLI. */
export const CODEBUILD_IMAGE = 'aws/codebuild/standard:7.0'
/** Where sources and results go inside the bucket. */
export const CODEBUILD_PREFIX = 'mldeploy/'

/** The bucket when none is named: one per account and region (bucket names are global). */
export function defaultBucket(account: string, region: string): string {
  return `mldeploy-codebuild-${account}-${region}`
}

const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{1,254}$/
const BUCKET_NAME = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/

export function parseProjectName(raw: string, source: string): string {
  if (!PROJECT_NAME.test(raw))
    throw usageError(
      `CodeBuild project ${JSON.stringify(raw.slice(0, 80))} (from ${source}) is not a project name.`,
      'Use 2-255 letters, digits, "-" and "_", starting with a letter or digit.',
    )
  return raw
}

export function parseBucketName(raw: string, source: string): string {
  if (!BUCKET_NAME.test(raw))
    throw usageError(
      `Bucket ${JSON.stringify(raw.slice(0, 80))} (from ${source}) is not an S3 bucket name.`,
      'Use 3-63 lowercase letters, digits, "." and "-", starting and ending with a letter or digit.',
    )
  return raw
}

export function parseRoleArn(raw: string, source: string): string {
  if (!ROLE_ARN.test(raw))
    throw usageError(
      `Role ${JSON.stringify(raw.slice(0, 120))} (from ${source}) is not an IAM role ARN.`,
      'Use arn:aws:iam::<account>:role/<name> (the role CodeBuild builds with; see README "Remote builds").',
    )
  return raw
}

export interface VpcConfig {
  vpcId: string
  subnets: string[]
  securityGroupIds: string[]
}

/**
 * The aws CLI's shorthand for a CodeBuild VPC config:
 * `vpcId=vpc-1,subnets=subnet-a,subnet-b,securityGroupIds=sg-1` (a bare value continues the list).
 */
export function parseVpcConfig(raw: string, source: string): VpcConfig {
  const fields: Record<string, string[]> = {}
  let current: string | undefined
  const bad = (what: string) =>
    usageError(
      `VPC config ${JSON.stringify(raw.slice(0, 120))} (from ${source}) ${what}.`,
      'Use vpcId=vpc-...,subnets=subnet-...[,subnet-...],securityGroupIds=sg-...[,sg-...].',
    )
  for (const part of raw.split(',').map((item) => item.trim())) {
    const pair = /^(\w+)=(.*)$/.exec(part)
    if (pair !== null) {
      current = pair[1]!
      if (!['vpcId', 'subnets', 'securityGroupIds'].includes(current))
        throw bad(`has an unknown key ${current}`)
      if (fields[current] !== undefined) throw bad(`gives ${current} twice`)
      fields[current] = [pair[2]!]
    } else if (current === undefined || current === 'vpcId')
      throw bad(`has a value without a key: ${JSON.stringify(part)}`)
    else fields[current]!.push(part)
  }
  const vpcId = fields.vpcId?.[0] ?? ''
  const subnets = fields.subnets ?? []
  const securityGroupIds = fields.securityGroupIds ?? []
  if (!/^vpc-[0-9a-f]{8,17}$/.test(vpcId)) throw bad('needs vpcId=vpc-<hex>')
  if (subnets.length === 0 || !subnets.every((id) => /^subnet-[0-9a-f]{8,17}$/.test(id)))
    throw bad('needs subnets=subnet-<hex>[,subnet-<hex>]')
  if (securityGroupIds.length === 0 || !securityGroupIds.every((id) => /^sg-[0-9a-f]{8,17}$/.test(id)))
    throw bad('needs securityGroupIds=sg-<hex>[,sg-<hex>]')
  return {vpcId, subnets, securityGroupIds}
}
