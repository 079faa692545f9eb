import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {CLI, REPO_ROOT, standInProject, tempDir} from '../helpers/cli.js'
import {resetMoto} from '../helpers/moto.js'

// Issue 14: once the result is printed, mldeploy ends. Nothing (a timer, a keep-alive socket of
// the AWS SDK's HTTP agent to moto) may hold the process after it: a probe loaded into the CLI
// lists what is still holding it a second after the result (test/fixtures/exit-probe.mjs).
const motoUrl = inject('motoUrl')
const PROBE = path.join(REPO_ROOT, 'test/fixtures/exit-probe.mjs')

/** What still held the process a second after its result: [] when it ended by itself. */
async function holders(control: boolean): Promise<string[]> {
  const s = standInProject(motoUrl)
  const file = path.join(tempDir('exit-probe'), 'holders.json')
  const result = await execa(
    process.execPath,
    ['--import', PROBE, CLI, 'push', 'modelA/V1', '--skip-vpn-check', '--skip-disk-check', '--json'],
    {
      cwd: s.root,
      env: {...s.env, EXIT_PROBE_FILE: file, EXIT_PROBE_CONTROL: control ? '1' : '0'},
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    },
  )
  expect(result.exitCode, String(result.stderr)).toBe(0)
  expect(JSON.parse(String(result.stdout)).status).toBe('pushed')
  if (!existsSync(file)) return []
  // Only what keeps an event loop alive counts; the process may still be closing files.
  return (JSON.parse(readFileSync(file, 'utf8')) as string[]).filter((kind) =>
    /Timeout|Immediate|TCP|TLS|Pipe|Interval/i.test(kind),
  )
}

beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
})

describe('exit', () => {
  it('a push ends as soon as its result is printed: no timer or socket holds the process', async () => {
    expect(await holders(false)).toEqual([])
  })

  it('the probe sees a timer that does hold the process (control)', async () => {
    expect(await holders(true)).toContain('Timeout')
  })
})
