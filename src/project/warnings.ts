import path from 'node:path'

import {EnvLayers, parseEnvFile} from '../config/env-layers.js'
import {envKeyWarnings} from '../config/env-keys.js'
import {type PushConfig, resolvePushConfig} from '../config/push-config.js'
import {type FromFile, SETTINGS, SettingsReader, type Shadowed} from '../config/settings.js'
import {SETTINGS_FILE} from '../config/settings-file.js'
import type {CheckOutcome} from '../doctor/checks.js'
import type {DoctorSettings} from '../doctor/settings.js'
import type {ListResult} from '../release/list.js'
import {isGitIgnored} from '../systems/git.js'
import {ecrShDisagreement, type ResolvedForEcrSh} from './migrate.js'

/**
 * What push, list and doctor say about a target's files before anything runs: an ecr.sh that
 * disagrees with the resolved settings, .env keys that look like typos, a .env git ignores.
 * Warnings only: none of them stops a command.
 */

/** `.env` files by their shown path (relative to the root), parsed again: they were valid a moment ago. */
function envFiles(
  root: string,
  shown: readonly string[],
): Array<{shown: string; values: Record<string, string>}> {
  const files = []
  // A settings file's keys were checked as it was read; only .env files hold free-form keys.
  for (const file of shown.filter((each) => path.basename(each) !== SETTINGS_FILE)) {
    try {
      files.push({shown: file, values: parseEnvFile(path.resolve(root, file))})
    } catch {
      // Reported by the resolution itself.
    }
  }
  return files
}

function targetWarnings(
  target: {name: string; dir: string},
  resolved: ResolvedForEcrSh,
  root: string,
  shown: readonly string[],
): string[] {
  const disagreement = ecrShDisagreement(target, resolved)
  return [...(disagreement === undefined ? [] : [disagreement]), ...envKeyWarnings(envFiles(root, shown))]
}

/** For push (and list, which resolves as push does). */
export function pushWarnings(config: PushConfig): string[] {
  return [
    ...targetWarnings(
      config.target,
      {repository: config.repository, tags: config.tags, backend: config.backend},
      config.target.root,
      config.envFiles,
    ),
    ...shadowWarnings(config.target.name, config.shadowed),
  ]
}

/**
 * The environment and a target's files disagree: both values, their sources and which one is
 * used — CI's ambient AWS_REGION must never move a target to another region without a word.
 */
export function shadowWarnings(target: string, shadowed: readonly Shadowed[]): string[] {
  return shadowed.map(({label, used, unused, winner, override}) =>
    winner === 'files'
      ? `${target}: ${label} ${used.value} (from ${used.source}) is used, not ${unused.value} (from ${unused.source}): a target's own settings win over the environment's AWS variables; ${override} overrides them.`
      : `${target}: ${label} ${used.value} (from ${used.source}) overrides ${unused.value} (from ${unused.source}).`,
  )
}

/** For promote and inspect, which locate the repository as push does and build nothing. */
export async function locatingWarnings(config: PushConfig, signal?: AbortSignal): Promise<string[]> {
  return [
    ...shadowWarnings(config.target.name, config.shadowed),
    ...(await ignoredFileWarnings(config.target, config.fromFiles, config.childEnv, signal)),
  ]
}

/**
 * Settings read from a file that git ignores: a CI clone will not have that file, so it resolves
 * other values (the derived repository, another region). A `.env` value that a committed
 * `mldeploy.yaml` also sets is a local override, said nothing of; one that only the ignored file
 * holds is named, with the fix. One git call per file; outside a checkout nothing is said.
 */
export async function ignoredFileWarnings(
  target: {name: string; root: string; dir: string},
  fromFiles: readonly FromFile[],
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<string[]> {
  const byFile = new Map<string, FromFile[]>()
  for (const each of fromFiles)
    if (each.committed || !each.committedFallback)
      byFile.set(each.file, [...(byFile.get(each.file) ?? []), each])
  const warnings: string[] = []
  const settingsFile = path.relative(target.root, path.join(target.dir, SETTINGS_FILE))
  for (const [file, settings] of byFile) {
    if ((await isGitIgnored(path.resolve(target.root, file), env, signal)) !== true) continue
    const keys = settings.map((each) => each.key).join(', ')
    warnings.push(
      settings[0]!.committed
        ? `${file} is ignored by git, and ${target.name}'s ${keys} come from it: a CI clone will not have them. Stop ignoring it (git check-ignore -v ${file} names the rule) and commit it.`
        : `${file} is ignored by git, and ${target.name}'s ${keys} come from it: a CI clone will resolve other values. Move them to ${settingsFile} and commit it (keep .env for secrets and local overrides).`,
    )
  }
  return warnings
}

/** For list: each ready target's warnings, and two targets that would push to one repository. */
export async function listWarnings(
  result: ListResult,
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
): Promise<string[]> {
  const warnings = new Set<string>()
  for (const each of result.targets) {
    if (!each.ready) continue
    try {
      const config = resolvePushConfig(
        each.target,
        {root: result.root, 'skip-vpn-check': true, ...(result.stage === null ? {} : {stage: result.stage})},
        processEnv,
        cwd,
      )
      for (const warning of pushWarnings(config)) warnings.add(warning)
      for (const warning of await ignoredFileWarnings(config.target, config.fromFiles, config.childEnv))
        warnings.add(warning)
    } catch {
      // list has reported it as the target's problem.
    }
  }
  const byRepository = new Map<string, string[]>()
  for (const each of result.targets)
    if (each.repository !== null)
      byRepository.set(each.repository, [...(byRepository.get(each.repository) ?? []), each.target])
  for (const [repository, targets] of byRepository)
    if (targets.length > 1)
      warnings.add(
        `${targets.join(' and ')} resolve to the same repository ${repository}: their pushes would move each other's tags (latest). Set repository: in each target's mldeploy.yaml.`,
      )
  return [...warnings]
}

/** For doctor: one check with every finding, plus settings that only a git-ignored file holds (CI will not have them). */
export async function projectOutcome(settings: DoctorSettings, signal: AbortSignal): Promise<CheckOutcome> {
  if (settings.root === undefined) return {status: 'skip', message: 'Not inside a project.'}
  const root = settings.root
  const findings: string[] = []
  if (settings.target !== undefined) {
    const [model, version] = settings.target.split('/') as [string, string]
    const dir = path.join(root, 'deploy', model, version)
    // doctor has no --tag: the tags come from the environment and the .env files, as push reads them.
    const tags = new SettingsReader({}, new EnvLayers(settings.childEnv, [])).get(SETTINGS.tags)
    const resolved = {repository: settings.repository, tags, backend: settings.backend}
    findings.push(...targetWarnings({name: settings.target, dir}, resolved, root, settings.envFiles))
  } else {
    findings.push(...envKeyWarnings(envFiles(root, settings.envFiles)))
  }
  const name = settings.target ?? 'the project'
  findings.push(...shadowWarnings(name, settings.shadowed))
  const dir = settings.target === undefined ? root : path.join(root, 'deploy', ...settings.target.split('/'))
  findings.push(
    ...(await ignoredFileWarnings({name, root, dir}, settings.fromFiles, settings.childEnv, signal)),
  )
  if (findings.length === 0)
    return {
      status: 'pass',
      message:
        'No ecr.sh disagreement, no unknown .env key, no setting shadowed or only in a git-ignored file.',
    }
  return {
    status: 'warn',
    message: findings.join(' '),
    fix: 'See each finding; mldeploy migrate carries an ecr.sh over.',
    data: {findings: findings.length},
  }
}
