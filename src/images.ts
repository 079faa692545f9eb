import {usageError} from './errors.js'

// ECR's own rules (CreateRepository / PutImage), which are stricter than the docker reference grammar.
const REPOSITORY = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/
const ACCOUNT_ID = /^\d{12}$/
const REGISTRY_HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::\d{1,5})?$/

/** Shown in a dry run where the value is only known once the step runs. */
export const PLACEHOLDER = {
  account: '<aws-account-id>',
  bentoVersion: '<bento-version>',
} as const

export function validateRepository(name: string, origin: string): string {
  if (name.length < 2 || name.length > 256 || !REPOSITORY.test(name)) {
    throw usageError(
      `${origin} ${JSON.stringify(truncate(name))} is not a valid ECR repository name.`,
      'Use 2-256 lowercase letters, digits and "-", "_", "." separated parts, optionally namespaced with "/".',
    )
  }
  return name
}

export function validateImageTag(tag: string, origin: string): string {
  if (!IMAGE_TAG.test(tag)) {
    throw usageError(
      `${origin} ${JSON.stringify(truncate(tag))} is not a valid image tag.`,
      'Use up to 128 letters, digits, "_", "." and "-", not starting with "." or "-".',
    )
  }
  return tag
}

const DIGEST = /^sha256:[a-f0-9]{64}$/

export function validateDigest(digest: string, origin: string): string {
  if (!DIGEST.test(digest)) {
    throw usageError(
      `${origin} ${JSON.stringify(truncate(digest))} is not an image digest.`,
      'Use sha256: and 64 lowercase hex digits, as push prints it.',
    )
  }
  return digest
}

export function validateRegion(region: string, origin: string): string {
  if (!REGION.test(region)) {
    throw usageError(
      `${origin} ${JSON.stringify(truncate(region))} is not an AWS region.`,
      'Use a region code such as us-east-1 or eu-west-1.',
    )
  }
  return region
}

export function validateAccountId(account: string, origin: string): string {
  if (!ACCOUNT_ID.test(account)) {
    throw usageError(
      `${origin} ${JSON.stringify(truncate(account))} is not an AWS account id.`,
      'It is 12 digits.',
    )
  }
  return account
}

/** Accepts `host[:port]` or a URL (`https://host`); returns the bare host, as logins need it. */
export function normalizeRegistryHost(value: string, origin: string): string {
  const host = value.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '')
  if (!REGISTRY_HOST.test(host)) {
    throw usageError(
      `${origin} ${JSON.stringify(truncate(value))} is not a registry host.`,
      'Use host[:port], e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com.',
    )
  }
  return host
}

/** The ECR registry host AWS would give for this account and region (China uses its own suffix). */
export function ecrRegistryHost(account: string, region: string): string {
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'
  return `${account}.dkr.ecr.${region}.${suffix}`
}

/** `--tag` values in order, then the bento version: every push is addressable by its bento version. */
export function imageTags(tags: readonly string[], bentoVersion: string): string[] {
  return [...new Set([...tags, bentoVersion])]
}

export function imageReference(registry: string, repository: string, tag: string): string {
  return `${registry}/${repository}:${tag}`
}

/** Default repository for a target: `<model>/<version>`, lowercased to fit ECR's rules. */
export function defaultRepository(model: string, version: string): string {
  const clean = (segment: string): string =>
    segment
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[._-]+|[._-]+$/g, '')
  return `${clean(model)}/${clean(version)}`
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value
}

/** Where `promote --to-registry` copies to: an ECR registry (account and region in its host) or another. */
export interface Destination {
  host: string
  /** Undefined: the source's repository. */
  repository: string | undefined
  /** An ECR host's account and region (private ECR hosts, FIPS and China included). */
  ecr: {account: string; region: string} | undefined
}

const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.amazonaws\.com(?:\.cn)?$/

/** `<account>.dkr.ecr.<region>.amazonaws.com[/<repository>]`, or `host[:port][/<repository>]` of another registry. */
export function parseDestination(value: string, origin: string): Destination {
  const bare = value.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '')
  const slash = bare.indexOf('/')
  const host = normalizeRegistryHost(slash < 0 ? bare : bare.slice(0, slash), origin)
  const repository =
    slash < 0 ? undefined : validateRepository(bare.slice(slash + 1), `${origin}: the repository`)
  const ecr = ECR_HOST.exec(host)
  return {host, repository, ecr: ecr === null ? undefined : {account: ecr[1]!, region: ecr[2]!}}
}

const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/

export function validateRoleArn(value: string, origin: string): string {
  if (!ROLE_ARN.test(value))
    throw usageError(
      `${origin} ${JSON.stringify(truncate(value))} is not an IAM role ARN.`,
      'Use arn:aws:iam::<account>:role/<name>.',
    )
  return value
}
