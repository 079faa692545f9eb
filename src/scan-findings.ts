/**
 * Issue 25 §1, the scan gate's verdict: severities, their order, and what a set of findings with
 * an allow-list says against a threshold. A leaf module (it imports nothing): the AWS system
 * parses ECR's answers into `Finding`s, configuration reads the allow-list, the scan step decides.
 */

/** ECR's severities (basic and enhanced scanning), highest first. */
export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED'] as const
export type Severity = (typeof SEVERITIES)[number]

/** What `--max-severity` takes: a finding at or above it fails; NONE: any finding fails. */
export const THRESHOLDS = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'NONE'] as const
export type Threshold = (typeof THRESHOLDS)[number]

/** INFORMATIONAL and UNDEFINED (Inspector's UNTRIAGED too) rank lowest: only NONE stops them. */
const RANK: Record<Severity, number> = {
  CRITICAL: 4,
  HIGH: 3,
  MEDIUM: 2,
  LOW: 1,
  INFORMATIONAL: 0,
  UNDEFINED: 0,
}

/** A severity as ECR spells it (any case); anything else (UNTRIAGED, missing) is UNDEFINED. */
export function severityOf(text: string | undefined): Severity {
  const upper = (text ?? '').toUpperCase()
  return (SEVERITIES as readonly string[]).includes(upper) ? (upper as Severity) : 'UNDEFINED'
}

/** Does a finding of this severity fail a gate at `threshold`? */
export function blocks(severity: Severity, threshold: Threshold): boolean {
  if (threshold === 'NONE') return true
  return RANK[severity] >= RANK[threshold]
}

/** Higher severity first; the order of ECR's answer otherwise. */
export function compareSeverity(a: Severity, b: Severity): number {
  return SEVERITIES.indexOf(a) - SEVERITIES.indexOf(b)
}

/** One vulnerability, from basic scanning's `findings` or enhanced scanning's `enhancedFindings`. */
export interface Finding {
  /** CVE (or vendor) id: basic scanning's `name`, enhanced's `vulnerabilityId`. */
  id: string
  severity: Severity
  package: string | null
  version: string | null
  /** Enhanced scanning names the fixed version; basic scanning never does. */
  fixedIn: string | null
  scanning: 'basic' | 'enhanced'
}

/** An accepted risk of the committed allow-list (see config/scan-allowlist.ts). */
export interface AllowEntry {
  id: string
  reason: string
  /** YYYY-MM-DD: the entry counts through that day (UTC), not after. */
  expires: string
  /** `<file>:<line>` */
  where: string
}

export type SeverityCounts = Record<Severity, number>

/** What `--json` and the summary show of the gate (`scan` in push's and promote's results). */
export interface ScanReport {
  /** `reported`: read without a gate (promote without --max-severity): counts only, no verdict. */
  verdict: 'passed' | 'failed' | 'skipped' | 'reported'
  threshold: Threshold | null
  /** ECR's scan status when read (COMPLETE, ACTIVE, UNSUPPORTED_IMAGE...); null when not read. */
  status: string | null
  /** Every finding per severity, allowed ones included. */
  counts: SeverityCounts
  /** The findings that fail the gate, highest first (at most TOP_FINDINGS). */
  top: Finding[]
  /** How many findings fail the gate (`top` may show fewer). */
  blocking: number
  /** Findings at or above the threshold that an allow-list entry accepts. */
  allowed: Array<Finding & {reason: string; expires: string; where: string}>
  /** Allow-list entries past their date: they accept nothing. */
  expired: Array<{id: string; expires: string; where: string; matched: boolean}>
  /** Why the verdict is `skipped` (no gate, not ECR, a dry run). */
  reason?: string
}

export const TOP_FINDINGS = 10

export function zeroCounts(): SeverityCounts {
  return {CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, INFORMATIONAL: 0, UNDEFINED: 0}
}

export function skippedReport(threshold: Threshold | null, reason: string): ScanReport {
  return {
    verdict: 'skipped',
    threshold,
    status: null,
    counts: zeroCounts(),
    top: [],
    blocking: 0,
    allowed: [],
    expired: [],
    reason,
  }
}

function countsOf(findings: readonly Finding[]): SeverityCounts {
  const counts = zeroCounts()
  for (const finding of findings) counts[finding.severity] += 1
  return counts
}

/** Findings read without a gate: the counts per severity, nothing judged. */
export function countedReport(findings: readonly Finding[], status: string): ScanReport {
  const counts = countsOf(findings)
  return {
    verdict: 'reported',
    threshold: null,
    status,
    counts,
    top: [],
    blocking: 0,
    allowed: [],
    expired: [],
  }
}

/** What a result reports: the verdict once the step ran, else why there is none. */
export function scanResult(
  report: ScanReport | undefined,
  threshold: Threshold | undefined,
  dryRun: boolean,
): ScanReport {
  if (report !== undefined) return report
  if (threshold === undefined) return skippedReport(null, 'no --max-severity')
  return skippedReport(threshold, dryRun ? 'a dry run reads no scan' : 'the scan step did not run')
}

/** An entry is expired once its date is before `today` (both YYYY-MM-DD, UTC). */
export function isExpired(entry: AllowEntry, today: string): boolean {
  return entry.expires < today
}

/** The verdict on `findings` at `threshold`, with the allow-list's entries valid on `today`. */
export function judge(
  findings: readonly Finding[],
  threshold: Threshold,
  entries: readonly AllowEntry[],
  today: string,
  status: string | null,
): ScanReport {
  const counts = countsOf(findings)
  const valid = new Map<string, AllowEntry>()
  const expired: ScanReport['expired'] = []
  const ids = new Set(findings.map((finding) => finding.id))
  for (const entry of entries) {
    if (isExpired(entry, today))
      expired.push({id: entry.id, expires: entry.expires, where: entry.where, matched: ids.has(entry.id)})
    else if (!valid.has(entry.id)) valid.set(entry.id, entry)
  }
  const failing = findings.filter((finding) => blocks(finding.severity, threshold))
  const allowed: ScanReport['allowed'] = []
  const blocking: Finding[] = []
  for (const finding of failing) {
    const entry = valid.get(finding.id)
    if (entry === undefined) blocking.push(finding)
    else allowed.push({...finding, reason: entry.reason, expires: entry.expires, where: entry.where})
  }
  blocking.sort((a, b) => compareSeverity(a.severity, b.severity))
  return {
    verdict: blocking.length === 0 ? 'passed' : 'failed',
    threshold,
    status,
    counts,
    top: blocking.slice(0, TOP_FINDINGS),
    blocking: blocking.length,
    allowed,
    expired,
  }
}

/** `CRITICAL 1, HIGH 2` (severities with findings only; `no findings` when none). */
export function formatCounts(counts: SeverityCounts): string {
  const parts = SEVERITIES.filter((severity) => counts[severity] > 0).map(
    (severity) => `${severity} ${counts[severity]}`,
  )
  return parts.length === 0 ? 'no findings' : parts.join(', ')
}

/** `CVE-1 (HIGH, openssl 3.0.1, fixed in 3.0.2)` */
export function formatFinding(finding: Finding): string {
  const where = [
    finding.package === null
      ? undefined
      : `${finding.package}${finding.version === null ? '' : ` ${finding.version}`}`,
    finding.fixedIn === null ? undefined : `fixed in ${finding.fixedIn}`,
  ].filter((part) => part !== undefined)
  return `${finding.id} (${[finding.severity, ...where].join(', ')})`
}
