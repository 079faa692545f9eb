import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {parseEnvFile, type Sourced} from '../config/env-layers.js'
import {SETTINGS} from '../config/settings.js'
import {errorMessage, usageError} from '../errors.js'
import {validateAccountId, validateImageTag, validateRegion, validateRepository} from '../images.js'
import {BACKENDS} from '../systems/backend.js'
import {
  discoverTargets,
  missingTarget,
  resolveRoot,
  resolveTarget,
  type Target,
  targetHere,
} from './target.js'

/**
 * `mldeploy migrate`: the settings a target's ecr.sh (the template's script, edited by hand per
 * target) carries, written into that target's .env under mldeploy's names; and the check that
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

const envName = (setting: {env: readonly string[]}): string => setting.env[0]!

/** ecr.sh's variables and the .env names mldeploy reads them under (from the settings table). */
const VARIABLES: Record<string, {env: string; check(value: string): string}> = {
  ECR_NAME: {env: envName(SETTINGS.repository), check: (v) => validateRepository(v, 'ECR_NAME')},
  ECR_TAG: {env: envName(SETTINGS.tags), check: (v) => validateImageTag(v, 'ECR_TAG')},
  BACKEND: {
    env: envName(SETTINGS.backend),
    check: (v) => {
      if (!(BACKENDS as readonly string[]).includes(v))
        throw new Error(`BACKEND ${v} is not one mldeploy runs (${BACKENDS.join(', ')})`)
      return v
    },
  },
  REGION: {env: envName(SETTINGS.region), check: (v) => validateRegion(v, 'REGION')},
  AWS_REGION: {env: envName(SETTINGS.region), check: (v) => validateRegion(v, 'AWS_REGION')},
  AWS_DEFAULT_REGION: {env: envName(SETTINGS.region), check: (v) => validateRegion(v, 'AWS_DEFAULT_REGION')},
  AWS_ACCOUNT_ID: {env: envName(SETTINGS.accountId), check: (v) => validateAccountId(v, 'AWS_ACCOUNT_ID')},
}

const ASSIGNMENT = /^(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)$/

export interface EcrSetting {
  /** ecr.sh's variable (ECR_NAME...). */
  variable: string
  /** The .env name mldeploy reads (MLDEPLOY_REPOSITORY...). */
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
      try {
        const value = known.check(found.value)
        // A later assignment wins, as in the shell.
        script.settings = script.settings.filter((each) => each.env !== known.env)
        script.settings.push({variable, env: known.env, value, line: number})
      } catch (error) {
        script.untranslated.push({line: number, text: line, why: errorMessage(error).replace(/\.$/, '')})
      }
      continue
    }
    if (TEMPLATE_LINES.has(line)) continue
    script.untranslated.push({
      line: number,
      text: line,
      why:
        assignment === null
          ? 'not in the template: mldeploy does not run it'
          : known === undefined
            ? 'a variable mldeploy does not read'
            : "changed from the template's argument handling",
    })
  }
  return script
}

export interface MigrationPlan {
  target: string
  /** Relative to the project root. */
  ecrSh: string
  envFile: string
  found: boolean
  written: Array<{key: string; value: string; from: string}>
  /** Already set in the target's .env: left as it is. */
  kept: Array<{key: string; existing: string; ecrSh: string}>
  notes: string[]
  untranslated: Untranslated[]
  /** The .env change as a unified diff ('' when nothing changes). */
  diff: string
  /** The new .env text, undefined when nothing changes. */
  content: string | undefined
}

/** What migrating one target would write; reads the disk, writes nothing. */
export function planMigration(target: Target, today = new Date()): MigrationPlan {
  const ecrPath = path.join(target.dir, 'ecr.sh')
  const envPath = path.join(target.dir, '.env')
  const shown = (file: string): string => path.relative(target.root, file)
  const plan: MigrationPlan = {
    target: target.name,
    ecrSh: shown(ecrPath),
    envFile: shown(envPath),
    found: existsSync(ecrPath),
    written: [],
    kept: [],
    notes: [],
    untranslated: [],
    diff: '',
    content: undefined,
  }
  if (!plan.found) return plan
  const script = parseEcrSh(readFileSync(ecrPath, 'utf8'))
  plan.notes = script.notes
  plan.untranslated = script.untranslated
  const before = existsSync(envPath) ? readFileSync(envPath, 'utf8') : undefined
  const existing = before === undefined ? {} : parseEnvFile(envPath)
  for (const setting of script.settings) {
    const current = existing[setting.env]
    if (current !== undefined && current !== '') {
      plan.kept.push({key: setting.env, existing: current, ecrSh: setting.value})
      continue
    }
    plan.written.push({
      key: setting.env,
      value: setting.value,
      from: `${setting.variable}, line ${setting.line}`,
    })
  }
  if (plan.written.length === 0) return plan
  const block = [
    `# From ecr.sh by mldeploy migrate (${today.toISOString().slice(0, 10)})`,
    ...plan.written.map((each) => `${each.key}=${each.value}`),
  ]
  const base = before === undefined || before === '' ? '' : before.endsWith('\n') ? before : `${before}\n`
  plan.content = `${base}${base === '' ? '' : '\n'}${block.join('\n')}\n`
  plan.diff = unifiedDiff(plan.envFile, before, plan.content)
  return plan
}

export function applyMigration(plan: MigrationPlan, root: string): void {
  if (plan.content !== undefined) writeFileSync(path.join(root, plan.envFile), plan.content)
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
    `${plan.target}: ${plan.ecrSh} -> ${plan.envFile}${dryRun ? ' (dry run: nothing written)' : ''}`,
  ]
  const verb = dryRun ? 'would write' : 'wrote'
  for (const each of plan.written) lines.push(`  ${verb}  ${each.key}=${each.value}  (from ${each.from})`)
  for (const each of plan.kept)
    lines.push(`  kept  ${each.key}=${each.existing}, already in ${plan.envFile} (ecr.sh says ${each.ecrSh})`)
  if (plan.written.length === 0 && plan.kept.length === 0) lines.push('  no setting to write')
  for (const note of plan.notes) lines.push(`  note  ${note}`)
  if (plan.untranslated.length > 0) {
    lines.push(`  not translated (${plan.untranslated.length}): do these by hand or drop them`)
    for (const each of plan.untranslated) lines.push(`    line ${each.line}: ${each.text}  (${each.why})`)
  }
  if (dryRun && plan.diff !== '') lines.push('', plan.diff.trimEnd())
  return lines.join('\n')
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
  return `${target.name} holds an ecr.sh that disagrees with mldeploy: ${differences.join('; ')}. Run mldeploy migrate ${target.name} to carry its settings into the target's .env.`
}

export interface MigrateResult {
  status: 'migrated' | 'planned' | 'unchanged'
  dryRun: boolean
  root: string
  targets: Array<Omit<MigrationPlan, 'content'>>
}

/**
 * `mldeploy migrate`: the named targets (`.` or none inside a target folder: that one), or with
 * --all every target holding an ecr.sh. Every plan is made before the first .env is written.
 */
export function migrate(
  names: readonly string[],
  options: {all: boolean; root?: string | undefined; dryRun: boolean},
  cwd: string,
  today = new Date(),
): MigrateResult {
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
  if (!options.dryRun) for (const plan of plans) applyMigration(plan, root)
  const changed = plans.some((plan) => plan.content !== undefined)
  return {
    status: !changed ? 'unchanged' : options.dryRun ? 'planned' : 'migrated',
    dryRun: options.dryRun,
    root,
    targets: plans.map(({content: _content, ...rest}) => rest),
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
