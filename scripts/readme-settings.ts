// Rewrites the README's flag tables (between <!-- settings:start --> and <!-- settings:end -->)
// from the settings table. `npm run readme` writes; `npm run readme:check` fails when stale.
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {COMMAND_IDS, settingsOf, type AnySetting, type CommandId} from '../src/config/settings.js'

const START = '<!-- settings:start -->'
const END = '<!-- settings:end -->'

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
const code = (text: string): string => `\`${text}\``
// Free text: `<model>` would be an HTML tag in Markdown.
const prose = (text: string): string => cell(text).replace(/</g, '&lt;').replace(/>/g, '&gt;')

function flagCell(setting: AnySetting): string {
  let name = setting.allowNo === true ? `--[no-]${setting.flag}` : `--${setting.flag}`
  if (setting.kind === 'option') name += ` ${(setting.options ?? []).join('|')}`
  const names = [code(name), ...(setting.aliases ?? []).map((alias) => code(`--${alias}`))]
  if (setting.char !== undefined) names.unshift(code(`-${setting.char}`))
  const notes = [setting.kind === 'list' ? 'repeatable' : '', setting.required === true ? 'required' : '']
  const extra = notes.filter(Boolean).join(', ')
  return cell(`${names.join(', ')}${extra === '' ? '' : ` (${extra})`}`)
}

function envCell(setting: AnySetting, command: CommandId): string {
  if (setting.env === undefined) return ''
  const names = setting.env.map(code).join(', then ')
  if (command === 'init') return cell(`writes ${code(`${setting.flag}:`)} to mldeploy.yaml`)
  const format =
    setting.kind === 'list' ? ' (comma-separated)' : setting.kind === 'boolean' ? ' (`true`)' : ''
  const processOnly = setting.envSource === 'process' ? ' (not from `.env`)' : ''
  return cell(`${names}${format}${processOnly}`)
}

function defaultCell(setting: AnySetting): string {
  return setting.default === undefined ? '' : prose(setting.default.describe)
}

export function renderSettings(): string {
  const parts = [
    '<!-- Generated from src/config/settings.ts by `npm run readme`: edit the table there, not here. -->',
  ]
  for (const command of COMMAND_IDS) {
    parts.push(
      '',
      `#### \`mldeploy ${command}\``,
      '',
      '| flag | environment | default | meaning |',
      '|------|-------------|---------|---------|',
    )
    for (const [, setting] of settingsOf(command, true)) {
      const help = setting.helpFor?.[command] ?? setting.help
      parts.push(
        `| ${flagCell(setting)} | ${envCell(setting, command)} | ${defaultCell(setting)} | ${prose(help)} |`,
      )
    }
  }
  return parts.join('\n')
}

/** The README with its settings region replaced; throws when the markers are missing. */
export function withSettings(readme: string): string {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start === -1 || end === -1 || end < start)
    throw new Error(`README.md has no ${START} ... ${END} region.`)
  return `${readme.slice(0, start + START.length)}\n${renderSettings()}\n${readme.slice(end)}`
}

function main(argv: string[]): number {
  const check = argv.includes('--check')
  const fileArg = argv.find((arg) => !arg.startsWith('--'))
  const file = fileArg ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md')
  const readme = readFileSync(file, 'utf8')
  const fresh = withSettings(readme)
  if (check) {
    if (fresh === readme) return 0
    process.stderr.write(
      `${file}: the flag tables are stale (src/config/settings.ts changed). Run: npm run readme\n`,
    )
    return 1
  }
  if (fresh !== readme) writeFileSync(file, fresh)
  return 0
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2))
}
