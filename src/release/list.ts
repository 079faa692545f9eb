import {readdirSync} from 'node:fs'
import path from 'node:path'

import {loadEnvLayers} from '../config/target-layers.js'
import {readStage, SETTINGS, SettingsReader} from '../config/settings.js'
import {resolvePushConfig} from '../config/push-config.js'
import {UsageError} from '../errors.js'
import {discoverTargets, REQUIRED_TARGET_FILES, resolveRoot} from '../config/target.js'
import {isFile} from '../files.js'

export interface ListFlags {
  root?: string
  stage?: string
}

/** One deploy target and what a push of it would find. */
export interface ListedTarget {
  /** `<model>/<version>`: what `mldeploy push` takes. */
  target: string
  model: string
  version: string
  /** Relative to the project root. */
  dir: string
  /** push would get past its input checks: required files present and settings valid. */
  ready: boolean
  /** Required files (create_bento_model.py, service.py) that are missing. */
  missing: string[]
  files: {
    createBentoModel: boolean
    service: boolean
    bentofile: boolean
    pyproject: boolean
    /** The sample input found (example_input.csv, .json, .yaml...), or null. */
    sampleInput: string | null
    /** The target's own .env (or .env.<stage>). */
    env: boolean
  }
  /** The repository push would use, with where it came from (null when it cannot be resolved). */
  repository: string | null
  repositorySource: string | null
  backend: string | null
  /** Why the target is not ready, beyond missing files: one line each (what push would say). */
  problems: string[]
}

export interface ListResult {
  root: string
  stage: string | null
  targets: ListedTarget[]
  counts: {total: number; ready: number}
  /** For a GitHub Actions job matrix: `strategy: {matrix: ${{ fromJSON(...) }}}` — ready targets only. */
  matrix: {include: Array<{target: string; model: string; version: string; repository: string}>}
}

const SAMPLE_INPUT = /^example_input\.(?:csv|json|ya?ml)$/i
const OTHER_SAMPLE_INPUT = /input.*\.(?:csv|json|ya?ml)$/i

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort()
  } catch {
    return []
  }
}

function describeTarget(
  root: string,
  model: string,
  version: string,
  flags: ListFlags,
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
): ListedTarget {
  const name = `${model}/${version}`
  const dir = path.join(root, 'deploy', model, version)
  const names = entries(dir)
  const missing = REQUIRED_TARGET_FILES.filter((file) => !isFile(path.join(dir, file)))
  const sampleInput =
    names.find((file) => SAMPLE_INPUT.test(file)) ??
    names.find((file) => OTHER_SAMPLE_INPUT.test(file)) ??
    null
  const envName = flags.stage === undefined ? '.env' : `.env.${flags.stage}`
  const listed: ListedTarget = {
    target: name,
    model,
    version,
    dir: path.relative(root, dir),
    ready: false,
    missing,
    files: {
      createBentoModel: !missing.includes('create_bento_model.py'),
      service: !missing.includes('service.py'),
      bentofile: isFile(path.join(dir, 'bentofile.yaml')) || isFile(path.join(dir, 'bentofile.yml')),
      pyproject: isFile(path.join(dir, 'pyproject.toml')),
      sampleInput,
      env: isFile(path.join(dir, envName)) || (flags.stage !== undefined && isFile(path.join(dir, '.env'))),
    },
    repository: null,
    repositorySource: null,
    backend: null,
    problems: [],
  }
  try {
    if (missing.length > 0) {
      // push stops at the missing files; still say which repository it would use.
      const layers = loadEnvLayers(processEnv, root, dir, flags.stage)
      const repository = new SettingsReader({}, layers, {target: {name, model, version}}).must(
        SETTINGS.repository,
      )
      listed.repository = repository.value
      listed.repositorySource = repository.source
      return listed
    }
    const config = resolvePushConfig(
      name,
      {root, 'skip-vpn-check': true, ...(flags.stage === undefined ? {} : {stage: flags.stage})},
      processEnv,
      cwd,
    )
    listed.repository = config.repository.value
    listed.repositorySource = config.repository.source
    listed.backend = config.backend.value
    listed.ready = true
  } catch (error) {
    // A usage error belongs to this target (a bad .env line, an invalid name): the others still list.
    if (!(error instanceof UsageError)) throw error
    listed.problems.push(error.oneLine)
  }
  return listed
}

/** The project's deploy targets with their state. Only a missing project is an error (usage, exit 2). */
export function listTargets(given: ListFlags, processEnv: NodeJS.ProcessEnv, cwd: string): ListResult {
  // --stage or MLDEPLOY_STAGE, as push reads it (the stage picks the .env files).
  const stage = readStage(given, processEnv)?.value
  const flags: ListFlags = {...given, ...(stage === undefined ? {} : {stage})}
  const root = resolveRoot(flags.root, cwd)
  const targets = discoverTargets(root).map((name) => {
    const [model, version] = name.split('/') as [string, string]
    return describeTarget(root, model, version, flags, processEnv, cwd)
  })
  const ready = targets.filter((each) => each.ready)
  return {
    root,
    stage: flags.stage ?? null,
    targets,
    counts: {total: targets.length, ready: ready.length},
    matrix: {
      include: ready.map((each) => ({
        target: each.target,
        model: each.model,
        version: each.version,
        repository: each.repository ?? '',
      })),
    },
  }
}

/** An aligned table, then what is missing per target that is not ready. */
export function formatList(result: ListResult): string {
  const header = ['TARGET', 'READY', 'REPOSITORY', 'BACKEND', 'BUILD CONFIG', 'SAMPLE INPUT', '.ENV']
  const rows = result.targets.map((each) => [
    each.target,
    each.ready ? 'yes' : 'no',
    each.repository ?? '-',
    each.backend ?? '-',
    each.files.bentofile ? 'bentofile.yaml' : each.files.pyproject ? 'pyproject.toml' : 'service.py only',
    each.files.sampleInput ?? 'none',
    each.files.env ? 'yes' : 'no',
  ])
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  )
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd()
  const lines = [
    `Deploy targets in ${result.root}${result.stage === null ? '' : ` (stage ${result.stage})`}:`,
    '',
  ]
  if (rows.length === 0)
    lines.push('  none: deploy/ has no <model>/<version>/ folders (mldeploy init <model>/<version>)')
  else lines.push(line(header), ...rows.map(line))
  const notReady = result.targets.filter((each) => !each.ready)
  if (notReady.length > 0) lines.push('')
  for (const each of notReady) {
    const why = [
      ...(each.missing.length > 0 ? [`missing ${each.missing.join(' and ')}`] : []),
      ...each.problems,
    ]
    lines.push(`${each.target}: ${why.join('; ')}`)
  }
  lines.push('', `${result.counts.total} target(s), ${result.counts.ready} ready.`)
  return lines.join('\n')
}
