import {execFileSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {ChildError, CheckError} from '../../../src/errors.js'
import type {ChildResult} from '../../../src/process.js'
import {checkChild, childFailure, lastMeaningfulLine} from '../../../src/systems/child.js'
import {headCommit} from '../../../src/systems/git.js'
import {tempDir} from '../../helpers/cli.js'

const result = (over: Partial<ChildResult>): ChildResult => ({
  exitCode: 0,
  timedOut: false,
  canceled: false,
  tail: [],
  durationMs: 1,
  ...over,
})

const context = {command: 'bentoml', doing: 'Building the bento', step: 'build', timeoutMs: 30 * 60_000}

describe('childFailure', () => {
  it('is undefined for exit 0', () => {
    expect(childFailure(result({}), context)).toBeUndefined()
    expect(checkChild(result({tail: ['ok']}), context).tail).toEqual(['ok'])
  })

  it('names a missing executable and how to fix it', () => {
    const error = childFailure(result({exitCode: undefined, spawnErrorCode: 'ENOENT'}), context)
    expect(error).toBeInstanceOf(ChildError)
    expect(error).toMatchObject({
      reason: 'missing',
      message: 'Building the bento failed: bentoml was not found.',
      hint: 'Install it or put it on PATH (current PATH has no bentoml).',
    })
    const denied = childFailure(result({exitCode: undefined, spawnErrorCode: 'EACCES'}), context)
    expect(denied).toMatchObject({reason: 'missing', message: /could not be started \(EACCES\)/})
    expect(denied?.message).toBe('Building the bento failed: bentoml could not be started (EACCES).')
    expect(denied?.hint).toBe('Check that bentoml is an executable file.')
  })

  it('a timeout without a known limit or step says so, with no flag to raise', () => {
    const error = childFailure(result({exitCode: undefined, timedOut: true}), {
      command: 'git',
      doing: 'Reading the commit',
    })
    expect(error?.message).toBe('Reading the commit did not finish within its time limit and was stopped.')
    expect(error?.hint).toBeUndefined()
  })

  it('says the limit and the flag for a timeout, with the tail as detail', () => {
    const error = childFailure(
      result({exitCode: undefined, signal: 'SIGTERM', timedOut: true, tail: ['a', 'b']}),
      context,
    )
    expect(error).toMatchObject({
      reason: 'timeout',
      message: 'Building the bento did not finish within 30m and was stopped.',
      hint: 'If it needs longer, raise the limit: --timeout build=<duration>.',
      detail: 'a\nb',
    })
  })

  it('reports an interrupt, a signal and an exit code with the last meaningful line', () => {
    expect(
      childFailure(result({exitCode: undefined, canceled: true, signal: 'SIGTERM'}), context),
    ).toMatchObject({
      reason: 'canceled',
      message: 'Building the bento was interrupted.',
    })
    expect(
      childFailure(result({exitCode: undefined, signal: 'SIGKILL', tail: ['x']}), context),
    ).toMatchObject({
      reason: 'signal',
      signal: 'SIGKILL',
      message: 'Building the bento failed (signal SIGKILL): x',
    })
    const tail = [...Array.from({length: 20}, (_, i) => `line ${i}`), 'ValueError: bad', '  ']
    const error = childFailure(result({exitCode: 1, tail}), context)
    expect(error).toMatchObject({
      reason: 'exit',
      exitCode: 1,
      message: 'Building the bento failed (exit code 1): ValueError: bad',
    })
    expect(error?.detail?.split('\n')).toHaveLength(12)
    expect(childFailure(result({exitCode: 2}), context)?.message).toBe(
      'Building the bento failed (exit code 2): no output',
    )
    expect(() => checkChild(result({exitCode: 3}), context)).toThrow(ChildError)
  })
})

describe('lastMeaningfulLine', () => {
  it('the last line with text, trimmed; a line of 300 characters whole, a longer one cut to 300', () => {
    expect(lastMeaningfulLine(['first', '  last  ', '', '   '])).toBe('last')
    expect(lastMeaningfulLine(['only'])).toBe('only')
    expect(lastMeaningfulLine([])).toBe('no output')
    expect(lastMeaningfulLine(['y'.repeat(300)])).toBe('y'.repeat(300))
    expect(lastMeaningfulLine(['z'.repeat(301)])).toBe(`${'z'.repeat(297)}...`)
  })
})

describe('headCommit', () => {
  const env = {PATH: process.env.PATH ?? '', HOME: tmpdir(), GIT_CONFIG_NOSYSTEM: '1'}

  it('gives the 12-character commit of a checkout', async () => {
    const root = tempDir('git')
    const git = (...args: string[]): string =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {cwd: root, env}).toString()
    git('init', '-q')
    writeFileSync(path.join(root, 'f'), 'x')
    git('add', 'f')
    git('commit', '-qm', 'one')
    expect(await headCommit(root, env)).toBe(git('rev-parse', '--short=12', 'HEAD').trim())
  })

  it('throws a CheckError outside a checkout and a ChildError without git', async () => {
    const root = tempDir('git')
    await expect(headCommit(root, {...env, GIT_CEILING_DIRECTORIES: path.dirname(root)})).rejects.toThrow(
      CheckError,
    )
    await expect(headCommit(root, {PATH: '/nonexistent'})).rejects.toMatchObject({
      reason: 'missing',
      message: 'Reading the commit with git failed: git was not found.',
    })
  })
})
