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

describe('--json everywhere', () => {
  it.each([
    [['pushh'], 'Unknown command pushh. Did you mean push?'],
    [['psuh', 'modelA/V1'], 'Unknown command psuh. Did you mean push?'],
    [['promte', 'x'], 'Unknown command promte. Did you mean promote?'],
    [['nope'], 'Unknown command nope.'],
  ])('%j: exit 2, one line, a suggestion only when close; never run', async (args, message) => {
    const cwd = tempDir('cwd')
    const result = await runCli(args, {cwd, env: baseEnv()})
    expect(result.exitCode).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(`Error: ${message} See: mldeploy --help.`)

    const json = await runCli([...args, '--json'], {cwd, env: baseEnv()})
    expect(json.exitCode).toBe(2)
    expect(json.stderr).toBe('')
    expect(JSON.parse(json.stdout)).toEqual({
      status: 'failed',
      error: {
        kind: 'usage',
        exitCode: 2,
        message,
        hint: 'See: mldeploy --help.',
        reason: 'usage:unknown-command',
      },
    })
  })

  it('--version --json is one object', async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {version: string}
    for (const args of [
      ['--version', '--json'],
      ['--json', '--version'],
    ]) {
      const result = await runCli(args, {cwd: tempDir('cwd'), env: baseEnv()})
      expect(result.exitCode).toBe(0)
      expect(JSON.parse(result.stdout)).toEqual({version: pkg.version})
    }
  })

  it('--help stays human text whatever else is given', async () => {
    const result = await runCli(['push', '--help', '--json'], {cwd: tempDir('cwd'), env: baseEnv()})
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toMatch(/^USAGE$/m)
    expect(() => JSON.parse(result.stdout) as unknown).toThrow()
  })

  it.each(['push', 'promote', 'doctor', 'list', 'init'])(
    '%s --frobnicate --json: one usage object, exit 2',
    async (command) => {
      const result = await runCli([command, '--frobnicate', '--json'], {cwd: tempDir('cwd'), env: baseEnv()})
      expect(result.exitCode).toBe(2)
      expect(result.stderr).toBe('')
      expect(JSON.parse(result.stdout)).toEqual({
        status: 'failed',
        error: {kind: 'usage', exitCode: 2, message: 'Nonexistent flag: --frobnicate.'},
      })
    },
  )

  it.each([
    [['push', 'modelA/V1', '--dryrun'], 'Nonexistent flag: --dryrun. Did you mean --dry-run?'],
    [['push', 'modelA/V1', '--tags', 'x'], 'Nonexistent flag: --tags. Did you mean --tag?'],
    [['push', 'modelA/V1', '--ecr-nam=x'], 'Nonexistent flag: --ecr-nam=x. Did you mean --ecr-name?'],
    [['push', '--repositry', 'x'], 'Nonexistent flag: --repositry. Did you mean --repository?'],
    [['doctor', '--skip-vpn-chek'], 'Nonexistent flag: --skip-vpn-chek. Did you mean --skip-vpn-check?'],
    // Too far from any flag: no guess.
    [['doctor', '--skip-vpn'], 'Nonexistent flag: --skip-vpn.'],
    [['promote', 'modelA/V1', '--form', 'x'], 'Nonexistent flag: --form. Did you mean --from?'],
    [['list', '--jsno'], 'Nonexistent flag: --jsno. Did you mean --json?'],
    [['inspect', '--verbos'], 'Nonexistent flag: --verbos. Did you mean --verbose?'],
    [['init', 'modelA/V1', '--dryrun'], 'Nonexistent flag: --dryrun. Did you mean --dry-run?'],
    [['migrate', '--dryrun'], 'Nonexistent flag: --dryrun. Did you mean --dry-run?'],
    [
      ['push', '--dryrun', '--tags', 'x'],
      'Nonexistent flags: --dryrun (did you mean --dry-run?), --tags (did you mean --tag?).',
    ],
  ])('%j: a close flag is suggested, text and --json, exit 2', async (args, message) => {
    const cwd = tempDir('cwd')
    const command = args[0]!
    const result = await runCli(args, {cwd, env: baseEnv()})
    expect(result.exitCode).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(`Error: ${message} See: mldeploy ${command} --help.`)
    const json = await runCli([...args, '--json'], {cwd, env: baseEnv()})
    expect(json.exitCode).toBe(2)
    expect(JSON.parse(json.stdout).error).toMatchObject({kind: 'usage', exitCode: 2, message})
  })

  it("push's own check of targets (after --) suggests the flag too", async () => {
    const cwd = tempDir('cwd')
    const result = await runCli(['push', '--', '--dryrun'], {cwd, env: baseEnv()})
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toBe(
      'Error: Nonexistent flag: --dryrun. Did you mean --dry-run? See: mldeploy push --help.',
    )
  })
})

describe('help habits', () => {
  it('-h is --help; flags grouped; --json says what it is; doctor has no dry-run text', async () => {
    const root = tempDir('help')
    const push = await runCli(['push', '-h'], {cwd: root, env: baseEnv()})
    expect(push.exitCode).toBe(0)
    for (const group of ['AWS FLAGS', 'BUILD FLAGS', 'TAGS FLAGS', 'OUTPUT FLAGS', 'ADVANCED FLAGS'])
      expect(push.stdout).toContain(group)
    expect(push.stdout).not.toContain('GLOBAL FLAGS')
    expect(push.stdout.replace(/\s+/g, ' ')).toContain(
      '--json One JSON object on stdout; progress and warnings stay on stderr.',
    )
    const doctor = await runCli(['doctor', '-h'], {cwd: root, env: baseEnv()})
    expect(doctor.exitCode).toBe(0)
    expect(doctor.stdout).not.toMatch(/dry.run/i)
  })
})
