import type {Hook} from '@oclif/core'

import type {JsonError} from '../base-command.js'

/**
 * An unknown command is bad input like any other: exit 2, one line on stderr, or one JSON object
 * on stdout with --json. A close command is suggested, never run (plugin-not-found runs it on a
 * TTY and exits 127 otherwise).
 */
const hook: Hook.CommandNotFound = async function (options) {
  const {config, id, argv = []} = options
  const words = [id, ...argv]
  const end = words.indexOf('--')
  const json = (end === -1 ? words : words.slice(0, end)).includes('--json')
  const visible = config.commands.filter((command) => !command.hidden).map((command) => command.id)
  // With spaces between topics, `mldeploy promte x` arrives as `promte:x`: when its first word is
  // no command or topic, that word is the typo.
  const first = id.split(':')[0] ?? id
  const firstKnown = visible.some((command) => command === first || command.startsWith(`${first}:`))
  const word = firstKnown ? id : first
  const candidates = firstKnown
    ? visible
    : [...new Set(visible.map((command) => command.split(':')[0] ?? command))]
  const suggestion = id.startsWith('-') ? undefined : closest(word, candidates)
  const message = id.startsWith('-')
    ? `Missing command before ${id}.`
    : `Unknown command ${word.replaceAll(':', ' ')}.${suggestion === undefined ? '' : ` Did you mean ${suggestion.replaceAll(':', ' ')}?`}`
  const hint = `See: ${config.bin} --help.`
  process.exitCode = 2
  if (json) {
    const error: JsonError = {kind: 'usage', exitCode: 2, message, hint, reason: 'usage:unknown-command'}
    process.stdout.write(`${JSON.stringify({status: 'failed', error}, null, 2)}\n`)
  } else {
    process.stderr.write(`Error: ${message} ${hint}\n`)
  }
}

export default hook

/** The candidate closest to `word`, when it is close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  // One edit for short words, two from five letters on: "pushh", "promte", "lsit".
  const allowed = word.length >= 5 ? 2 : 1
  return bestDistance <= allowed ? best : undefined
}

/** Levenshtein distance where swapping two neighbours counts as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({length: a.length + 1}, (_, i) =>
    Array.from({length: b.length + 1}, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Infinity
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, at(i - 2, j - 2) + 1)
      rows[i]![j] = value
    }
  }
  return at(a.length, b.length)
}
