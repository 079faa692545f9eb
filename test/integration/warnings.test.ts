import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {runCli, standInProject, tempDir} from '../helpers/cli.js'
import {resetMoto} from '../helpers/moto.js'

// Warnings raised while a push runs reach every output once (issue 22 §5): the text lines, the
// --json result and the GitHub job summary; the task list's view is in tty.test.ts.
const motoUrl = inject('motoUrl')

beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
})

const count = (text: string, part: string): number => text.split(part).length - 1

/** A push whose `bentoml get` fails (no content digest), with a mistyped key in the target's .env. */
async function pushWithoutDigest(...args: string[]) {
  const s = standInProject(
    motoUrl,
    {FAKE_FAIL: 'get'},
    {'deploy/modelA/V1/.env': 'MLDEPLOY_BACKNED=docker\n'},
  )
  const summary = path.join(tempDir('summary'), 'summary.md')
  writeFileSync(summary, '')
  const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--skip-disk-check', ...args], {
    cwd: s.root,
    env: {...s.env, GITHUB_STEP_SUMMARY: summary},
  })
  return {...result, summary: readFileSync(summary, 'utf8')}
}

describe('warnings while a push runs', () => {
  it('text: each warning once on stderr, the one raised before the run too; the reuse step says why it was skipped', async () => {
    const result = await pushWithoutDigest()
    expect(result.exitCode, result.stderr).toBe(0)
    expect(count(result.stderr, 'Warning: No content digest: ')).toBe(1)
    expect(count(result.stderr, 'unknown setting MLDEPLOY_BACKNED')).toBe(1)
    expect(result.stderr).toMatch(
      /↓ Look for an image with the same content \[skipped: no content digest: .+\] \(\d+\.\d s\)/,
    )
    // Not `✔` for a step whose work could not be done.
    expect(result.stderr).not.toMatch(/✔ Look for an image with the same content/)
  })

  it('--json: the warnings on stderr once and in the result; the step record keeps status and reason', async () => {
    const result = await pushWithoutDigest('--json')
    expect(result.exitCode, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout) as {
      warnings: string[]
      steps: Array<{id: string; status: string; reason?: string}>
    }
    expect(json.warnings.filter((warning) => warning.startsWith('No content digest: '))).toHaveLength(1)
    expect(count(result.stderr, 'Warning: No content digest: ')).toBe(1)
    expect(count(result.stderr, 'unknown setting MLDEPLOY_BACKNED')).toBe(1)
    const reuse = json.steps.find((step) => step.id === 'reuse')!
    expect(reuse.status).toBe('skipped')
    expect(reuse.reason).toMatch(/^no content digest: /)
    // The steps that did their work are still `done`, without a reason.
    const build = json.steps.find((step) => step.id === 'build')!
    expect(build).toMatchObject({status: 'done'})
    expect(build.reason).toBeUndefined()
  })

  it('the job summary lists the warnings of the target', async () => {
    const result = await pushWithoutDigest()
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.summary).toContain('Warnings:')
    expect(count(result.summary, '- ⚠️ No content digest: ')).toBe(1)
    expect(result.summary).toContain('unknown setting MLDEPLOY_BACKNED')
    expect(result.summary).toMatch(/reuse skipped/)
  })
})

describe('a setting the environment and the target disagree on (issue 22 §3)', () => {
  // The fake podman pushes into moto's region of the process environment, so the real push here
  // keeps the region and lets MLDEPLOY_REPOSITORY override the committed repository; the region
  // over an ambient AWS_REGION is the dry run's case in rollout.test.ts, through the same warnings.
  it('is said in the text, --json and the job summary of a real push, with both values', async () => {
    const s = standInProject(motoUrl, {}, {'deploy/modelA/V1/mldeploy.yaml': 'repository: detector\n'})
    const summary = path.join(tempDir('summary'), 'summary.md')
    writeFileSync(summary, '')
    const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--skip-disk-check', '--json'], {
      cwd: s.root,
      env: {...s.env, MLDEPLOY_REPOSITORY: 'modela/v1', GITHUB_STEP_SUMMARY: summary},
    })
    expect(result.exitCode, result.stderr).toBe(0)
    const said =
      'modelA/V1: Repository modela/v1 (from env MLDEPLOY_REPOSITORY) overrides detector (from deploy/modelA/V1/mldeploy.yaml repository).'
    const json = JSON.parse(result.stdout) as {warnings: string[]; images: string[]}
    expect(json.images[0]).toContain('/modela/v1:')
    expect(json.warnings.filter((warning) => warning === said)).toHaveLength(1)
    expect(count(result.stderr, said)).toBe(1)
    expect(count(readFileSync(summary, 'utf8'), said)).toBe(1)
  })
})
