import type {Hook} from '@oclif/core'

import {closest} from '../../suggest.js'
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
