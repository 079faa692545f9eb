import path from 'node:path'

import {EnvLayers, parseEnvFile} from '../config/env-layers.js'
import {envKeyWarnings} from '../config/env-keys.js'
import {type PushConfig, resolvePushConfig} from '../config/push-config.js'
import {SETTINGS, SettingsReader} from '../config/settings.js'
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
  for (const file of shown) {
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
  return targetWarnings(
    config.target,
    {repository: config.repository, tags: config.tags, backend: config.backend},
    config.target.root,
    config.envFiles,
  )
}

/** For list: each ready target's warnings, and two targets that would push to one repository. */
export function listWarnings(result: ListResult, processEnv: NodeJS.ProcessEnv, cwd: string): string[] {
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
        `${targets.join(' and ')} resolve to the same repository ${repository}: their pushes would move each other's tags (latest). Set MLDEPLOY_REPOSITORY in each target's .env.`,
      )
  return [...warnings]
}

/** For doctor: one check with every finding, plus the .env files git ignores (CI will not have them). */
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
  for (const shown of settings.envFiles) {
    if ((await isGitIgnored(path.resolve(root, shown), settings.childEnv, signal)) === true)
      findings.push(
        `${shown} is ignored by git: CI and other clones will not have its settings (set them in CI's environment, or commit it if it holds no secret).`,
      )
  }
  if (findings.length === 0)
    return {status: 'pass', message: 'No ecr.sh disagreement, no unknown .env key, no git-ignored .env.'}
  return {
    status: 'warn',
    message: findings.join(' '),
    fix: 'See each finding; mldeploy migrate carries an ecr.sh over.',
    data: {findings: findings.length},
  }
}
