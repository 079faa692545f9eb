import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {gitRemoteUrl, gitRevision} from '../../../src/systems/git-provenance.js'
import {tempDir} from '../../helpers/cli.js'
import {scriptTool} from '../../helpers/deploy-state.js'

const SHA = 'a'.repeat(40)

/** The exact calls mldeploy makes, as the stand-in below knows them. */
const CALLS: Record<string, string> = {
  'rev-parse': 'rev-parse HEAD',
  status: 'status --porcelain --untracked-files=normal -- .',
  remote: 'remote get-url origin',
}

/**
 * A stand-in `git` (real git's odd answers are hard to provoke): prints per subcommand, exits as
 * told; it answers only the exact calls above, and only without prompts, pager or translations.
 */
function fakeGit(answers: Record<string, {out: string; exit?: number}>): Record<string, string> {
  const dir = tempDir('fakegit')
  const byCall = Object.fromEntries(Object.entries(answers).map(([name, answer]) => [CALLS[name], answer]))
  scriptTool(
    dir,
    'git',
    `const answers = ${JSON.stringify(byCall)}
const quiet = process.env.GIT_TERMINAL_PROMPT === '0' && process.env.GIT_PAGER === 'cat' && process.env.LC_ALL === 'C'
const answer = (quiet ? answers[process.argv.slice(2).join(' ')] : undefined) ?? {out: '', exit: 128}
process.stdout.write(answer.out)
process.exit(answer.exit ?? 0)`,
  )
  return {PATH: `${dir}:${path.dirname(process.execPath)}`, HOME: dir}
}

describe('git provenance: answers that are not what they should be', () => {
  it('the commit is the first non-blank line, trimmed; clean when status prints nothing', async () => {
    const env = fakeGit({'rev-parse': {out: `\n   \n  ${SHA}  \n`}, status: {out: ''}})
    expect(await gitRevision(tempDir('cwd'), env)).toEqual({sha: SHA, dirty: false})
  })

  it('anything but a whole hex commit is no commit', async () => {
    for (const out of [`x${SHA}\n`, `${SHA}x\n`, 'abc123\n', 'HEAD\n'])
      expect(await gitRevision(tempDir('cwd'), fakeGit({'rev-parse': {out}, status: {out: ''}})), out).toBe(
        undefined,
      )
  })

  it('changes in the folder make it dirty', async () => {
    const env = fakeGit({'rev-parse': {out: `${SHA}\n`}, status: {out: ' M service.py\n'}})
    expect(await gitRevision(tempDir('cwd'), env)).toEqual({sha: SHA, dirty: true})
  })

  it('no commit when rev-parse fails or prints nothing', async () => {
    for (const answer of [{out: '', exit: 128}, {out: ''}, {out: '\n  \n'}])
      expect(
        await gitRevision(tempDir('cwd'), fakeGit({'rev-parse': answer, status: {out: ''}})),
      ).toBeUndefined()
  })

  it('a status that cannot be read counts as dirty: never a clean-looking lie', async () => {
    const env = fakeGit({'rev-parse': {out: `${SHA}\n`}, status: {out: '', exit: 128}})
    expect(await gitRevision(tempDir('cwd'), env)).toEqual({sha: SHA, dirty: true})
  })

  it('no remote URL from an empty answer or a failed one', async () => {
    expect(await gitRemoteUrl(tempDir('cwd'), fakeGit({remote: {out: '\n'}}))).toBeUndefined()
    expect(await gitRemoteUrl(tempDir('cwd'), fakeGit({remote: {out: 'x', exit: 2}}))).toBeUndefined()
    expect(await gitRemoteUrl(tempDir('cwd'), fakeGit({remote: {out: ' git@h:t/p.git \n'}}))).toBe(
      'git@h:t/p.git',
    )
  })
})
