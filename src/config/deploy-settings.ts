import {usageError} from '../errors.js'
import {closest} from '../suggest.js'
import {INSTANCE_TYPES, isArm64InstanceType, isInstanceType} from '../sagemaker-instance-types.js'

// Parsing of `mldeploy deploy`'s settings (issue 24 §3); the rows are in settings.ts.

export const DEFAULT_INSTANCE_TYPE = 'ml.m5.large'
export const DEFAULT_VARIANT_NAME = 'AllTraffic'
export const DEFAULT_WAIT_TIMEOUT = '30m'
export const DEFAULT_POLL_SECONDS = 15
/** SageMaker's bounds for WaitIntervalInSeconds and TerminationWaitInSeconds. */
export const MAX_TRAFFIC_WAIT_SECONDS = 3600
export const DEFAULT_TRAFFIC_WAIT_SECONDS = 300
export const TRAFFIC_SHIFTING = ['all-at-once', 'canary', 'linear'] as const
export type TrafficShifting = (typeof TRAFFIC_SHIFTING)[number]
/** What --traffic-step defaults to: a tenth first (canary), a fifth per step (linear). */
export const DEFAULT_TRAFFIC_STEP: Record<'canary' | 'linear', string> = {canary: '10%', linear: '20%'}

/** SageMaker's name rule (models, endpoint configurations, endpoints, variants). */
export const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/

export function parseSageMakerName(raw: string, origin: string): string {
  if (!SAGEMAKER_NAME.test(raw))
    throw usageError(
      `${origin} ${JSON.stringify(raw.slice(0, 80))} is not a SageMaker name.`,
      'Use up to 63 letters, digits and hyphens, starting and ending with a letter or digit.',
    )
  return raw
}

/** `ml.<family>.<size>`, one of SageMaker's real-time hosting instance types, and not Graviton. */
export function parseInstanceType(raw: string, origin: string): string {
  const name = raw.trim()
  if (!isInstanceType(name)) {
    const shape = /^ml\.[a-z0-9-]+\.[a-z0-9]+$/.test(name)
      ? ''
      : ' Instance types are written ml.<family>.<size>.'
    const near = closestNames(name)
    throw usageError(
      `${origin} ${JSON.stringify(name.slice(0, 60))} is not a SageMaker real-time hosting instance type.${shape}`,
      `Did you mean ${near.join(', ')}? The README's Deploy section links the list.`,
    )
  }
  if (isArm64InstanceType(name))
    throw usageError(
      `${origin} ${name} is a Graviton (arm64) instance type, and mldeploy's images are linux/amd64.`,
      'Use an x86 type of the same size, e.g. ml.m5.large or ml.c5.xlarge.',
    )
  return name
}

/** The three names nearest to `name`: a typo's own fix first, then the same family's sizes. */
function closestNames(name: string): string[] {
  const typo = closest(name, INSTANCE_TYPES)
  const family = /^ml\.([a-z0-9-]+)\./.exec(name)?.[1]
  const sameFamily =
    family === undefined ? [] : INSTANCE_TYPES.filter((each) => each.split('.')[1] === family)
  const picked = [...new Set([...(typo === undefined ? [] : [typo]), ...sameFamily])].slice(0, 3)
  return picked.length > 0 ? picked : [DEFAULT_INSTANCE_TYPE, 'ml.c5.xlarge', 'ml.g5.xlarge']
}

/** `--traffic-step`: `10%` of the capacity, or `2` instances. */
export function parseTrafficStep(
  raw: string,
  origin: string,
): {type: 'CAPACITY_PERCENT' | 'INSTANCE_COUNT'; value: number} {
  const match = /^\s*(\d+)\s*(%?)\s*$/.exec(raw)
  const value = match === null ? Number.NaN : Number(match[1])
  const percent = match?.[2] === '%'
  if (!Number.isInteger(value) || value < 1 || (percent && value > 100))
    throw usageError(
      `${origin} ${JSON.stringify(raw.slice(0, 40))} is not a traffic step.`,
      'Use a share of the capacity (10%) or a number of instances (2).',
    )
  return {type: percent ? 'CAPACITY_PERCENT' : 'INSTANCE_COUNT', value}
}

/** Derived SageMaker names: `<base>-<suffix>` cut to 63 characters, the base only where it must. */
export function sageMakerName(base: string, ...suffixes: string[]): string {
  const clean = base
    .replace(/[^a-zA-Z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase()
  const tail = suffixes.map((suffix) => `-${suffix}`).join('')
  const room = 63 - tail.length
  const head = clean.slice(0, room).replace(/-+$/, '') || 'mldeploy'
  return `${head}${tail}`
}
