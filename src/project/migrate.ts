import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {parseEnvFile, type Sourced} from '../config/env-layers.js'
import {fileEnvName, readSettingsFile, SETTINGS_FILE} from '../config/settings-file.js'
import {type AnySetting, parseValue, SETTINGS} from '../config/settings.js'
import {AwsError, errorMessage, usageError} from '../errors.js'
import {settingLine} from '../scaffold/templates.js'
import {isGitIgnored} from '../systems/git.js'
import {
  discoverTargets,
  missingTarget,
  resolveRoot,
  resolveTarget,
  type Target,
  targetHere,
} from '../config/target.js'

/**
 * `mldeploy migrate`: the settings a target's ecr.sh (the template's script, edited by hand per
 * target) carries, written into that target's committed mldeploy.yaml under mldeploy's names; and the check that
 * push, list and doctor run when an ecr.sh is still there and disagrees with what they resolved.
 */

/** The template's ecr.sh lines that are machinery, not settings (trimmed; comments and blanks dropped). */
const TEMPLATE_LINES = new Set(
  [
    '#!/bin/bash',
    'while [[ "$#" -gt 0 ]]; do',
    'case "$1" in',
    '--backend)',
    'BACKEND="$2"',
    'shift 2',
    ';;',
    '--ecr-name)',
    'ECR_NAME="$2"',
    '*)',
    'echo "Uso: $0 [--backend <docker|podman>] [--ecr-name <repo> ]"',
    'exit 1',
    'esac',
    'done',
    'echo "Creando el bento, no olvides prender la VPN ..."',
    'python3 create_bento_model.py',
    'OUTPUT_BUILD=$(bentoml build 2>&1)',
    `BENTO_FULL_TAG=$(echo "$OUTPUT_BUILD" | grep -oP 'Successfully built Bento\\(tag="\\K[^"]+')`,
    'if [[ -z "$BENTO_FULL_TAG" ]]; then',
    'echo "Error: Build fallido o tag no detectado"',
    'fi',
    'ECR_IMAGE_TAG="${AWS_ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/${ECR_NAME}:${ECR_TAG}"',
    'bentoml containerize "$BENTO_FULL_TAG" \\',
    '--backend "$BACKEND" \\',
    '--image-tag "$ECR_IMAGE_TAG" || {',
    'echo "Error en containerize"',
    '}',
    'if [[ "$BACKEND" == "docker" ]]; then',
    'aws ecr get-login-password --region "$REGION" | \\',
    'docker login --username AWS --password-stdin "${AWS_ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com"',
    'else',
    'podman login --username AWS --password-stdin "${AWS_ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com"',
    'fi || {',
    'echo "Error de autenticación"',
    'echo "Subiendo imagen a ECR..."',
    '$BACKEND push "$ECR_IMAGE_TAG"',
    'echo "✅ Despliegue exitoso!"',
    'echo "Imagen en ECR: $ECR_IMAGE_TAG"',
  ].map((line) => line.trim()),
)

/** What a setting of ecr.sh becomes: a key of the target's mldeploy.yaml (a flag name) and its variable. */
interface Translation {
  setting: AnySetting
  /** The value as the settings file holds it, or why it cannot be used. */
  check(value: string, where: string): string
}

const translation = (setting: AnySetting): Translation => ({
  setting,
  check: (value, where) => String(parseValue(setting, {value: fromFileText(setting, value), source: where})),
})

/** ecr.sh's variables and the settings they become (from the settings table). */
const VARIABLES: Record<string, Translation> = {
  ECR_NAME: translation(SETTINGS.repository),
  ECR_TAG: translation(SETTINGS.tags),
  BACKEND: translation(SETTINGS.backend),
  REGION: translation(SETTINGS.region),
  AWS_REGION: translation(SETTINGS.region),
  AWS_DEFAULT_REGION: translation(SETTINGS.region),
  AWS_ACCOUNT_ID: translation(SETTINGS.accountId),
}

/** A list setting's text as a file or variable holds it (comma-separated), else the text itself. */
function fromFileText(setting: AnySetting, value: string): unknown {
  return setting.kind === 'list' ? value.split(',').map((item) => item.trim()) : value
}

/**
 * Options of the commands ecr.sh runs that have a setting: bentoml containerize's platform
 * (`--opt platform=X`, or docker's `--platform X`), the push's manifest format, and an
 * `aws ecr create-repository` before the push. Whatever else a line holds stays untranslated.
 */
const OPTIONS: Array<{
  pattern: RegExp
  translation: Translation
  value(match: RegExpExecArray): string
  /** The part of the match that is the option (default: all of it); the rest is the template's. */
  option?(match: RegExpExecArray): string
}> = [
  {pattern: /--opt[= ]platform=(\S+)/, translation: translation(SETTINGS.platform), value: (m) => m[1]!},
  {pattern: /--platform[= ](\S+)/, translation: translation(SETTINGS.platform), value: (m) => m[1]!},
  {
    pattern: /^\$BACKEND push\b.*?(--format[= ](\S+))/,
    translation: {
      setting: SETTINGS.imageFormat,
      check: (value, where) => {
        const format = {v2s2: 'docker', oci: 'oci'}[value.replace(/^["']|["']$/g, '')]
        if (format === undefined) throw new Error(`${where}: push --format ${value} is neither v2s2 nor oci`)
        return format
      },
    },
    value: (m) => m[2]!,
    option: (m) => m[1]!,
  },
  {
    pattern: /--image-tag-mutability[= ](\S+)/,
    translation: translation(SETTINGS.imageTagMutability),
    value: (m) => m[1]!,
  },
  {
    pattern: /^aws ecr create-repository\b.*$/,
    translation: translation(SETTINGS.createRepository),
    value: () => 'true',
  },
]

/** A line as compared with the template: without the continuation (`\`) or error handling (`|| {`) it ends with. */
function normalized(line: string): string {
  return line
    .replace(/\s*(?:\\|\|\|\s*\{|\|\|\s*true)\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim()
}

const TEMPLATE = new Set([...TEMPLATE_LINES].map(normalized))

const ASSIGNMENT = /^(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)$/

export interface EcrSetting {
  /** ecr.sh's variable (ECR_NAME...) or option (`--opt platform=linux/amd64`). */
  variable: string
  /** The key of mldeploy.yaml (the flag's name: repository, tag, platform...). */
  key: string
  /** The variable mldeploy also reads it from (MLDEPLOY_REPOSITORY...). */
  env: string
  value: string
  line: number
}

export interface Untranslated {
  line: number
  text: string
  why: string
}

export interface EcrScript {
  settings: EcrSetting[]
  /** Lines that needed no translation but are worth saying (the account from STS, a placeholder). */
  notes: string[]
  untranslated: Untranslated[]
}

/** A shell word's literal value, or why it has none (a command substitution, a variable). */
function literal(raw: string): {value: string} | {why: string} {
  let text = raw.trim()
  if (!text.startsWith('"') && !text.startsWith("'")) text = text.replace(/\s+#.*$/, '')
  if (text.startsWith("'") && text.endsWith("'") && text.length >= 2) return {value: text.slice(1, -1)}
  if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) text = text.slice(1, -1)
  if (/\$\(|`/.test(text)) return {why: 'computed by a command when the script runs'}
  if (text.includes('$')) return {why: 'built from other shell variables'}
  return {value: text}
}

/** What the template's (possibly edited) ecr.sh sets, and every line mldeploy has no equivalent for. */
export function parseEcrSh(text: string): EcrScript {
  const script: EcrScript = {settings: [], notes: [], untranslated: []}
  let depth = 0
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim()
    const number = index + 1
    if (line === '' || (line.startsWith('#') && !line.startsWith('#!'))) continue
    if (/^(?:while|case)\b/.test(line)) depth++
    if (/^(?:done|esac)\b/.test(line)) depth = Math.max(0, depth - 1)
    const assignment = ASSIGNMENT.exec(line)
    const known = assignment === null ? undefined : VARIABLES[assignment[1]!]
    // Inside the argument loop, `VAR="$2"` is the --backend/--ecr-name handling, which push has too.
    if (assignment !== null && known !== undefined && depth === 0) {
      const variable = assignment[1]!
      const found = literal(assignment[2]!)
      if ('why' in found) {
        if (variable === 'AWS_ACCOUNT_ID' && /sts get-caller-identity/.test(line))
          script.notes.push(
            `${variable} (line ${number}) comes from STS, as mldeploy's does: nothing to write.`,
          )
        else script.untranslated.push({line: number, text: line, why: `${variable} is ${found.why}`})
        continue
      }
      if (/^<.*>$/.test(found.value)) {
        script.notes.push(
          `${variable} (line ${number}) is still the template's placeholder ${found.value}: mldeploy's default applies.`,
        )
        continue
      }
      add(script, known, variable, found.value, number, line)
      continue
    }
    if (TEMPLATE.has(normalized(line))) continue
    // Options with a setting are translated; the line is done when nothing else is left of it.
    let rest = line
    if (assignment === null)
      for (const option of OPTIONS) {
        const match = option.pattern.exec(rest)
        if (match === null) continue
        const text = option.option?.(match) ?? match[0]
        add(script, option.translation, text.trim(), option.value(match), number, line)
        rest = rest.replace(text, '')
      }
    if (rest !== line && (normalized(rest) === '' || TEMPLATE.has(normalized(rest)))) continue
    script.untranslated.push({
      line: number,
      text: line,
      why:
        assignment === null
          ? rest !== line
            ? `the rest of the line (${normalized(rest)}) has no setting`
            : 'not in the template: mldeploy does not run it'
          : known === undefined
            ? 'a variable mldeploy does not read'
            : "changed from the template's argument handling",
    })
  }
  return script
}

/** One translated value, or the line as untranslated with the reason its value cannot be used. */
function add(
  script: EcrScript,
  translation: Translation,
  variable: string,
  raw: string,
  line: number,
  text: string,
): void {
  const {setting} = translation
  try {
    const value = translation.check(raw.replace(/^"(.*)"$/, '$1'), `ecr.sh ${variable}, line ${line}`)
    // A later assignment wins, as in the shell.
    script.settings = script.settings.filter((each) => each.key !== setting.flag)
    script.settings.push({variable, key: setting.flag, env: fileEnvName(setting), value, line})
  } catch (error) {
    script.untranslated.push({line, text, why: errorMessage(error).replace(/\.$/, '')})
  }
}

export interface MigrationPlan {
  target: string
  /** Relative to the project root. */
  ecrSh: string
  /** The target's committed settings file (mldeploy.yaml), relative to the project root. */
  settingsFile: string
  found: boolean
  /** Every setting ecr.sh carries and what became of it. */
  translations: Array<{from: string; key: string; value: string; outcome: 'written' | 'kept' | 'same'}>
  written: Array<{key: string; value: string; from: string}>
  /** Already set in the settings file to another value: left as it is. */
  kept: Array<{key: string; existing: string; ecrSh: string}>
  notes: string[]
  untranslated: Untranslated[]
  /** Whether git ignores the settings file (null: not a checkout, or not asked). */
  ignoredByGit: boolean | null
  /** The settings file's change as a unified diff ('' when nothing changes). */
  diff: string
  /** The new settings file's text, undefined when nothing changes. */
  content: string | undefined
}

/** What migrating one target would write; reads the disk, writes nothing. */
export function planMigration(target: Target, today = new Date()): MigrationPlan {
  const ecrPath = path.join(target.dir, 'ecr.sh')
  const settingsPath = path.join(target.dir, SETTINGS_FILE)
  const shown = (file: string): string => path.relative(target.root, file)
  const plan: MigrationPlan = {
    target: target.name,
    ecrSh: shown(ecrPath),
    settingsFile: shown(settingsPath),
    found: existsSync(ecrPath),
    translations: [],
    written: [],
    kept: [],
    notes: [],
    untranslated: [],
    ignoredByGit: null,
    diff: '',
    content: undefined,
  }
  if (!plan.found) return plan
  const script = parseEcrSh(readFileSync(ecrPath, 'utf8'))
  plan.notes = script.notes
  plan.untranslated = script.untranslated
  const before = existsSync(settingsPath) ? readFileSync(settingsPath, 'utf8') : undefined
  // Read as every command reads it: a broken file is named before anything is added to it.
  const existing = readSettingsFile(settingsPath, plan.settingsFile, undefined).at(-1)?.values ?? {}
  const local = localValues(target)
  for (const setting of script.settings) {
    const from = `${setting.variable}, line ${setting.line}`
    const current = existing[setting.env]
    const outcome =
      current === undefined || current === '' ? 'written' : current === setting.value ? 'same' : 'kept'
    plan.translations.push({from, key: setting.key, value: setting.value, outcome})
    if (outcome === 'kept') plan.kept.push({key: setting.key, existing: current!, ecrSh: setting.value})
    if (outcome === 'written') plan.written.push({key: setting.key, value: setting.value, from})
    const override = local.find((file) => (file.values[setting.env] ?? '') !== '')
    if (override !== undefined && override.values[setting.env] !== setting.value)
      plan.notes.push(
        `${override.shown} sets ${setting.env}=${override.values[setting.env]}, which wins over ${plan.settingsFile} on this machine only: remove it there if an earlier migrate wrote it.`,
      )
  }
  if (plan.written.length === 0) return plan
  const block = plan.written.map((each) => settingLine(each.key, each.value))
  const header =
    before === undefined
      ? [
          `# mldeploy settings of ${target.name}, committed: every clone (CI too) resolves the same.`,
          '# Keys are the flag names of mldeploy push --help; secrets and local overrides go in .env.',
        ]
      : []
  const base = before === undefined || before === '' ? '' : before.endsWith('\n') ? before : `${before}\n`
  const comment = `# From ecr.sh by mldeploy migrate (${today.toISOString().slice(0, 10)})`
  plan.content = `${base}${base === '' ? '' : '\n'}${[...header, comment, ...block].join('\n')}\n`
  plan.diff = unifiedDiff(plan.settingsFile, before, plan.content)
  return plan
}

/** The target's and the root's .env files, which win over the settings file where they set a value. */
function localValues(target: Target): Array<{shown: string; values: Record<string, string>}> {
  return [target.dir, target.root]
    .map((dir) => path.join(dir, '.env'))
    .filter((file) => existsSync(file))
    .map((file) => ({shown: path.relative(target.root, file), values: parseEnvFile(file)}))
}

export function applyMigration(plan: MigrationPlan, root: string): void {
  if (plan.content !== undefined) writeFileSync(path.join(root, plan.settingsFile), plan.content)
}

/** A unified diff of a file that only grows at its end (or is created), with 3 lines of context. */
export function unifiedDiff(file: string, before: string | undefined, after: string): string {
  const split = (text: string): string[] => (text === '' ? [] : text.replace(/\n$/, '').split('\n'))
  const old = split(before ?? '')
  const next = split(after)
  // The old last line changes when the file did not end with a newline.
  const unchanged =
    before !== undefined && before !== '' && !before.endsWith('\n') ? old.length - 1 : old.length
  const context = Math.max(0, unchanged - 3)
  const lines = [`--- ${before === undefined ? '/dev/null' : `a/${file}`}`, `+++ b/${file}`]
  const oldCount = old.length - context
  const newCount = next.length - context
  const range = (start: number, count: number): string =>
    count === 0 ? `${start},0` : count === 1 ? `${start + 1}` : `${start + 1},${count}`
  lines.push(`@@ -${range(context, oldCount)} +${range(context, newCount)} @@`)
  for (const line of old.slice(context, unchanged)) lines.push(` ${line}`)
  if (unchanged < old.length) lines.push(`-${old.at(-1)}`, '\\ No newline at end of file')
  for (const line of next.slice(unchanged)) lines.push(`+${line}`)
  return `${lines.join('\n')}\n`
}

/** One target's migration as text: what was written, kept, noted and left out. */
export function formatMigration(plan: MigrationPlan, dryRun: boolean): string {
  if (!plan.found) return `${plan.target}: no ecr.sh (${plan.ecrSh}), nothing to migrate.`
  const lines = [
    `${plan.target}: ${plan.ecrSh} -> ${plan.settingsFile}${dryRun ? ' (dry run: nothing written)' : ''}`,
  ]
  const verb = dryRun ? 'would write' : 'wrote'
  for (const each of plan.translations) {
    if (each.outcome === 'written') lines.push(`  ${verb}  ${each.key}: ${each.value}  (from ${each.from})`)
    if (each.outcome === 'same')
      lines.push(`  same  ${each.key}: ${each.value}, already in ${plan.settingsFile}`)
  }
  for (const each of plan.kept)
    lines.push(
      `  kept  ${each.key}: ${each.existing}, already in ${plan.settingsFile} (ecr.sh says ${each.ecrSh})`,
    )
  if (plan.translations.length === 0) lines.push('  no setting to write')
  for (const note of plan.notes) lines.push(`  note  ${note}`)
  if (plan.ignoredByGit === true && plan.written.length > 0)
    lines.push(
      `  warning  git ignores ${plan.settingsFile}: a CI clone will not have these settings. Stop ignoring it (git check-ignore -v ${plan.settingsFile}) and commit it.`,
    )
  if (plan.untranslated.length > 0) {
    lines.push(`  not translated (${plan.untranslated.length}): do these by hand or drop them`)
    for (const each of plan.untranslated) lines.push(`    line ${each.line}: ${each.text}  (${each.why})`)
  }
  if (dryRun && plan.diff !== '') lines.push('', plan.diff.trimEnd())
  return lines.join('\n')
}

/**
 * A missing repository of a target whose ecr.sh names another one: the target was not migrated,
 * and --create-repository would create (and push to) the derived name. The error then names
 * ecr.sh's repository and mldeploy migrate instead.
 */
export function withEcrShAdvice(
  error: AwsError,
  target: {name: string; dir: string},
  repository: Sourced<string>,
): AwsError {
  if (error.reason !== 'not-found') return error
  let named: string | undefined
  try {
    named = parseEcrSh(readFileSync(path.join(target.dir, 'ecr.sh'), 'utf8')).settings.find(
      (each) => each.key === SETTINGS.repository.flag,
    )?.value
  } catch {
    return error
  }
  if (named === undefined || named === repository.value) return error
  return new AwsError(error.reason, error.operation, error.message, {
    hint: `${target.name}'s ecr.sh pushes to ${named}, not ${repository.value} (${repository.source}): run mldeploy migrate ${target.name} to carry its settings over, rather than --create-repository.`,
    ...(error.detail === undefined ? {} : {detail: error.detail}),
    cause: error,
  })
}

/** The values a command resolved, to hold an ecr.sh against. */
export interface ResolvedForEcrSh {
  repository?: Sourced<string> | undefined
  tags?: Sourced<string[]> | undefined
  backend?: Sourced<string> | undefined
}

/**
 * A warning when the target still holds an ecr.sh whose repository, tag or backend disagree with
 * what mldeploy resolved: a team switching over would otherwise push somewhere else unawares.
 */
export function ecrShDisagreement(
  target: {name: string; dir: string},
  resolved: ResolvedForEcrSh,
): string | undefined {
  const file = path.join(target.dir, 'ecr.sh')
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  const settings = new Map(parseEcrSh(text).settings.map((each) => [each.variable, each.value]))
  const differences: string[] = []
  const compare = (
    what: string,
    ours: string | undefined,
    source: string | undefined,
    theirs?: string,
  ): void => {
    if (theirs === undefined || ours === undefined || theirs === ours) return
    differences.push(`${what} ${theirs} in ecr.sh, ${ours} here (${source})`)
  }
  const repository = resolved.repository
  compare('repository', repository?.value, repository?.source, settings.get('ECR_NAME'))
  const tag = settings.get('ECR_TAG')
  const tags = resolved.tags
  if (tag !== undefined && tags !== undefined && !tags.value.includes(tag))
    differences.push(`tag ${tag} in ecr.sh, ${tags.value.join(',')} here (${tags.source})`)
  compare('backend', resolved.backend?.value, resolved.backend?.source, settings.get('BACKEND'))
  if (differences.length === 0) return undefined
  return `${target.name} holds an ecr.sh that disagrees with mldeploy: ${differences.join('; ')}. Run mldeploy migrate ${target.name} to carry its settings into the target's ${SETTINGS_FILE}.`
}

export interface MigrateResult {
  status: 'migrated' | 'planned' | 'unchanged'
  dryRun: boolean
  root: string
  targets: Array<Omit<MigrationPlan, 'content'>>
  /** A settings file written (or to be written) that git ignores, one line each. */
  warnings: string[]
}

/**
 * `mldeploy migrate`: the named targets (`.` or none inside a target folder: that one), or with
 * --all every target holding an ecr.sh. Every plan is made before the first file is written.
 */
export async function migrate(
  names: readonly string[],
  options: {all: boolean; root?: string | undefined; dryRun: boolean},
  cwd: string,
  env: Record<string, string>,
  today = new Date(),
): Promise<MigrateResult> {
  const root = resolveRoot(options.root, cwd)
  let specs: string[]
  if (options.all) {
    if (names.length > 0) throw usageError('Give targets or --all, not both.')
    specs = discoverTargets(root).filter((name) => existsSync(path.join(root, 'deploy', name, 'ecr.sh')))
    if (specs.length === 0)
      throw usageError('--all: no target under deploy/ holds an ecr.sh.', 'Nothing to migrate.')
  } else if (names.length > 0) specs = [...new Set(names)]
  else {
    const here = targetHere(options.root, cwd)
    if (here === undefined) throw missingTarget(options.root, cwd, 'migrate')
    specs = [here]
  }
  const plans = specs.map((spec) => planMigration(resolveTarget(spec, root, cwd), today))
  // Settings written where git does not look would reach no clone: said before and after writing.
  const warnings: string[] = []
  for (const plan of plans.filter((each) => each.content !== undefined)) {
    plan.ignoredByGit = (await isGitIgnored(path.join(root, plan.settingsFile), env)) ?? null
    if (plan.ignoredByGit)
      warnings.push(
        `git ignores ${plan.settingsFile}: ${plan.target}'s migrated settings will not reach CI or other clones. Stop ignoring it (git check-ignore -v ${plan.settingsFile} names the rule) and commit it.`,
      )
  }
  if (!options.dryRun) for (const plan of plans) applyMigration(plan, root)
  const changed = plans.some((plan) => plan.content !== undefined)
  return {
    status: !changed ? 'unchanged' : options.dryRun ? 'planned' : 'migrated',
    dryRun: options.dryRun,
    root,
    targets: plans.map(({content: _content, ...rest}) => rest),
    warnings,
  }
}

export function formatMigrate(result: MigrateResult): string {
  const blocks = result.targets.map((plan) => formatMigration({...plan, content: undefined}, result.dryRun))
  const names = result.targets.filter((plan) => plan.found).map((plan) => plan.target)
  if (names.length > 0)
    blocks.push(
      `Next: mldeploy push ${names.length === 1 ? names[0] : '--all'} --dry-run  (check the repository and tags it resolves)`,
    )
  return blocks.join('\n\n')
}
