import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

import {EnvLayers} from '../../../src/config/env-layers.js'
import {loadEnvLayers} from '../../../src/config/target-layers.js'
import {flagsFor} from '../../../src/config/flags.js'
import {
  COMMAND_IDS,
  describeFlag,
  parseValue,
  readStage,
  settingRows,
  settingsOf,
  SETTINGS,
  SettingsReader,
} from '../../../src/config/settings.js'
import {renderSettings, withSettings} from '../../../scripts/readme-settings.js'
import {makeProject, REPO_ROOT, tempDir} from '../../helpers/cli.js'

describe('the settings table', () => {
  it('gives every flag an environment variable or a stated reason not to', () => {
    for (const [key, setting] of settingRows()) {
      const hasEnv = setting.env !== undefined && setting.env.length > 0
      expect(hasEnv || (setting.noEnv ?? '').length > 10, key).toBe(true)
      expect(hasEnv && setting.noEnv !== undefined, `${key}: env and noEnv both`).toBe(false)
    }
  })

  it('never uses one environment variable for two settings', () => {
    const seen = new Map<string, string>()
    for (const [key, setting] of settingRows()) {
      for (const name of setting.env ?? []) {
        expect(seen.get(name), `${name} in ${key} and ${seen.get(name)}`).toBeUndefined()
        seen.set(name, key)
      }
    }
  })

  it('has one row per flag name (and alias) in each command', () => {
    for (const command of COMMAND_IDS) {
      const names = settingsOf(command, true).flatMap(([, s]) => [s.flag, ...(s.aliases ?? [])])
      expect(new Set(names).size, command).toBe(names.length)
    }
  })

  it('parses every default value through its own validation', () => {
    for (const [key, setting] of settingRows()) {
      const value = setting.default?.value
      if (value === undefined) continue
      expect(() => parseValue(setting, {value, source: 'default'}), key).not.toThrow()
    }
    const target = {name: 'modelA/V1', model: 'modelA', version: 'V1'}
    const layers = new EnvLayers({MLFLOW_TRACKING_URI: 'https://[::1]:8443/x'}, [])
    for (const [key, setting] of settingRows()) {
      const derived = setting.default?.derive?.({target, layers})
      if (derived !== undefined) expect(() => parseValue(setting, derived), key).not.toThrow()
    }
  })

  it('describes every setting: help, label, commands, and a known help group', () => {
    for (const [key, setting] of settingRows()) {
      expect(setting.help, key).toMatch(/\.$/)
      expect(setting.commands.length, key).toBeGreaterThan(0)
      if (setting.kind === 'option') expect(setting.options?.length, key).toBeGreaterThan(1)
    }
  })

  it('builds each command its oclif flags, with env and default said once, never as oclif env', () => {
    const push = flagsFor('push')
    expect(Object.keys(push)).toEqual(
      expect.arrayContaining(['backend', 'repository', 'tag', 'timeout', 'all']),
    )
    expect(Object.keys(push)).not.toContain('verbose')
    expect(push.repository.aliases).toEqual(['ecr-name'])
    expect(push.backend.helpGroup).toBe('BUILD')
    expect(push.backend.options).toEqual(['podman', 'docker'])
    expect(push.tag.multiple).toBe(true)
    expect(push.concurrency.default).toBe(2)
    for (const flag of Object.values(push) as Array<{env?: string; description?: string}>) {
      expect(flag.env).toBeUndefined()
      const description = flag.description ?? ''
      expect(description.split('[env:').length).toBeLessThanOrEqual(2)
      expect(description.split('[default:').length).toBeLessThanOrEqual(2)
    }
    expect(push.backend.description).toBe('Container backend. [env: MLDEPLOY_BACKEND] [default: podman]')
    expect(push.tag.description).toContain('[env: MLDEPLOY_TAGS, comma-separated] [default: latest]')
    expect(push['create-repository'].description).toContain('[env: MLDEPLOY_CREATE_REPOSITORY=true]')
    // oclif prints --concurrency's default itself.
    expect(push.concurrency.description).not.toContain('[default:')
    // doctor's --timeout is its own row (seconds per check), not push's step=duration list.
    expect(flagsFor('doctor').timeout.multiple).toBeFalsy()
    expect(Object.keys(flagsFor('list')).sort()).toEqual(['root', 'stage'])
    expect(flagsFor('promote').from.required).toBe(true)
    expect(describeFlag(SETTINGS.repository, 'init')).toContain('Written to mldeploy.yaml as repository.')
  })
})

describe('resolution through the table: flag > environment > .env (target over root) > default', () => {
  const target = {name: 'modelA/V1', model: 'modelA', version: 'V1'}
  function reader(flags: object, processEnv: NodeJS.ProcessEnv, files: Record<string, string> = {}) {
    const root = makeProject(files)
    const layers = loadEnvLayers(processEnv, root, path.join(root, 'deploy/modelA/V1'))
    return new SettingsReader(flags, layers, {target})
  }
  const files = {
    '.env': 'MLDEPLOY_BACKEND=docker\nMLDEPLOY_VPN_TIMEOUT=7\nMLDEPLOY_TAGS=r1\nMLDEPLOY_GIT_SHA_TAG=yes\n',
    'deploy/modelA/V1/.env': 'MLDEPLOY_TAGS=t1, t2\nMLDEPLOY_IMAGE_TAG_MUTABILITY=immutable\n',
  }

  // kind, row, flag value, environment value (text → parsed), .env value and source, default
  it.each([
    ['option', SETTINGS.backend, 'podman', ['docker', 'docker'], 'docker', '.env MLDEPLOY_BACKEND', 'podman'],
    ['integer', SETTINGS.vpnTimeout, 9, ['5', 5], 7, '.env MLDEPLOY_VPN_TIMEOUT', 3],
    [
      'list',
      SETTINGS.tags,
      ['f'],
      ['e1, e2', ['e1', 'e2']],
      ['t1', 't2'],
      'deploy/modelA/V1/.env MLDEPLOY_TAGS',
      ['latest'],
    ],
    ['boolean', SETTINGS.gitShaTag, false, ['0', false], true, '.env MLDEPLOY_GIT_SHA_TAG', false],
  ] as const)(
    '%s: each layer wins over the next, with its source',
    (_kind, setting, flagValue, [envText, envValue], fileValue, fileSource, fallback) => {
      const name = setting.env[0]
      const flags = {[setting.flag]: flagValue}
      const env = {[name]: envText}
      expect(reader(flags, env, files).get(setting)).toEqual({
        value: flagValue,
        source: `flag --${setting.flag}`,
      })
      expect(reader({}, env, files).get(setting)).toEqual({value: envValue, source: `env ${name}`})
      expect(reader({}, {}, files).get(setting)).toEqual({value: fileValue, source: fileSource})
      expect(reader({}, {}).get(setting)).toEqual({value: fallback, source: 'default'})
    },
  )

  it('upper-cases option values that say so, derives target defaults, tries variables in order', () => {
    expect(reader({}, {}, files).get(SETTINGS.imageTagMutability)).toEqual({
      value: 'IMMUTABLE',
      source: 'deploy/modelA/V1/.env MLDEPLOY_IMAGE_TAG_MUTABILITY',
    })
    expect(reader({}, {}).get(SETTINGS.repository)).toEqual({
      value: 'modela/v1',
      source: 'derived from modelA/V1',
    })
    expect(
      reader({}, {AWS_DEFAULT_REGION: 'eu-west-1'}, {'.env': 'AWS_REGION=us-west-2\n'}).get(SETTINGS.region),
    ).toEqual({
      value: 'us-west-2',
      source: '.env AWS_REGION',
    })
    expect(
      reader({}, {}, {'.env': 'MLFLOW_TRACKING_URI=https://mlflow.vpn\n'}).get(SETTINGS.vpnCheck),
    ).toEqual({
      // The URI itself: the check asks MLflow's API.
      value: {host: 'mlflow.vpn', port: 443, mlflow: 'https://mlflow.vpn'},
      source: '.env MLFLOW_TRACKING_URI',
    })
    expect(reader({}, {}).get(SETTINGS.profile)).toBeUndefined()
  })

  it.each([
    [
      SETTINGS.vpnTimeout,
      {MLDEPLOY_VPN_TIMEOUT: 'soon'},
      /VPN check timeout "soon" \(from env MLDEPLOY_VPN_TIMEOUT\) is not a whole number/,
    ],
    [SETTINGS.vpnTimeout, {MLDEPLOY_VPN_TIMEOUT: '500'}, /is out of range/],
    [
      SETTINGS.gitShaTag,
      {MLDEPLOY_GIT_SHA_TAG: 'ture'},
      /"ture" \(from env MLDEPLOY_GIT_SHA_TAG\) is neither true nor false/,
    ],
    [
      SETTINGS.backend,
      {MLDEPLOY_BACKEND: 'Docker'},
      /Unknown backend "Docker" \(from env MLDEPLOY_BACKEND\)/,
    ],
    [
      SETTINGS.imageTagMutability,
      {MLDEPLOY_IMAGE_TAG_MUTABILITY: 'sometimes'},
      /Unknown image tag mutability/,
    ],
    [SETTINGS.timeouts, {MLDEPLOY_TIMEOUTS: 'build=forever'}, /"forever" is not a duration/],
  ] as const)('refuses a bad environment value, naming where it came from: %#', (setting, env, message) => {
    expect(() => reader({}, env).get(setting)).toThrow(message)
  })

  it('refuses an empty flag, and reads the stage from the flag or the process environment only', () => {
    expect(() => reader({repository: ' '}, {}).get(SETTINGS.repository)).toThrow(/--repository is empty/)
    expect(readStage({}, {MLDEPLOY_STAGE: 'production'})).toEqual({
      value: 'production',
      source: 'env MLDEPLOY_STAGE',
    })
    expect(readStage({stage: 'dev'}, {MLDEPLOY_STAGE: 'production'})).toEqual({
      value: 'dev',
      source: 'flag --stage',
    })
    expect(() => readStage({}, {MLDEPLOY_STAGE: '../x'})).toThrow(
      /Stage \(from env MLDEPLOY_STAGE\) "..\/x" is not a stage name/,
    )
    expect(readStage({}, {})).toBeUndefined()
  })
})

describe('the README flag tables', () => {
  it('are generated: the README holds exactly what the table renders', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')
    expect(withSettings(readme)).toBe(readme)
    expect(renderSettings()).toContain('| `--repository`, `--ecr-name` | `MLDEPLOY_REPOSITORY` |')
  })

  // Runs the script as a child process: under mutation testing it would load instrumented sources
  // it cannot run (and a child cannot kill a mutant anyway), so scripts/mutation.sh skips it.
  it.skipIf(process.env.MLDEPLOY_MUTATION === '1')(
    'readme:check fails on a stale README and says to run npm run readme; readme fixes it',
    async () => {
      const file = path.join(tempDir('readme'), 'README.md')
      writeFileSync(file, '# x\n\n<!-- settings:start -->\n| old table |\n<!-- settings:end -->\n')
      const script = path.join(REPO_ROOT, 'scripts/readme-settings.ts')
      const tsx = path.join(REPO_ROOT, 'node_modules/.bin/tsx')
      // tsx keeps a compile cache in the temp folder: give it one this test removes.
      const options = {reject: false, env: {TMPDIR: tempDir('tsx')}} as const
      const stale = await execa(tsx, [script, '--check', file], options)
      expect(stale.exitCode).toBe(1)
      expect(stale.stderr).toContain('Run: npm run readme')
      expect((await execa(tsx, [script, file], options)).exitCode).toBe(0)
      expect(readFileSync(file, 'utf8')).toContain('#### `mldeploy promote`')
      expect((await execa(tsx, [script, '--check', file], options)).exitCode).toBe(0)
    },
  )
})
