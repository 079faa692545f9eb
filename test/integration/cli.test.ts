import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {baseEnv, REPO_ROOT, runCli, tempDir} from '../helpers/cli.js'

describe('the CLI itself', () => {
  it("--version answers in oclif's format (from a fast path that skips loading oclif)", async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {version: string}
    const result = await runCli(['--version'], {cwd: tempDir('cwd'), env: baseEnv()})
    expect(result.exitCode).toBe(0)
    expect(result.stdout.trim()).toBe(
      `mldeploy/${pkg.version} ${process.platform}-${process.arch} node-${process.version}`,
    )
  })

  it('push --help shows every flag with its environment variable and examples', async () => {
    const result = await runCli(['push', '--help'], {
      cwd: tempDir('cwd'),
      env: {...baseEnv(), COLUMNS: '200'},
    })
    expect(result.exitCode).toBe(0)
    for (const variable of [
      'MLDEPLOY_BACKEND',
      'MLDEPLOY_REPOSITORY',
      'MLDEPLOY_TAGS',
      'AWS_REGION',
      'MLDEPLOY_VPN_CHECK',
      'MLDEPLOY_REGISTRY',
    ]) {
      expect(result.stdout).toContain(variable)
    }
    expect(result.stdout).toContain('EXAMPLES')
    expect(result.stdout).toContain('mldeploy push modelA/V1 --dry-run')
  })
})
