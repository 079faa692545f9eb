import type {ScanGate} from '../config/push-config.js'
import {formatDuration} from '../config/timeouts.js'
import {AwsError, CheckError} from '../errors.js'
import type {EngineState, PlannedAction, Step, StepIO} from '../pipeline/step.js'
import {note} from '../pipeline/step.js'
import {
  countedReport,
  formatCounts,
  formatFinding,
  judge,
  type ScanReport,
  skippedReport,
} from '../scan-findings.js'
import type {AwsClients, ScanFindings} from '../systems/aws/index.js'

/**
 * What the scan gate needs from a run: push (the uploaded image, before the tag step) and promote
 * (the --from image, before any --to tag moves) both walk this step.
 */
export interface ScanTarget extends EngineState {
  readonly repository: string
  readonly registryIsEcr: boolean
  readonly aws: AwsClients
  /** The image to judge; undefined until an earlier step knows it. */
  readonly digest: string | undefined
  /** The account that owns the repository (ECR's registryId), when known. */
  readonly scanRegistryId: string | undefined
  readonly scanGate: ScanGate | undefined
  /**
   * Without a gate, read the findings once anyway (no scan started, no wait) and report them:
   * promote's image was pushed earlier, so its scan has usually ended. A push's scan has only just
   * started after the upload, so a push reads nothing without a gate.
   */
  readonly scanReport: boolean
  readonly scanTimeoutMs: number
  scan: ScanReport | undefined
  warn(message: string): void
}

const DESCRIBE = 'ecr:DescribeImageScanFindings'
const START = 'ecr:StartImageScan'

/** A scan that has its findings: basic scanning's COMPLETE, enhanced (continuous) scanning's ACTIVE. */
const DONE = new Set(['COMPLETE', 'ACTIVE'])
/** Still to come. */
const WAITING = new Set(['IN_PROGRESS', 'PENDING'])

/** Waits between status reads: 1 s, 2 s, 4 s, then every 8 s (a basic scan takes a minute or two). */
const POLL_MS = [1000, 2000, 4000, 8000]

/** The findings as of today (UTC): an allow-list entry counts through its date. */
export const today = (): string => new Date().toISOString().slice(0, 10)

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, {once: true})
  })
}

/** A refused call, said as the gate's failure: the permission it needs, by name. */
function denied(error: unknown, gate: ScanGate): unknown {
  if (!(error instanceof AwsError) || error.reason !== 'access-denied') return error
  return new AwsError(
    error.reason,
    error.operation,
    `The scan gate (--max-severity ${gate.threshold.value}, from ${gate.threshold.source}) could not read the scan: AWS refused ${error.operation}.`,
    {
      hint: `Allow ${error.operation} on the repository (the gate needs ${DESCRIBE}, and ${START} when the repository does not scan on push), or drop --max-severity. No tag was moved to the image.`,
      detail: error.detail ?? error.message,
      cause: error,
    },
  )
}

function allowlistText(gate: ScanGate): string {
  if (gate.allowlist.length === 0) return 'no accepted findings (no scan-allowlist.yaml entries)'
  return `${gate.allowlist.length} accepted finding(s) in ${gate.allowlistFiles.join(', ')}`
}

/**
 * Issue 25 §1, the scan gate: read the image's scan findings (ECR DescribeImageScanFindings:
 * basic and enhanced scanning alike), start a scan when the image has none, wait for it within
 * the step's limit (`--timeout scan=`), and fail (exit 9) on a finding at or above --max-severity
 * that the allow-list does not accept. A scan that cannot judge the image (unsupported, failed, a
 * role without the permission) fails the gate too: the gate was asked for.
 */
export function scanStep<S extends ScanTarget>(): Step<S> {
  return {
    id: 'scan',
    title: 'Scan gate',
    failure: 'scan',
    describe(target) {
      const gate = target.scanGate
      if (gate === undefined) return describeReport(target)
      const image = `${target.repository}@${target.digest ?? '<digest>'}`
      const actions: PlannedAction[] = [
        {
          text: `Read the scan findings of ${image} (basic and enhanced scanning): ECR DescribeImageScanFindings`,
          calls: [`aws:${DESCRIBE}`],
        },
        {
          text: 'Start a scan: ECR StartImageScan',
          calls: [`aws:${START}`],
          when: 'the image has no scan yet (the repository does not scan on push)',
        },
        {
          text: `Wait for the scan to complete (at most ${formatDuration(target.scanTimeoutMs)}, --timeout scan=<duration>): ECR DescribeImageScanFindings again`,
          calls: [`aws:${DESCRIBE}`],
          when: 'the scan is not complete yet',
        },
        note(
          `Fail (exit 9) on a finding at or above ${gate.threshold.value} (--max-severity, from ${gate.threshold.source}); ${allowlistText(gate)}`,
        ),
      ]
      return {actions, commands: []}
    },
    async run(target, io) {
      const gate = target.scanGate
      if (gate === undefined) {
        target.scan = target.scanReport
          ? await reportOnly(target, io)
          : skippedReport(null, 'no --max-severity')
        return
      }
      const digest = target.digest
      if (digest === undefined) throw new CheckError('no-image', 'There is no image to scan.')
      const limit = AbortSignal.timeout(target.scanTimeoutMs)
      const signal = AbortSignal.any([io.signal, limit])
      let scan: ScanFindings | undefined
      try {
        scan = await waitForScan(target, digest, gate, io, signal)
      } catch (error) {
        if (io.signal.aborted) throw error
        if (limit.aborted) throw timedOut(target, digest, undefined)
        throw denied(error, gate)
      }
      if (scan === undefined || !DONE.has(scan.status)) {
        if (limit.aborted && !io.signal.aborted) throw timedOut(target, digest, scan?.status)
        throw cannotJudge(target, digest, gate, scan)
      }
      const report = judge(scan.findings, gate.threshold.value, gate.allowlist, today(), scan.status)
      target.scan = report
      const kinds = [...new Set(scan.findings.map((finding) => finding.scanning))]
      io.output(
        `scan ${scan.status}: ${formatCounts(report.counts)}${kinds.length === 0 ? '' : ` (${kinds.join(' and ')} scanning)`}`,
      )
      for (const entry of report.expired)
        target.warn(
          `Scan allow-list ${entry.where}: the entry for ${entry.id} expired on ${entry.expires}, so it no longer accepts ${entry.matched ? 'that finding (it counts again)' : 'anything'}. Renew it with a new date and reason, or remove it.`,
        )
      for (const each of report.allowed)
        io.output(`allowed ${formatFinding(each)}: ${each.reason} (until ${each.expires}, ${each.where})`)
      for (const finding of report.top) io.output(`FAIL ${formatFinding(finding)}`)
      if (report.verdict === 'failed') {
        const more =
          report.blocking > report.top.length ? `, and ${report.blocking - report.top.length} more` : ''
        throw new CheckError(
          'scan-findings',
          `The image has ${report.blocking} finding(s) at or above ${gate.threshold.value} (--max-severity, from ${gate.threshold.source}): ${report.top.map(formatFinding).join('; ')}${more}.`,
          {
            hint: `Fix them (rebuild with the fixed versions), or accept a risk in scan-allowlist.yaml (id, reason, expires). No tag was moved to the image.`,
          },
        )
      }
      io.output(`passed: nothing at or above ${gate.threshold.value} that is not accepted`)
    },
  }
}

function describeReport(target: ScanTarget): {actions: PlannedAction[]; commands: []} {
  if (!target.scanReport) return {actions: [note('No scan gate (--max-severity is not set)')], commands: []}
  return {
    actions: [
      {
        text: `Read the scan findings of ${target.repository}@${target.digest ?? '<digest>'} to report them (no gate: --max-severity is not set): ECR DescribeImageScanFindings`,
        calls: [`aws:${DESCRIBE}`],
      },
      note('A refused read, or an image ECR does not scan, is a warning; nothing here fails the run'),
    ],
    commands: [],
  }
}

/**
 * Issue 25 §1 without a gate: one read, reported. What the gate would fail on (a role without the
 * permission, an image ECR does not scan) is a warning naming it; nothing here fails the run.
 */
async function reportOnly(target: ScanTarget, io: StepIO): Promise<ScanReport> {
  const digest = target.digest
  if (digest === undefined) return skippedReport(null, 'no image to read the scan of')
  const image = `${target.repository}@${digest}`
  let scan: ScanFindings | undefined
  try {
    scan = await target.aws.scanFindings(target.repository, digest, target.scanRegistryId, io.signal)
  } catch (error) {
    if (io.signal.aborted) throw error
    const refused = error instanceof AwsError && error.reason === 'access-denied'
    target.warn(
      refused
        ? `The scan findings of ${image} were not read: AWS refused ${DESCRIBE}. Allow it on the repository to see them here (a gate, --max-severity, needs it).`
        : `The scan findings of ${image} were not read: ${error instanceof Error ? error.message : String(error)}`,
    )
    return skippedReport(null, refused ? `${DESCRIBE} refused` : 'the read failed')
  }
  if (scan === undefined) {
    io.output('no scan of the image (the repository does not scan on push)')
    return skippedReport(null, 'the image has no scan')
  }
  if (scan.status === 'UNSUPPORTED_IMAGE') {
    target.warn(
      `ECR does not scan ${image} (UNSUPPORTED_IMAGE${scan.description === null ? '' : `: ${scan.description}`}): there are no findings to report, and a gate (--max-severity) would fail on it.`,
    )
    return {...skippedReport(null, 'ECR does not scan this image'), status: scan.status}
  }
  if (!DONE.has(scan.status)) {
    io.output(`scan ${scan.status}: no findings to report yet`)
    return {...skippedReport(null, `the scan is ${scan.status}`), status: scan.status}
  }
  const report = countedReport(scan.findings, scan.status)
  io.output(`scan ${scan.status}: ${formatCounts(report.counts)} (reported only: no --max-severity)`)
  return report
}

/** The findings once the scan is done (or undefined / a status that will not change). */
async function waitForScan(
  target: ScanTarget,
  digest: string,
  gate: ScanGate,
  io: StepIO,
  signal: AbortSignal,
): Promise<ScanFindings | undefined> {
  const read = (): Promise<ScanFindings | undefined> =>
    target.aws.scanFindings(target.repository, digest, target.scanRegistryId, signal)
  let scan = await read()
  if (scan === undefined) {
    const status = await target.aws.startScan(target.repository, digest, target.scanRegistryId, signal)
    io.output(`no scan of the image yet: started one (${status})`)
    if (status === 'UNSUPPORTED_IMAGE')
      return {status, description: 'ECR does not scan this type of image', findings: []}
  } else if (!WAITING.has(scan.status)) return scan
  const started = performance.now()
  for (let polls = 0; ; polls += 1) {
    await sleep(POLL_MS[Math.min(polls, POLL_MS.length - 1)]!, signal)
    if (signal.aborted) return scan
    scan = await read()
    const status = scan?.status ?? 'PENDING'
    io.progress?.({unit: 'status reads', done: polls + 1, total: polls + 1, existing: 0})
    io.output(`scan ${status} (${Math.round((performance.now() - started) / 1000)}s)`)
    // Enhanced scanning may not have registered the image yet: no scan is still to come.
    if (scan !== undefined && !WAITING.has(scan.status)) return scan
  }
}

function timedOut(target: ScanTarget, digest: string, status: string | undefined): CheckError {
  return new CheckError(
    'scan-timeout',
    `The scan of ${target.repository}@${digest} did not complete within ${formatDuration(target.scanTimeoutMs)}${status === undefined ? '' : ` (still ${status})`}.`,
    {
      hint: 'Raise --timeout scan=<duration> (ECR takes a minute or two, longer when busy), then run again. No tag was moved to the image.',
    },
  )
}

function cannotJudge(
  target: ScanTarget,
  digest: string,
  gate: ScanGate,
  scan: ScanFindings | undefined,
): CheckError {
  const status = scan?.status ?? 'no scan'
  const said = scan?.description === null || scan?.description === undefined ? '' : `: ${scan.description}`
  return new CheckError(
    status === 'UNSUPPORTED_IMAGE' ? 'scan-unsupported' : 'scan-failed',
    `The scan gate (--max-severity ${gate.threshold.value}) has no verdict on ${target.repository}@${digest}: the scan is ${status}${said}.`,
    {
      hint:
        status === 'UNSUPPORTED_IMAGE'
          ? 'ECR does not scan this image (its OS or type): drop --max-severity for it. No tag was moved to the image.'
          : 'Look at the scan in the ECR console, start it again (aws ecr start-image-scan), or drop --max-severity. No tag was moved to the image.',
    },
  )
}
