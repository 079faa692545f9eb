import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'

import {DeployError, errorMessage, usageError} from '../errors.js'
import {EnvLayers} from '../config/env-layers.js'
import type {FlagValuesFor} from '../config/flags.js'
import {fileEnvName, SETTINGS_FILE} from '../config/settings-file.js'
import {
  DEFAULT_COLUMNS,
  DEFAULT_PYTHON_VERSION,
  SETTINGS,
  SettingsReader,
  settingRows,
  settingsOf,
} from '../config/settings.js'
import {defaultRepository} from '../images.js'
import {findProjectRoot, parseTargetName, resolveTarget} from '../config/target.js'
import {
  defaultBentoModel,
  defaultServiceClass,
  parseColumns,
  swapVersion,
  validateBentoModel,
  validateModelUri,
  validatePythonVersion,
} from '../config/names.js'
import {
  commonPy,
  createBentoModelPy,
  type EnvSettings,
  exampleInputCsv,
  servicePy,
  settingLine,
  settingsYaml,
  type TargetSpec,
} from './templates.js'
import {isDirectory} from '../files.js'

/** The flags `mldeploy init` takes (from the settings table). */
export type InitFlags = FlagValuesFor<'init'>

export type FileOrigin = 'generated' | 'copied' | 'adjusted'

export interface PlannedFile {
  /** Relative to the project root. */
  path: string
  absolute: string
  contents: Buffer
  mode?: number
  origin: FileOrigin
}

export interface InitPlan {
  target: string
  root: string
  dir: string
  from: string | null
  bentoModel: string
  serviceClass: string | null
  files: PlannedFile[]
  /** What --from renamed, one line each. */
  changes: string[]
  /** Files of the source version not copied, with why. */
  skipped: string[]
  warnings: string[]
}

/** What init reports (--json): the plan without the file contents, and what to do next. */
export interface InitResult extends Omit<InitPlan, 'files'> {
  status: 'created' | 'planned'
  dryRun: boolean
  files: Array<{path: string; bytes: number; origin: FileOrigin}>
  next: string[]
}

export {DEFAULT_COLUMNS, DEFAULT_PYTHON_VERSION}
const PROJECT_MARKERS = ['Pipfile', 'pyproject.toml', 'setup.py', '.git']
/** Files of a source version that are not carried over, and why. */
const NOT_COPIED: Record<string, string> = {
  '__init__.py': 'the template forbids __init__.py in deploy targets',
  'ecr.sh': 'mldeploy push replaces it, and it names the old repository',
}
const NOT_COPIED_DIRS = new Set(['__pycache__', '.ipynb_checkpoints', '.pytest_cache'])
const TEXT_FILE = /\.(?:py|csv|json|ya?ml|toml|txt|md|cfg|ini|sh)$|^\.env(?:\..+)?$|^bentofile/

/** The project root: --root, else the nearest folder with deploy/, else the working directory if it is a project. */
export function resolveInitRoot(rootFlag: string | undefined, cwd: string): string {
  if (rootFlag !== undefined) {
    const root = path.resolve(cwd, rootFlag)
    if (!isDirectory(root)) throw usageError(`--root ${rootFlag} is not a folder.`)
    return root
  }
  const found = findProjectRoot(cwd)
  if (found !== undefined) return found
  if (PROJECT_MARKERS.some((marker) => existsSync(path.join(cwd, marker)))) return cwd
  throw usageError(
    `No project found: no deploy/ folder in ${cwd} or above, and no ${PROJECT_MARKERS.join(', ')} in it.`,
    'Run mldeploy init in the project folder or pass --root <project folder>.',
  )
}

/** Everything init would write, validated and checked against the disk; writes nothing. */
export function planInit(targetSpec: string, flags: InitFlags, cwd: string): InitPlan {
  const {model, version} = parseTargetName(targetSpec)
  const name = `${model}/${version}`
  const root = resolveInitRoot(flags.root, cwd)
  const dir = path.join(root, 'deploy', model, version)
  const env = envSettings(flags)
  const pythonVersion = validatePythonVersion(flags['python-version'] ?? DEFAULT_PYTHON_VERSION)
  const bentoFlag = flags['bento-model'] && validateBentoModel(flags['bento-model'], '--bento-model')
  const modelUriFlag = flags['model-uri'] && validateModelUri(flags['model-uri'], '--model-uri')
  if (flags.columns !== undefined && flags.from !== undefined) {
    throw usageError(
      '--columns cannot be used with --from: the columns come from the copied version.',
      'Edit example_input.csv and common.py after the copy.',
    )
  }
  const columns = flags.columns === undefined ? undefined : parseColumns(flags.columns)

  let plan: InitPlan
  if (flags.from === undefined) {
    const bentoModel = bentoFlag || defaultBentoModel(model, version)
    const spec: TargetSpec = {
      name,
      model,
      version,
      bentoModel,
      modelUri: modelUriFlag || `models:/${model}/latest`,
      columns: columns ?? DEFAULT_COLUMNS,
      serviceClass: defaultServiceClass(model, version),
      pythonVersion,
      env,
    }
    const generated: Array<[string, string]> = [
      ['create_bento_model.py', createBentoModelPy(spec)],
      ['common.py', commonPy(spec)],
      ['example_input.csv', exampleInputCsv(spec)],
      ['service.py', servicePy(spec)],
      [SETTINGS_FILE, settingsYaml(spec, defaultRepository(model, version))],
    ]
    const warnings: string[] = []
    if (modelUriFlag === undefined || modelUriFlag === '') {
      warnings.push(
        `No --model-uri: create_bento_model.py imports ${spec.modelUri}; pass --model-uri runs:/<run-id>/model to pin a run.`,
      )
    }
    if (columns === undefined) {
      warnings.push(
        `No --columns: example_input.csv and common.py use the placeholders ${DEFAULT_COLUMNS.join(', ')}.`,
      )
    }
    plan = {
      target: name,
      root,
      dir,
      from: null,
      bentoModel,
      serviceClass: spec.serviceClass,
      files: generated.map(([file, text]) => planned(root, dir, file, Buffer.from(text), 'generated')),
      changes: [],
      skipped: [],
      warnings,
    }
  } else {
    plan = planCopy(name, model, version, root, dir, flags.from, {
      bentoModel: bentoFlag || undefined,
      modelUri: modelUriFlag || undefined,
      env,
    })
  }
  assertWritable(plan)
  return plan
}

interface CopyOverrides {
  bentoModel: string | undefined
  modelUri: string | undefined
  env: EnvSettings
}

/** `--from modelA/V1`: the source's files, with its model, service and repository names moved to the new version. */
function planCopy(
  name: string,
  model: string,
  version: string,
  root: string,
  dir: string,
  fromSpec: string,
  overrides: CopyOverrides,
): InitPlan {
  const source = resolveTarget(fromSpec, root)
  if (source.dir === dir)
    throw usageError(`--from ${source.name} is the target itself.`, 'Name the new version, e.g. modelA/V2.')
  const warnings: string[] = []
  const changes: string[] = []
  const skipped: string[] = []
  const entries = listFiles(source.dir, skipped)
  const read = (file: string): string => readFileSync(path.join(source.dir, file), 'utf8')

  const rename = (kind: string, old: string | undefined, fresh: string): string | undefined => {
    if (old === undefined || old === fresh) return undefined
    changes.push(`${kind} ${old} → ${fresh}`)
    return fresh
  }
  const derive = (old: string, fallback: string): string => {
    const swapped = swapVersion(old, source.version, version)
    return swapped === undefined || swapped === old ? fallback : swapped
  }

  const oldBento = /import_model\(\s*(["'])([^"'\n]+)\1/.exec(read('create_bento_model.py'))?.[2]
  const newBento =
    oldBento === undefined
      ? overrides.bentoModel
      : (overrides.bentoModel ?? derive(oldBento, defaultBentoModel(model, version)))
  if (oldBento === undefined) {
    warnings.push(
      'No bentoml.mlflow.import_model("<name>", ...) found in create_bento_model.py: check the BentoML model name by hand.',
    )
  }
  const bentoModel =
    rename('bento model', oldBento, newBento ?? '') ??
    newBento ??
    oldBento ??
    defaultBentoModel(model, version)

  const oldClass = /@bentoml\.service\b[^\n]*\n(?:\s*@[^\n]*\n)*\s*class\s+([A-Za-z_]\w*)/.exec(
    read('service.py'),
  )?.[1]
  const newClass = oldClass === undefined ? undefined : derive(oldClass, defaultServiceClass(model, version))
  if (oldClass === undefined)
    warnings.push('No @bentoml.service class found in service.py: rename the service by hand.')
  rename('service class', oldClass, newClass ?? '')

  const oldRepository = defaultRepository(source.model, source.version)
  const newRepository = defaultRepository(model, version)
  let modelUriApplied = overrides.modelUri === undefined

  const files = entries.map((file): PlannedFile => {
    const absolute = path.join(source.dir, file)
    const raw = readFileSync(absolute)
    const mode = statSync(absolute).mode & 0o777
    const base = path.basename(file)
    if (!TEXT_FILE.test(base)) return {...planned(root, dir, file, raw, 'copied'), mode}
    let text = raw.toString('utf8')
    const before = text
    if (oldBento !== undefined && bentoModel !== oldBento) {
      text = text.replace(new RegExp(`(["'])${escape(oldBento)}(?=["':])`, 'g'), `$1${bentoModel}`)
    }
    if (oldClass !== undefined && newClass !== undefined && newClass !== oldClass && base.endsWith('.py')) {
      text = text.replace(new RegExp(`\\b${escape(oldClass)}\\b`, 'g'), newClass)
    }
    if (file === 'create_bento_model.py' && overrides.modelUri !== undefined) {
      const uri = /(["'])((?:runs|models):\/[^"'\n]*)\1/
      if (uri.test(text)) {
        const old = uri.exec(text)![2]!
        text = text.replace(uri, `$1${overrides.modelUri}$1`)
        changes.push(`model URI ${old} → ${overrides.modelUri}`)
        modelUriApplied = true
      }
    }
    text = text.replace(new RegExp(`\\b${escape(source.name)}\\b`, 'g'), name)
    const repositoryKey = SETTINGS.repository.env[0]
    if (/^\.env(?:\..+)?$/.test(base) || base === SETTINGS_FILE) {
      text = text.split(`[default: ${oldRepository}]`).join(`[default: ${newRepository}]`)
      const explicit = overrides.env[repositoryKey] !== undefined
      if (!explicit || base !== SETTINGS_FILE) {
        text = adjustRepository(
          text,
          base,
          oldRepository,
          newRepository,
          source.version,
          version,
          changes,
          warnings,
        )
      }
      if (base === SETTINGS_FILE) text = setSettings(text, overrides.env)
    }
    return {...planned(root, dir, file, Buffer.from(text), text === before ? 'copied' : 'adjusted'), mode}
  })
  if (!modelUriApplied) {
    warnings.push(
      '--model-uri not applied: no runs:/ or models:/ string in create_bento_model.py; edit it by hand.',
    )
  }
  if (!entries.includes(SETTINGS_FILE) && Object.keys(overrides.env).length > 0) {
    const spec = {name, env: overrides.env} as TargetSpec
    files.push(planned(root, dir, SETTINGS_FILE, Buffer.from(settingsYaml(spec, newRepository)), 'generated'))
  }
  return {
    target: name,
    root,
    dir,
    from: source.name,
    bentoModel,
    serviceClass: newClass ?? null,
    files,
    changes,
    skipped,
    warnings,
  }
}

/**
 * The repository of the old version moves with the version, in a .env (MLDEPLOY_REPOSITORY=) and in
 * mldeploy.yaml (repository:); another one is kept, with a warning.
 */
function adjustRepository(
  text: string,
  file: string,
  oldRepository: string,
  newRepository: string,
  oldVersion: string,
  newVersion: string,
  changes: string[],
  warnings: string[],
): string {
  const key = file === SETTINGS_FILE ? SETTINGS.repository.flag : SETTINGS.repository.env[0]
  const line =
    file === SETTINGS_FILE
      ? new RegExp(`^(${key}\\s*:\\s*["']?)([^"'\\s#]+)(["']?)[ \\t]*$`, 'm')
      : new RegExp(`^(\\s*(?:export\\s+)?${key}\\s*=\\s*)(\\S+)()[ \\t]*$`, 'm')
  return text.replace(line, (whole, prefix: string, value: string, quote: string) => {
    const fresh = value === oldRepository ? newRepository : swapVersion(value, oldVersion, newVersion)
    if (fresh === undefined || fresh === value) {
      warnings.push(`${file}: ${key} ${value} is kept, so the new version pushes to the same repository.`)
      return whole
    }
    changes.push(`${file}: ${key} ${value} → ${fresh}`)
    return `${prefix}${fresh}${quote}`
  })
}

/** Set `key: value` lines of a settings file: replace the key's line, else its commented-out example, else append. */
export function setSettings(text: string, values: EnvSettings): string {
  let out = text
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue
    const flag = settingRows().find(
      ([, setting]) => setting.env !== undefined && fileEnvName(setting) === name,
    )?.[1].flag
    if (flag === undefined) continue
    const line = settingLine(flag, value)
    const active = new RegExp(`^${flag}\\s*:.*$`, 'm')
    const commented = new RegExp(`^#\\s*${flag}\\s*:.*$`, 'm')
    if (active.test(out)) out = out.replace(active, line)
    else if (commented.test(out)) out = out.replace(commented, line)
    else out = `${out}${out.endsWith('\n') || out === '' ? '' : '\n'}${line}\n`
  }
  return out
}

/** The setting flags init was given, validated by the settings table, as settings to write. */
function envSettings(flags: InitFlags): EnvSettings {
  const read = new SettingsReader(flags, new EnvLayers({}, []))
  const env: EnvSettings = {}
  for (const [, setting] of settingsOf('init')) {
    const name = setting.env === undefined ? undefined : fileEnvName(setting)
    const given = (flags as Record<string, unknown>)[setting.flag]
    if (name === undefined || given === undefined) continue
    const value = read.get(setting)?.value
    if (value === undefined) continue
    // Lists (tags) are written validated and de-duplicated; other values as given, trimmed.
    env[name] = Array.isArray(value) ? value.join(',') : String(given).trim()
  }
  return env
}

/** Files of a folder, relative, recursively; caches, __init__.py, ecr.sh and symlinks are left out. */
function listFiles(dir: string, skipped: string[], prefix = ''): string[] {
  const files: string[] = []
  for (const entry of readdirSync(path.join(dir, prefix), {withFileTypes: true}).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const relative = path.join(prefix, entry.name)
    if (entry.isSymbolicLink()) skipped.push(`${relative} (a symlink)`)
    else if (entry.isDirectory()) {
      if (!NOT_COPIED_DIRS.has(entry.name)) files.push(...listFiles(dir, skipped, relative))
    } else if (entry.isFile()) {
      const why = NOT_COPIED[entry.name]
      if (why !== undefined) skipped.push(`${relative} (${why})`)
      else if (!entry.name.endsWith('.pyc')) files.push(relative)
    }
  }
  return files
}

function planned(root: string, dir: string, file: string, contents: Buffer, origin: FileOrigin): PlannedFile {
  const absolute = path.join(dir, file)
  return {path: path.relative(root, absolute), absolute, contents, origin}
}

/** Nothing is overwritten and nothing lands outside deploy/: checked for every file before the first write. */
function assertWritable(plan: InitPlan): void {
  const deploy = path.join(plan.root, 'deploy')
  let existing = plan.dir
  while (!existsSync(existing)) existing = path.dirname(existing)
  if (existing !== plan.root && existsSync(deploy)) {
    const real = realpathSync(existing)
    const realDeploy = realpathSync(deploy)
    if (real !== realDeploy && !real.startsWith(`${realDeploy}${path.sep}`)) {
      throw usageError(
        `${path.relative(plan.root, existing)} resolves to ${real}, outside deploy/.`,
        'Replace the symlink with a folder.',
      )
    }
  }
  for (let dir = plan.dir; dir !== plan.root; dir = path.dirname(dir)) {
    if (lexists(dir) && !isDirectory(dir))
      throw usageError(`${path.relative(plan.root, dir)} exists and is not a folder.`)
  }
  const conflicts = plan.files.filter((file) => lexists(file.absolute)).map((file) => file.path)
  if (conflicts.length > 0) {
    throw usageError(
      `${conflicts[0]} already exists${conflicts.length > 1 ? ` (and ${conflicts.length - 1} more: ${conflicts.slice(1).join(', ')})` : ''}; mldeploy init never overwrites.`,
      'Pick another <model>/<version>, or move those files away first.',
    )
  }
}

/** Write the plan; on any failure remove what this run created, so it leaves nothing half-done. */
export function writePlan(plan: InitPlan): void {
  const createdDirs: string[] = []
  const createdFiles: string[] = []
  try {
    for (const file of plan.files) {
      const missing: string[] = []
      for (let dir = path.dirname(file.absolute); !existsSync(dir); dir = path.dirname(dir))
        missing.unshift(dir)
      for (const dir of missing) {
        mkdirSync(dir)
        createdDirs.push(dir)
      }
      // 'wx': fail rather than overwrite, even if the file appeared since the plan was checked.
      writeFileSync(file.absolute, file.contents, {flag: 'wx', mode: file.mode ?? 0o644})
      createdFiles.push(file.absolute)
    }
  } catch (error) {
    for (const file of createdFiles.reverse()) unlinkSync(file)
    for (const dir of createdDirs.reverse()) rmdirSync(dir)
    throw new DeployError(
      'usage',
      `Writing ${plan.target} failed: ${errorMessage(error)}. Nothing was left behind.`,
      {
        hint: 'Check the permissions of the deploy/ folder.',
      },
    )
  }
}

export function toInitResult(plan: InitPlan, dryRun: boolean): InitResult {
  return {
    status: dryRun ? 'planned' : 'created',
    dryRun,
    target: plan.target,
    root: plan.root,
    dir: plan.dir,
    from: plan.from,
    bentoModel: plan.bentoModel,
    serviceClass: plan.serviceClass,
    files: plan.files.map((file) => ({path: file.path, bytes: file.contents.length, origin: file.origin})),
    changes: plan.changes,
    skipped: plan.skipped,
    warnings: plan.warnings,
    next: [
      plan.from === null
        ? `Edit deploy/${plan.target}/common.py, example_input.csv and the python_packages of service.py for your model.`
        : `Review the copied files in deploy/${plan.target}/.`,
      `mldeploy doctor ${plan.target}  (credentials, tools, VPN; whether the repository exists)`,
      `mldeploy push ${plan.target} --dry-run  (the plan and the same read-only checks; add --create-repository for a new repository)`,
    ],
  }
}

export function formatInit(result: InitResult): string {
  const lines = [
    `${result.dryRun ? 'Would create' : 'Created'} deploy/${result.target}/${result.from === null ? '' : ` from ${result.from}`} (BentoML model ${result.bentoModel}):`,
    ...result.files.map((file) => `  ${file.path}${file.origin === 'generated' ? '' : ` (${file.origin})`}`),
  ]
  if (result.changes.length > 0) lines.push('Renamed:', ...result.changes.map((change) => `  ${change}`))
  if (result.skipped.length > 0) lines.push('Not copied:', ...result.skipped.map((file) => `  ${file}`))
  if (!result.dryRun) lines.push('Next:', ...result.next.map((step) => `  ${step}`))
  return lines.join('\n')
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

function lexists(p: string): boolean {
  try {
    lstatSync(p)
    return true
  } catch {
    return false
  }
}
