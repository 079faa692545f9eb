// One push's timeline from MLDEPLOY_TRACE (src/trace.ts): steps, HTTP requests (AWS SDK and
// mldeploy's own) and children, each with start and end, and which of them the push waited for.
import {existsSync, readFileSync} from 'node:fs'

/** The trace's spans and the process's own CPU time (user + system, children excluded). */
export function readTrace(file) {
  if (!existsSync(file)) return {spans: [], cpuMs: NaN}
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line))
  const cpu = lines.find((line) => line.kind === 'cpu')
  return {
    spans: lines.filter((line) => line.kind !== 'cpu'),
    cpuMs: cpu === undefined ? NaN : cpu.userMs + cpu.systemMs,
    exitEpoch: cpu?.end,
  }
}

/**
 * Marks the calls the run waited for: within each step, from its end backwards, the call that
 * ended last, then the one that ended last before that call started, and so on. The others ran
 * beside them. Steps themselves run one after another, so every step is on the path.
 */
export function markCriticalPath(spans) {
  const steps = spans.filter((span) => span.kind === 'step')
  for (const step of steps) {
    const calls = spans.filter((span) => span.kind !== 'step' && span.step === step.name && span.end)
    let cursor = step.end + 1
    for (;;) {
      const before = calls.filter(
        (call) => !call.critical && call.end <= cursor && call.start >= step.start - 1,
      )
      if (before.length === 0) break
      const last = before.reduce((a, b) => (b.end > a.end ? b : a))
      last.critical = true
      cursor = last.start + 1
    }
  }
  return spans
}

/** Markdown rows: offset from the process start, duration, step, what, on the critical path or not. */
export function timelineRows(spans, startEpoch, exitEpoch) {
  markCriticalPath(spans)
  const ms = (epoch) => Math.round(epoch - startEpoch)
  const rows = [
    '| start (ms) | end (ms) | took (ms) | step | what | waited for |',
    '|---|---|---|---|---|---|',
  ]
  const sorted = [...spans].sort((a, b) => a.start - b.start || (a.kind === 'step' ? -1 : 1))
  for (const span of sorted) {
    const end = span.end ?? exitEpoch
    const what = span.kind === 'step' ? `**step ${span.name}**` : `${span.kind} \`${shorten(span.name)}\``
    const path = span.kind === 'step' ? '' : span.critical ? 'yes' : 'no (beside)'
    rows.push(
      `| ${ms(span.start)} | ${ms(end)} | ${Math.round(end - span.start)} | ${span.step ?? (span.kind === 'step' ? '' : '–')} | ${what} | ${path} |`,
    )
  }
  if (exitEpoch !== undefined) {
    const lastStep = Math.max(...spans.filter((span) => span.kind === 'step').map((span) => span.end))
    rows.push(
      `| ${ms(lastStep)} | ${ms(exitEpoch)} | ${Math.round(exitEpoch - lastStep)} | | result, clean-up, exit | yes |`,
    )
  }
  return rows
}

function shorten(text) {
  const cleaned = text.replace(/\|/g, '\\|')
  return cleaned.length > 110 ? `${cleaned.slice(0, 107)}...` : cleaned
}

/** The AWS and registry calls a push made, from its --json steps' `ran` (what the ledger recorded). */
export function callsOf(json) {
  const calls = json.steps.flatMap((step) =>
    (step.ran ?? []).filter((call) => /^(aws|http|tcp):/.test(call)).map((call) => ({step: step.id, call})),
  )
  return calls
}
