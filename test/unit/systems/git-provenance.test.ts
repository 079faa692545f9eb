import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {gitRemoteUrl, gitRevision} from '../../../src/systems/git-provenance.js'
import {tempDir} from '../../helpers/cli.js'
import {scriptTool} from '../../helpers/deploy-state.js'

const SHA = 'a'.repeat(40)

/** A stand-in `git` (real git's odd answers are hard to provoke): prints per subcommand, exits as told. */
function fakeGit(answers: Record<string, {out: string; exit?: number}>): Record<string, string> {
  const dir = tempDir('fakegit')
  scriptTool(
    dir,
    'git',
    `const answers = ${JSON.stringify(answers)}
const answer = answers[process.argv[2]] ?? {out: '', exit: 128}
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
