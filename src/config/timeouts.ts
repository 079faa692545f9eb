import {usageError} from '../errors.js'
import {STEP_IDS, type StepId} from '../pipeline/step-ids.js'

// Kept here too: callers format durations next to the limits they parse.
export {formatDuration} from '../duration.js'

/** Per-step limits that fit real builds on a laptop; a hung child is killed after its limit. */
export const DEFAULT_TIMEOUTS_MS: Record<StepId, number> = {
  preflight: 2 * 60_000,
  import: 30 * 60_000,
  build: 30 * 60_000,
  containerize: 90 * 60_000,
  login: 2 * 60_000,
  push: 60 * 60_000,
  tag: 5 * 60_000,
  verify: 5 * 60_000,
}

const DURATION = /^(\d+(?:\.\d+)?)(s|m|h)$/

export function parseDuration(text: string, origin: string): number {
  const match = DURATION.exec(text.trim())
  const value = Number(match?.[1])
  if (match === null || !(value > 0)) {
    throw usageError(
      `${origin}: ${JSON.stringify(text.slice(0, 40))} is not a duration.`,
      'Use e.g. 90s, 45m or 2h.',
    )
  }
  const unit = match[2] === 's' ? 1000 : match[2] === 'm' ? 60_000 : 3_600_000
  return Math.round(value * unit)
}

/** `step=duration` items (from repeated --timeout flags or comma-separated MLDEPLOY_TIMEOUTS). */
export function resolveTimeouts(items: readonly string[], origin: string): Record<StepId, number> {
  const timeouts = {...DEFAULT_TIMEOUTS_MS}
  for (const item of items) {
    const [step, duration] = item.split('=', 2).map((part) => part.trim())
    if (!(STEP_IDS as readonly string[]).includes(step ?? '') || duration === undefined) {
      throw usageError(
        `${origin}: ${JSON.stringify(item.slice(0, 60))} is not <step>=<duration>.`,
        `Steps: ${STEP_IDS.join(', ')}; e.g. --timeout containerize=2h.`,
      )
    }
    timeouts[step as StepId] = parseDuration(duration, `${origin} ${step}`)
  }
  return timeouts
}
