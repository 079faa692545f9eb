import {readFileSync} from 'node:fs'

import {type Document, parseDocument} from 'yaml'

import {usageError} from '../errors.js'

/**
 * The committed YAML files next to a target (mldeploy.yaml, scan-allowlist.yaml): read once, parsed
 * with the failsafe schema (every value is its text: an account id keeps its leading zero, a date
 * or an id like 2024-1234 stays a string, yes stays yes), duplicate keys refused, and every
 * problem bad input naming the file and the line.
 */

/** The file's text; undefined when it does not exist. */
export function readCommittedText(file: string, shown: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw usageError(
      `Cannot read ${shown}: ${(error as Error).message}.`,
      'Fix its permissions or remove it.',
    )
  }
}

export interface CommittedYaml {
  /** The top-level node; null for an empty file (or one of comments only). */
  contents: Document.Parsed['contents']
  /** The 1-based line of a character offset of the text, for messages. */
  lineOf(offset: number | undefined): number
}

/** Parsed, or bad input naming the first problem's line and `fix` (what the file should hold). */
export function parseCommittedYaml(text: string, shown: string, fix: string): CommittedYaml {
  const document = parseDocument(text, {prettyErrors: false, uniqueKeys: true, schema: 'failsafe'})
  const lineOf = (offset: number | undefined): number =>
    offset === undefined ? 1 : text.slice(0, offset).split('\n').length
  const problem = document.errors[0]
  if (problem !== undefined)
    throw usageError(
      `${shown}:${lineOf(problem.pos[0])} is not valid YAML: ${problem.message.split('\n')[0]}.`,
      `Fix that line (${fix}).`,
    )
  return {contents: document.contents, lineOf}
}
