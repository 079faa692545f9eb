import {usageError} from '../errors.js'
import {STEP_IDS, type StepId} from '../step-ids.js'

// Kept here too: callers format durations next to the limits they parse.
export {formatDuration} from '../duration.js'

/** Per-step limits that fit real builds on a laptop; a hung child is killed after its limit. */
export const DEFAULT_TIMEOUTS_MS: Record<StepId, number> = {
  preflight: 2 * 60_000,
  import: 30 * 60_000,
  build: 30 * 60_000,
  // Hashing the bento and its models (gigabytes of weights) and asking the registry.
  reuse: 10 * 60_000,
  containerize: 90 * 60_000,
  login: 2 * 60_000,
  push: 60 * 60_000,
  // Issue 24: the contract run, mostly the wait for /ping (a model that loads slowly is slow on SageMaker too, where the startup health check can be given up to an hour).
  serving: 10 * 60_000,
  // Issue 25: a basic scan takes a minute or two; enhanced scanning's first findings can take longer.
  scan: 10 * 60_000,
  tag: 5 * 60_000,
  verify: 5 * 60_000,
}

const DURATION = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/
const UNITS: Record<string, number> = {s: 1000, m: 60_000, h: 3_600_000}

/** Below a second a child cannot even start; above a day is a hang, not a build. */
export const MIN_DURATION_MS = 1000
export const MAX_DURATION_MS = 24 * 3_600_000

export function parseDuration(text: string, origin: string): number {
  const shown = JSON.stringify(text.slice(0, 40))
  const match = DURATION.exec(text.trim())
  if (match === null) throw usageError(`${origin}: ${shown} is not a duration.`, 'Use e.g. 90s, 45m or 2h.')
  const unit = match[2] ?? ''
  const scale = UNITS[unit]
  const tooShort = `${origin}: ${shown} is too short: it must be at least 1s.`
  // Zero is too short in any unit: say that rather than ask for one.
  if (Number(match[1]) === 0) throw usageError(tooShort, 'E.g. 90s, 45m or 2h.')
  if (scale === undefined) {
    throw usageError(
      unit === ''
        ? `${origin}: ${shown} has no unit: use s, m or h.`
        : `${origin}: ${shown}: ${unit} is not a unit: use s, m or h.`,
      'E.g. 90s, 45m or 2h.',
    )
  }
  const ms = Math.round(Number(match[1]) * scale)
  if (ms < MIN_DURATION_MS) throw usageError(tooShort, 'E.g. 90s, 45m or 2h.')
  // Node's timers overflow past about 24.8 days and would fire at once.
  if (ms > MAX_DURATION_MS) {
    throw usageError(`${origin}: ${shown} is too long: it must be at most 24h.`, 'E.g. 90s, 45m or 2h.')
  }
  return ms
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
