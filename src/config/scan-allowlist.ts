import path from 'node:path'

import {isMap, isScalar, isSeq} from 'yaml'

import {usageError} from '../errors.js'
import {parseCommittedYaml, readCommittedText} from './committed-yaml.js'
import type {AllowEntry} from '../scan-findings.js'

/**
 * Issue 25 §1: accepted risks of the scan gate, committed next to `mldeploy.yaml`: the target's
 * `deploy/<model>/<version>/scan-allowlist.yaml` and the project root's, both read (the target's
 * entries first). A list of entries, each with the finding's id, why it is accepted and until
 * when:
 *
 *     - id: CVE-2024-12345
 *       reason: the vulnerable parser is never given untrusted input
 *       expires: 2026-06-30
 *
 * Anything else (a missing reason, a date that is not YYYY-MM-DD, an unknown key) is bad input
 * naming the file and the line.
 */
export const ALLOWLIST_FILE = 'scan-allowlist.yaml'

const KEYS = ['id', 'reason', 'expires'] as const
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const EXAMPLE = 'e.g. "- id: CVE-2024-12345\\n  reason: not reachable\\n  expires: 2026-06-30"'

/** A real calendar day (2026-02-30 is not). */
function validDate(text: string): boolean {
  const match = DATE.exec(text)
  if (match === null) return false
  const date = new Date(`${text}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text
}

/** The entries of one file (`shown` is how messages name it); a missing file has none. */
export function readAllowlist(file: string, shown: string): AllowEntry[] {
  const text = readCommittedText(file, shown)
  if (text === undefined) return []
  return parseAllowlist(text, shown)
}

export function parseAllowlist(text: string, shown: string): AllowEntry[] {
  const {contents, lineOf} = parseCommittedYaml(text, shown, EXAMPLE)
  if (contents === null) return []
  if (!isSeq(contents))
    throw usageError(
      `${shown} is not a list of accepted findings.`,
      `Write one entry per finding, ${EXAMPLE}.`,
    )
  const entries: AllowEntry[] = []
  for (const item of contents.items) {
    const start = (item as {range?: [number, number, number]} | null)?.range?.[0]
    const where = `${shown}:${lineOf(start)}`
    if (!isMap(item))
      throw usageError(`${where}: an entry is not a map of id, reason and expires.`, `Write ${EXAMPLE}.`)
    const values: Partial<Record<(typeof KEYS)[number], string>> = {}
    for (const pair of item.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : ''
      const at = `${shown}:${lineOf(isScalar(pair.key) ? pair.key.range?.[0] : start)}`
      if (!(KEYS as readonly string[]).includes(key))
        throw usageError(
          `${at}: ${JSON.stringify(key.slice(0, 40))} is not a key of an entry.`,
          `Use ${KEYS.join(', ')}.`,
        )
      if (!isScalar(pair.value) || String(pair.value.value ?? '').trim() === '')
        throw usageError(
          `${at}: ${key} is empty.`,
          key === 'reason' ? 'Say why the risk is accepted.' : `Write ${EXAMPLE}.`,
        )
      values[key as (typeof KEYS)[number]] = String(pair.value.value).trim()
    }
    const missing = KEYS.find((key) => values[key] === undefined)
    if (missing !== undefined)
      throw usageError(
        `${where}: the entry${values.id === undefined ? '' : ` for ${values.id}`} has no ${missing}.`,
        missing === 'reason'
          ? 'Every accepted risk says why (reason:) and until when (expires: YYYY-MM-DD).'
          : `Write ${EXAMPLE}.`,
      )
    if (!validDate(values.expires!))
      throw usageError(
        `${where}: expires ${JSON.stringify(values.expires!.slice(0, 40))} (for ${values.id}) is not a date.`,
        'Write it as YYYY-MM-DD, e.g. 2026-06-30: the entry counts through that day (UTC).',
      )
    entries.push({id: values.id!, reason: values.reason!, expires: values.expires!, where})
  }
  return entries
}

/** The target's allow-list then the project root's (one file when the target is the root). */
export function loadAllowlists(root: string, targetDir: string): {entries: AllowEntry[]; files: string[]} {
  const files = [...new Set([path.join(targetDir, ALLOWLIST_FILE), path.join(root, ALLOWLIST_FILE)])]
  const entries: AllowEntry[] = []
  const read: string[] = []
  for (const file of files) {
    const shown = path.relative(root, file) || ALLOWLIST_FILE
    const found = readAllowlist(file, shown)
    if (found.length > 0) read.push(shown)
    entries.push(...found)
  }
  return {entries, files: read}
}
