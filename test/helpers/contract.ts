/** A step record as `--json` reports it: what it said it would run, and what ran. */
export interface ReportedStep {
  id: string
  status: string
  described?: {
    actions: Array<{text: string; calls: string[]; when?: string}>
    commands: Array<{command: string; when?: string}>
  }
  ran?: string[]
}

/** Shell quoting differs with what a word holds (a placeholder's `<` is quoted, a digest is not). */
const unquoted = (text: string): string => text.replaceAll("'", '')

/** A described call or command as a pattern: `<placeholders>` stand for the value that ran. */
function pattern(described: string): RegExp {
  const parts = unquoted(described).split(/<[^<>\s]+>/)
  const escaped = parts.map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  return new RegExp(`^${escaped.join('[^\\s]+')}$`)
}

/**
 * Where a step's run and its description disagree: what ran without being described, and what was
 * described as certain (no `when`) but did not run. Empty lists: the step ran what it described.
 */
export function contractBreaches(step: ReportedStep): {undescribed: string[]; missing: string[]} {
  const described = step.described ?? {actions: [], commands: []}
  const ran = step.ran ?? []
  const all = [
    ...described.commands.map((command) => ({text: command.command, when: command.when})),
    ...described.actions.flatMap((action) => action.calls.map((call) => ({text: call, when: action.when}))),
  ]
  const patterns = all.map((each) => ({...each, regex: pattern(each.text)}))
  const undescribed = ran.filter((entry) => !patterns.some((each) => each.regex.test(unquoted(entry))))
  const missing = patterns
    .filter((each) => each.when === undefined && !ran.some((entry) => each.regex.test(unquoted(entry))))
    .map((each) => each.text)
  return {undescribed, missing}
}
