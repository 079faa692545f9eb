// Medians, spreads and the children-time arithmetic of the benchmark.
import {existsSync, readFileSync} from 'node:fs'

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function summary(values) {
  return {median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length}
}

/** "1.23 s (1.10–1.40, n=5)" for milliseconds. */
export function fmtSeconds(values) {
  const s = summary(values)
  const f = (ms) => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1)
  return `${f(s.median)} s (${f(s.min)}–${f(s.max)}, n=${s.n})`
}

export function fmtMs(values) {
  const s = summary(values)
  return `${Math.round(s.median)} ms (${Math.round(s.min)}–${Math.round(s.max)}, n=${s.n})`
}

export function fmtBytes(n) {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MiB`
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${n} B`
}

export function ratio(a, b) {
  return (median(a) / median(b)).toFixed(2)
}

/** Lines "name start end" (epoch seconds) written by the stand-ins and the podman/aws wrappers. */
export function readChildLog(file) {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, start, end] = line.split(' ')
      return {name, start: Number(start) * 1000, end: Number(end) * 1000}
    })
}

/** Milliseconds during which at least one child ran (children overlap in mldeploy's preflight). */
export function unionMs(intervals) {
  const sorted = [...intervals].sort((a, b) => a.start - b.start)
  let total = 0
  let start = -Infinity
  let end = -Infinity
  for (const interval of sorted) {
    if (interval.start > end) {
      total += end - start > 0 ? end - start : 0
      start = interval.start
      end = interval.end
    } else if (interval.end > end) {
      end = interval.end
    }
  }
  total += end - start > 0 ? end - start : 0
  return total
}
