import {formatEndpointLine} from './endpoint-state.js'
import {formatCounts} from '../scan-findings.js'
import type {FailedPushResult, PushResult} from './push.js'

/** The dry run's plan as text: settings with where each came from, images, each step, the checks. */
export function formatPlan(result: PushResult): string {
  const lines: string[] = []
  const checked = result.checks !== undefined && result.checks !== null
  lines.push(
    `Plan for ${result.target} (dry run: ${checked ? 'read-only checks only' : 'offline: nothing was run'}; nothing was built or pushed)`,
    '',
  )
  const width = Math.max(...Object.keys(result.settings).map((key) => key.length), 'env files'.length)
  for (const [key, {value, source}] of Object.entries(result.settings)) {
    const shown = Array.isArray(value) ? value.join(', ') : String(value)
    lines.push(`  ${key.padEnd(width)}  ${shown}  (${source})`)
  }
  lines.push(
    `  ${'env files'.padEnd(width)}  ${result.envFiles.length === 0 ? 'none' : result.envFiles.join(', ')}`,
  )
  lines.push('', 'Images:')
  for (const image of result.images) lines.push(`  ${image}`)
  // Which of the preflight's checks this dry run made (or, offline, would make without --offline).
  const marker = checked ? '[checked now] ' : '[checked by a dry run without --offline] '
  for (const [index, step] of (result.plan ?? []).entries()) {
    lines.push('', `${index + 1}. ${step.title}`)
    for (const action of step.actions)
      lines.push(
        `   - ${action.dryRun ? marker : ''}${action.when === undefined ? '' : `only when ${action.when}: `}${action.text}`,
      )
    for (const command of step.commands) {
      lines.push(`   $ ${command.command}`)
      const stdin = command.stdin === undefined ? '' : `; stdin: ${command.stdin}`
      const when = command.when === undefined ? '' : `; only when ${command.when}`
      lines.push(`     in ${command.cwd}${stdin}${when}${command.dryRun ? `; ${marker.slice(1, -2)}` : ''}`)
    }
  }
  if (checked) {
    lines.push('', 'Checks (read-only, made by this dry run):')
    for (const check of result.checks!.results)
      lines.push(
        `  ${{ok: 'ok  ', failed: 'FAIL', skipped: 'skip'}[check.status]} ${check.check}: ${check.message}`,
      )
  }
  return lines.join('\n')
}

/** The end of a real run: where the image is. */
export function formatSummary(result: PushResult): string {
  // Issue 12: reused images and unverifiable tags are said in the first line.
  const upload =
    result.reused?.source === 'repository'
      ? `no upload: reused the repository's image${result.reused.builtFromBento === null ? '' : ` first built from bento ${result.reused.builtFromBento}`}`
      : result.reused?.source === 'local'
        ? 'one upload of the local image with the same content (no containerize)'
        : 'one upload'
  const verified =
    result.verification?.verified === false
      ? `tags not verified (${result.verification.missingPermission ?? 'no read permission'} would verify them)`
      : `${result.images.length} tags verified`
  const lines = [`Pushed ${result.target} (bento ${result.bentoTag ?? '?'}), ${upload}, ${verified}`]
  for (const image of result.images) lines.push(`  ${image}`)
  lines.push(`  ${result.imageByDigest ?? '?'}`)
  // A tag that pointed at another image is said plainly, as promote says it.
  for (const moved of result.tagChanges.filter((each) => each.change === 'moved'))
    lines.push(`  tag ${moved.tag} moved: ${moved.previousDigest ?? '?'} -> ${moved.digest}`)
  lines.push(`  digest ${result.digest ?? '?'}`)
  if (result.contentDigest !== null)
    lines.push(
      `  content ${result.contentDigest}${result.contentTag === null ? ' (no content tag)' : ` (${result.contentTag})`}`,
    )
  if (result.sizeBytes !== null)
    lines.push(`  size ${(result.sizeBytes / 1e6).toFixed(1)} MB, pushed at ${result.pushedAt ?? '?'}`)
  if (result.image !== null)
    lines.push(
      `  ${result.image.mediaType}, ${result.image.platform ?? 'no single platform'}, ${result.image.layers} layers`,
    )
  if (result.scan.verdict !== 'skipped')
    lines.push(
      `  scan gate ${result.scan.verdict} (max severity ${result.scan.threshold ?? '-'}): ${formatCounts(result.scan.counts)}${result.scan.allowed.length > 0 ? `, ${result.scan.allowed.length} accepted by the allow-list` : ''}`,
    )
  if (result.deploy !== null) lines.push(`  ${formatEndpointLine(result.deploy)}`)
  const timings = result.steps.map((step) => `${step.id} ${((step.durationMs ?? 0) / 1000).toFixed(1)}s`)
  lines.push(`  steps: ${timings.join(', ')}`)
  return lines.join('\n')
}

/** One line per step, for failures: what completed and what did not. */
export function formatSteps(result: Pick<PushResult, 'steps'>): string {
  return result.steps.map((step) => `${step.id}: ${step.status}`).join(', ')
}

/** The end of one target's run: the summary when it pushed, what was done when it failed. */
export function formatRunEnd(result: PushResult | FailedPushResult, several: boolean): string {
  if (result.status !== 'failed') return formatSummary(result as PushResult)
  return several
    ? `Failed ${result.target}: ${result.error.message} (${formatSteps(result)})`
    : `Steps: ${formatSteps(result)}`
}
