import {execFileSync} from 'node:child_process'
import {tmpdir} from 'node:os'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {headCommit, isGitIgnored} from '../../../src/systems/git.js'
import {tempDir} from '../../helpers/cli.js'

// Real git in temp folders; GIT_CEILING_DIRECTORIES keeps it from finding a checkout above them.
const env = (root: string) => ({
  PATH: process.env.PATH ?? '',
  HOME: tmpdir(),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CEILING_DIRECTORIES: path.dirname(root),
})

function checkout(): string {
  const root = tempDir('git')
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {cwd: root, env: env(root)})
  git('init', '-q')
  writeFileSync(path.join(root, '.gitignore'), '.env\n')
  git('add', '.gitignore')
  git('commit', '-qm', 'one')
  return root
}

describe('isGitIgnored', () => {
  it('true for an ignored file, false for another, undefined outside a checkout', async () => {
    const root = checkout()
    expect(await isGitIgnored(path.join(root, '.env'), env(root))).toBe(true)
    expect(await isGitIgnored(path.join(root, '.env.production'), env(root))).toBe(false)
    const outside = tempDir('nogit')
    expect(await isGitIgnored(path.join(outside, '.env'), env(outside))).toBeUndefined()
  })
})

describe('headCommit', () => {
  it('outside a checkout: names the folder and what git said', async () => {
    const root = tempDir('nogit')
    const error = await headCommit(root, env(root)).catch((caught: unknown) => caught)
    expect(error).toMatchObject({domain: 'check', reason: 'not-a-checkout'})
    expect((error as Error).message).toMatch(
      new RegExp(
        `^${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a git checkout with a commit \\(fatal: not a git repository.*\\)\\.$`,
      ),
    )
    expect((error as {detail: string}).detail).toContain('not a git repository')
  })

  it('a checkout without a commit is not one either', async () => {
    const root = tempDir('git')
    execFileSync('git', ['init', '-q'], {cwd: root, env: env(root)})
    await expect(headCommit(root, env(root))).rejects.toMatchObject({reason: 'not-a-checkout'})
  })
})
