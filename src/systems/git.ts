import path from 'node:path'

import {CheckError} from '../errors.js'
import {runChild} from '../process.js'
import {SecretRegistry} from '../secrets.js'
import {checkChild} from './child.js'

/** Every git call mldeploy makes lives here: read-only, short, with typed errors. */
const GIT_TIMEOUT_MS = 10_000

/**
 * The checkout's commit as a 12-character short sha (what `--git-sha-tag` tags with).
 * Throws a `ChildError` when git is missing, hangs or is killed, and a `CheckError` when `root`
 * is not a git checkout with a commit.
 */
export async function headCommit(
  root: string,
  env: Record<string, string>,
  secrets: SecretRegistry = new SecretRegistry(),
  signal?: AbortSignal,
): Promise<string> {
  const result = await runChild({
    command: 'git',
    args: ['rev-parse', '--short=12', 'HEAD'],
    cwd: root,
    baseEnv: env,
    secrets,
    timeoutMs: GIT_TIMEOUT_MS,
    ...(signal === undefined ? {} : {signal}),
  })
  if (
    result.spawnErrorCode !== undefined ||
    result.timedOut ||
    result.canceled ||
    result.signal !== undefined
  )
    checkChild(result, {command: 'git', doing: 'Reading the commit with git', timeoutMs: GIT_TIMEOUT_MS})
  const sha = result.tail.at(-1)?.trim() ?? ''
  if (result.exitCode !== 0 || !/^[0-9a-f]{7,40}$/.test(sha)) {
    throw new CheckError(
      'not-a-checkout',
      `${root} is not a git checkout with a commit (${result.tail.at(-1) ?? 'no output'}).`,
      {detail: result.tail.join('\n')},
    )
  }
  return sha
}

/**
 * Whether git ignores `file` (`git check-ignore`): true or false, undefined outside a checkout
 * or when git cannot answer (missing, hung). Never throws.
 */
export async function isGitIgnored(
  file: string,
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<boolean | undefined> {
  const result = await runChild({
    command: 'git',
    args: ['check-ignore', '-q', '--', path.basename(file)],
    cwd: path.dirname(file),
    baseEnv: env,
    env: {GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C'},
    secrets: new SecretRegistry(),
    timeoutMs: GIT_TIMEOUT_MS,
    ...(signal === undefined ? {} : {signal}),
  })
  // 0: ignored, 1: not ignored, 128: not a checkout (or another fatal error).
  return result.exitCode === 0 ? true : result.exitCode === 1 ? false : undefined
}
