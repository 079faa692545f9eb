import {DeployError, errorMessage, MldeployError} from '../errors.js'

/** pass: fine; warn: works but worth fixing; fail: push would fail; skip: not applicable or blocked. */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip'

export type CheckData = Record<string, string | number | boolean | null>

export interface CheckOutcome {
  status: CheckStatus
  message: string
  /** What to do about a warn or fail: one short sentence. */
  fix?: string
  /** Original text (a child's output, an SDK message), for --verbose and --json. */
  detail?: string
  data?: CheckData
}

export interface CheckResult extends CheckOutcome {
  id: string
  title: string
  durationMs: number
}

export interface Check {
  id: string
  title: string
  timeoutMs: number
  run(signal: AbortSignal): Promise<CheckOutcome>
}

/** A check that threw: its DeployError message and hint become the line and the fix. */
export function failedOutcome(error: unknown): CheckOutcome {
  if (error instanceof DeployError || error instanceof MldeployError) {
    return {
      status: 'fail',
      message: error.message,
      ...(error.hint === undefined ? {} : {fix: error.hint}),
      ...(error.detail === undefined ? {} : {detail: error.detail}),
    }
  }
  return {status: 'fail', message: errorMessage(error)}
}

/** Run one check with its own deadline; a check never throws out of here. */
export async function runCheck(check: Check, parent?: AbortSignal): Promise<CheckResult> {
  const started = performance.now()
  const controller = new AbortController()
  const onParent = (): void => controller.abort()
  parent?.addEventListener('abort', onParent, {once: true})
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<CheckOutcome>((resolve) => {
    timer = setTimeout(() => {
      controller.abort()
      resolve({
        status: 'fail',
        message: `No answer within ${formatSeconds(check.timeoutMs)}.`,
        fix: 'Run it by hand to see where it hangs, or give it longer with --timeout.',
      })
    }, check.timeoutMs)
  })
  let outcome: CheckOutcome
  try {
    outcome = await Promise.race([check.run(controller.signal), deadline])
  } catch (error) {
    outcome = failedOutcome(error)
  } finally {
    clearTimeout(timer)
    parent?.removeEventListener('abort', onParent)
  }
  if (parent?.aborted && controller.signal.aborted && outcome.status === 'fail')
    outcome = {status: 'skip', message: 'Stopped by an interrupt.'}
  return {id: check.id, title: check.title, ...outcome, durationMs: Math.round(performance.now() - started)}
}

/** All checks at once, results in the order given. */
export function runChecks(checks: readonly Check[], signal?: AbortSignal): Promise<CheckResult[]> {
  return Promise.all(checks.map((check) => runCheck(check, signal)))
}

export function countStatuses(results: readonly CheckResult[]): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = {pass: 0, warn: 0, fail: 0, skip: 0}
  for (const result of results) counts[result.status]++
  return counts
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`
}
