import {existsSync, readdirSync, realpathSync} from 'node:fs'
import path from 'node:path'

import {type UsageError, usageError} from '../errors.js'
import {closest} from '../suggest.js'
import {isDirectory, isFile} from '../files.js'

/** The files the template requires in every deploy target (`deploy/<model>/<version>/`). */
export const REQUIRED_TARGET_FILES = ['create_bento_model.py', 'service.py'] as const

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

export interface Target {
  /** `<model>/<version>`, as the user names it. */
  name: string
  model: string
  version: string
  /** Absolute path of `deploy/<model>/<version>`. */
  dir: string
  /** Absolute path of the project root (the folder holding `deploy/`). */
  root: string
}

/** Walk up from `start` to the first folder that holds a `deploy/` folder. */
export function findProjectRoot(start: string): string | undefined {
  let dir = path.resolve(start)
  for (;;) {
    if (isDirectory(path.join(dir, 'deploy'))) return dir
    const parent = path.dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

export function resolveRoot(rootFlag: string | undefined, cwd: string): string {
  if (rootFlag !== undefined) {
    const root = path.resolve(cwd, rootFlag)
    if (!isDirectory(path.join(root, 'deploy'))) {
      throw usageError(
        `--root ${rootFlag} has no deploy/ folder.`,
        'Point --root at the project folder that holds deploy/<model>/<version>/.',
      )
    }
    return root
  }
  const found = findProjectRoot(cwd)
  if (found === undefined) {
    throw usageError(
      `No project found: neither ${cwd} nor any folder above it holds a deploy/ folder.`,
      'Run mldeploy inside the project or pass --root <project folder>.',
    )
  }
  return found
}

/** Parse `<model>/<version>` (a leading `deploy/` is accepted) without touching the disk. */
export function parseTargetName(spec: string): {model: string; version: string} {
  const shown = JSON.stringify(spec)
  if (spec.trim() === '')
    throw usageError('The target is empty.', 'Name it as <model>/<version>, e.g. modelA/V1.')
  if (path.isAbsolute(spec) || /^[A-Za-z]:[\\/]/.test(spec)) {
    throw usageError(
      `Target ${shown} is an absolute path.`,
      'Name it relative to deploy/ as <model>/<version>, e.g. modelA/V1.',
    )
  }
  const parts = spec.replace(/\/+$/, '').split('/')
  if (parts[0] === 'deploy') parts.shift()
  if (parts.some((part) => part === '..' || part === '.')) {
    throw usageError(`Target ${shown} leaves deploy/.`, 'Name a folder inside deploy/ as <model>/<version>.')
  }
  if (parts.length !== 2) {
    throw usageError(
      `Target ${shown} is not of the form <model>/<version>.`,
      'Targets live at deploy/<model>/<version>/, e.g. modelA/V1.',
    )
  }
  const [model, version] = parts as [string, string]
  for (const segment of [model, version]) {
    if (!SEGMENT.test(segment)) {
      throw usageError(
        `Target ${shown} has an invalid folder name ${JSON.stringify(segment)}.`,
        'Use letters, digits, ".", "_" and "-" (starting with a letter or digit).',
      )
    }
  }
  return {model, version}
}

/** Resolve and validate a target against the template layout. Reads the disk, writes nothing. */
export function resolveTarget(spec: string, root: string, cwd?: string): Target {
  const {model, version} = parseTargetName(isHere(spec) && cwd !== undefined ? targetAt(root, cwd) : spec)
  const name = `${model}/${version}`
  const deployDir = path.join(root, 'deploy')
  const dir = path.join(deployDir, model, version)
  if (!existsSync(dir)) {
    // A typo or the wrong case (iris/v1 for iris/V1) is far likelier than a new target.
    const suggestion = closest(name, discoverTargets(root))
    throw usageError(
      `Target ${name} not found: ${dir} does not exist.${suggestion === undefined ? '' : ` Did you mean ${suggestion}?`}`,
      suggestion === undefined
        ? `Create it (mldeploy init ${name}) or pick one of the folders under deploy/.`
        : undefined,
    )
  }
  if (!isDirectory(dir)) throw usageError(`Target ${name} is not a folder: ${dir}.`)
  // A symlink may point anywhere: the real path must still be inside deploy/.
  const realDeploy = realpathSync(deployDir)
  const realDir = realpathSync(dir)
  if (!isInside(realDir, realDeploy)) {
    throw usageError(
      `Target ${name} resolves to ${realDir}, outside ${realDeploy}.`,
      'Targets must be real folders inside deploy/; replace the symlink with the folder.',
    )
  }
  const missing = REQUIRED_TARGET_FILES.filter((file) => !isFile(path.join(dir, file)))
  if (missing.length > 0) {
    throw usageError(
      `Target ${name} is missing ${missing.join(' and ')} in ${dir}.`,
      'A deploy target needs create_bento_model.py and service.py (see the project template).',
    )
  }
  for (const file of REQUIRED_TARGET_FILES) {
    const real = realpathSync(path.join(dir, file))
    if (!isInside(real, realDeploy)) {
      throw usageError(`Target ${name}: ${file} is a symlink to ${real}, outside deploy/.`)
    }
  }
  return {name, model, version, dir, root}
}

/** `.` (or nothing, see targetHere): the target whose folder holds the working directory. */
export function isHere(spec: string): boolean {
  return spec === '.' || spec === './'
}

/**
 * The `<model>/<version>` whose folder holds `cwd` (at any depth), so `mldeploy push` inside
 * deploy/modelA/V1/ means modelA/V1. Throws a usage error elsewhere.
 */
export function targetAt(root: string, cwd: string): string {
  const found = targetContaining(root, cwd)
  const model = found === undefined ? modelContaining(root, cwd) : undefined
  if (model !== undefined) throw usageError(`No target here: ${modelFolderSays(root, model, 'name one as')}`)
  if (found === undefined)
    throw usageError(
      `No target here: ${cwd} is not inside a deploy/<model>/<version>/ folder.`,
      'Name the target as <model>/<version>, or run this inside its folder.',
    )
  return found
}

/**
 * The targets of a command that takes several (push): the arguments, or with --all every complete
 * folder under deploy/ (an unfinished one is passed to `skipped`, not fatal), or the one holding
 * `cwd`.
 */
export function chosenTargets(
  argv: readonly string[],
  options: {all: boolean; rootFlag: string | undefined; cwd: string},
  skipped: (message: string) => void,
): string[] {
  const {all, rootFlag, cwd} = options
  if (all) {
    if (argv.length > 0) throw usageError('Give targets or --all, not both.')
    const root = resolveRoot(rootFlag, cwd)
    const names = discoverTargets(root).filter((name) => {
      try {
        resolveTarget(name, root)
        return true
      } catch (error) {
        skipped(`--all skips ${name}: ${(error as Error).message}`)
        return false
      }
    })
    if (names.length === 0)
      throw usageError(
        '--all: there is no complete target under deploy/.',
        'Create one with mldeploy init <model>/<version>.',
      )
    return names
  }
  if (argv.length > 0) return [...new Set(argv)]
  // Inside deploy/<model>/<version>/ (or deeper), that target.
  const here = targetHere(rootFlag, cwd)
  if (here !== undefined) return [here]
  throw missingTarget(rootFlag, cwd, 'push')
}

/** For a command whose target is optional: the one holding `cwd`, if any (never throws). */
export function targetHere(rootFlag: string | undefined, cwd: string): string | undefined {
  let root: string | undefined
  try {
    root = rootFlag === undefined ? findProjectRoot(cwd) : resolveRoot(rootFlag, cwd)
  } catch {
    return undefined
  }
  return root === undefined ? undefined : targetContaining(root, cwd)
}

/**
 * A command that needs a target and got none: inside deploy/<model>/ that model's versions and the
 * command to run, else the general advice.
 */
export function missingTarget(rootFlag: string | undefined, cwd: string, command: string): UsageError {
  let root: string | undefined
  try {
    root = rootFlag === undefined ? findProjectRoot(cwd) : resolveRoot(rootFlag, cwd)
  } catch {
    root = undefined
  }
  const model = root === undefined ? undefined : modelContaining(root, cwd)
  if (root !== undefined && model !== undefined)
    return usageError(`Missing target: ${modelFolderSays(root, model, `run mldeploy ${command}`)}`)
  return usageError(
    'Missing target: name one or more as <model>/<version>, or use --all.',
    `See: mldeploy ${command} --help.`,
  )
}

/** "deploy/modelA/ holds versions V1, V2: <advice> modelA/V1 (or cd into a version)." */
function modelFolderSays(root: string, model: string, advice: string): string {
  const versions = discoverTargets(root)
    .filter((name) => name.startsWith(`${model}/`))
    .map((name) => name.slice(model.length + 1))
    // V2 before V10.
    .sort((a, b) => a.localeCompare(b, 'en', {numeric: true}))
  const folder = `deploy/${model}/`
  if (versions.length === 0)
    return `${folder} holds no version folder yet: create one with mldeploy init ${model}/<version>.`
  const listed = `${versions.length === 1 ? 'version' : 'versions'} ${versions.join(', ')}`
  return `${folder} holds ${listed}: ${advice} ${model}/${versions[0]} (or cd into a version).`
}

/** `cwd`'s path below `deploy/` as its parts (symlinks resolved on both sides), or undefined outside it. */
function partsUnderDeploy(root: string, cwd: string): string[] | undefined {
  let deployDir: string
  let here: string
  try {
    deployDir = realpathSync(path.join(root, 'deploy'))
    here = realpathSync(cwd)
  } catch {
    return undefined
  }
  if (!isInside(here, deployDir)) return undefined
  return path.relative(deployDir, here).split(path.sep)
}

/** The model whose folder is `cwd` itself (deploy/<model>/, not one of its versions), or undefined. */
export function modelContaining(root: string, cwd: string): string | undefined {
  const parts = partsUnderDeploy(root, cwd)
  const model = parts?.[0]
  return parts?.length === 1 && model !== undefined && !isHidden(model) ? model : undefined
}

/** The target whose folder holds `cwd`, or undefined (symlinks resolved on both sides). */
export function targetContaining(root: string, cwd: string): string | undefined {
  const [model, version] = partsUnderDeploy(root, cwd) ?? []
  return model === undefined || version === undefined ? undefined : `${model}/${version}`
}

function isInside(child: string, parent: string): boolean {
  const relative = path.relative(parent, child)
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative)
}

/** Every `<model>/<version>` folder under deploy/, sorted; whether each is complete is resolveTarget's call. */
export function discoverTargets(root: string): string[] {
  const deployDir = path.join(root, 'deploy')
  const names: string[] = []
  for (const model of readdirSync(deployDir, {withFileTypes: true})) {
    if (!model.isDirectory() || isHidden(model.name)) continue
    for (const version of readdirSync(path.join(deployDir, model.name), {withFileTypes: true})) {
      if (version.isDirectory() && !isHidden(version.name)) names.push(`${model.name}/${version.name}`)
    }
  }
  return names.sort()
}

/** Dot folders and Python's __pycache__ are never targets. */
function isHidden(name: string): boolean {
  return name.startsWith('.') || name.startsWith('__')
}
