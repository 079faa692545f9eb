import {execFileSync} from 'node:child_process'
import {tmpdir} from 'node:os'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {headCommit, isGitIgnored} from '../../../src/systems/git.js'
import {tempDir} from '../../helpers/cli.js'
import {scriptTool} from '../../helpers/deploy-state.js'

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

describe('headCommit and isGitIgnored with a stand-in git (answers real git rarely gives)', () => {
  /** A `git` that runs `script` (Node); PATH holds it and node only. */
  function fakeGit(script: string): Record<string, string> {
    const dir = tempDir('fakegit')
    scriptTool(dir, 'git', script)
    return {PATH: `${dir}:${path.dirname(process.execPath)}`, HOME: dir}
  }
  const printing = (text: string, exit = 0) =>
    fakeGit(`process.stdout.write(${JSON.stringify(text)}); process.exit(${exit})`)

  it('the short sha asked for, trimmed', async () => {
    const env = fakeGit(
      `if (process.argv.slice(2).join(' ') !== 'rev-parse --short=12 HEAD') process.exit(3)
process.stdout.write('  abcdef123456  \\n')`,
    )
    expect(await headCommit(tempDir('cwd'), env)).toBe('abcdef123456')
  })

  it('anything but 7 to 40 hex digits is no commit; the message shows the line, the detail all lines', async () => {
    for (const text of ['xabcdef1\n', 'abcdef1x\n', 'HEAD\n'])
      await expect(headCommit(tempDir('cwd'), printing(text)), text).rejects.toMatchObject({
        reason: 'not-a-checkout',
      })
    const root = tempDir('cwd')
    const error = await headCommit(root, printing('warning: odd\nnot a sha\n')).catch(
      (caught: unknown) => caught,
    )
    expect(error).toMatchObject({
      message: `${root} is not a git checkout with a commit (not a sha).`,
      detail: 'warning: odd\nnot a sha',
    })
    await expect(headCommit(root, printing(''))).rejects.toThrow(
      `${root} is not a git checkout with a commit (no output).`,
    )
  })

  it('a git killed by a signal is a child failure, not "no checkout"', async () => {
    const error = await headCommit(tempDir('cwd'), fakeGit(`process.kill(process.pid, 'SIGKILL')`)).catch(
      (caught: unknown) => caught,
    )
    expect(error).toMatchObject({domain: 'child'})
  })

  it('check-ignore runs without prompts or translations', async () => {
    const env = fakeGit(
      `process.exit(process.env.GIT_TERMINAL_PROMPT === '0' && process.env.LC_ALL === 'C' ? 0 : 1)`,
    )
    expect(await isGitIgnored(path.join(tempDir('cwd'), '.env'), env)).toBe(true)
  })
})
