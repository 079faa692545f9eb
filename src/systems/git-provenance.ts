import {runChild} from '../process.js'
import {SecretRegistry} from '../secrets.js'

/**
 * The git facts an image's provenance labels need: the commit, whether the target folder has
 * uncommitted changes, and the remote URL (credentials are stripped by `provenanceLabels`).
 * Read-only git calls through `src/process.ts`; outside a repository every answer is undefined.
 * (To be merged with `src/systems/git.ts`.)
 */
export interface GitRevision {
  sha: string
  /** Uncommitted changes (staged, unstaged or untracked) under the target folder. */
  dirty: boolean
}

export function revParseArgs(): string[] {
  return ['rev-parse', 'HEAD']
}

/** Untracked files count: a new service.py is exactly what a clean-looking sha would hide. */
export function statusArgs(): string[] {
  return ['status', '--porcelain', '--untracked-files=normal', '--', '.']
}

export function remoteArgs(): string[] {
  return ['remote', 'get-url', 'origin']
}

async function git(
  cwd: string,
  args: string[],
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<string[] | undefined> {
  const lines: string[] = []
  const result = await runChild({
    command: 'git',
    args,
    cwd,
    baseEnv: env,
    // No prompt for credentials, no pager, no localized messages.
    env: {GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C'},
    secrets: new SecretRegistry(),
    onLine: (line) => lines.push(line),
    timeoutMs: 10_000,
    ...(signal === undefined ? {} : {signal}),
  })
  if (result.exitCode !== 0) return undefined
  return lines.filter((line) => line.trim() !== '')
}

export async function gitRevision(
  dir: string,
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<GitRevision | undefined> {
  const sha = (await git(dir, revParseArgs(), env, signal))?.[0]?.trim()
  if (sha === undefined || !/^[0-9a-f]{40,64}$/.test(sha)) return undefined
  const status = await git(dir, statusArgs(), env, signal)
  // A status that cannot be read is reported dirty: never a clean-looking lie.
  return {sha, dirty: status === undefined || status.length > 0}
}

export async function gitRemoteUrl(
  dir: string,
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const url = (await git(dir, remoteArgs(), env, signal))?.[0]?.trim()
  return url === undefined || url === '' ? undefined : url
}
