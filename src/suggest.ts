/** "Did you mean": the one distance used for commands, targets and .env keys. */

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

/**
 * "Nonexistent flag: --dryrun. Did you mean --dry-run?": each unknown flag (`--name` or
 * `--name=value`) with the closest of `known` (long names without dashes, aliases included) when
 * one is close enough.
 */
export function unknownFlagsMessage(given: readonly string[], known: readonly string[]): string {
  const suggestions = given.map((flag) => {
    const name = /^--([^=]+)/.exec(flag)?.[1]
    const match = name === undefined ? undefined : closest(name, known)
    return match === undefined ? undefined : `--${match}`
  })
  if (given.length === 1) {
    const [suggestion] = suggestions
    return `Nonexistent flag: ${given[0]}.${suggestion === undefined ? '' : ` Did you mean ${suggestion}?`}`
  }
  const listed = given.map((flag, index) => {
    const suggestion = suggestions[index]
    return suggestion === undefined ? flag : `${flag} (did you mean ${suggestion}?)`
  })
  return `Nonexistent flags: ${listed.join(', ')}.`
}
