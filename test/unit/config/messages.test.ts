import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {EnvLayers, parseEnvFile} from '../../../src/config/env-layers.js'
import {
  type AnySetting,
  describeFlag,
  parseValue,
  readStage,
  SettingsReader,
} from '../../../src/config/settings.js'
import {parseDuration, resolveTimeouts} from '../../../src/config/timeouts.js'
import {tempDir} from '../../helpers/cli.js'

/** The message and hint of the usage error `attempt` throws. */
function refusal(attempt: () => unknown): {message: string; hint?: string} {
  try {
    attempt()
  } catch (error) {
    return {message: (error as Error).message, hint: (error as {hint?: string}).hint}
  }
  throw new Error('expected a refusal')
}

const envFile = (text: string): string => {
  const dir = tempDir('envmsg')
  mkdirSync(dir, {recursive: true})
  writeFileSync(path.join(dir, '.env'), text)
  return path.join(dir, '.env')
}

const row = (spec: Partial<AnySetting> & Pick<AnySetting, 'kind'>): AnySetting => ({
  flag: 'thing',
  env: ['MY_THING'],
  help: 'A thing.',
  commands: ['push'],
  label: 'Thing',
  ...spec,
})

describe('what a refusal tells the user to do', () => {
  it('.env files: the hints, a long line cut at 60 characters', () => {
    const bad = refusal(() => parseEnvFile(envFile(`${'x'.repeat(100)}\n`)))
    expect(bad.message).toContain(`"${'x'.repeat(60)}".`)
    expect(bad.hint).toBe('Fix or comment out that line (dotenv syntax: KEY=value).')
    expect(refusal(() => parseEnvFile(envFile('A="x\n'))).hint).toBe(
      'Close it (a multi-line value ends with " on a later line) or remove it.',
    )
    expect(refusal(() => parseEnvFile('/nonexistent/.env')).hint).toBe('Fix its permissions or remove it.')
  })

  it('.env files: a blank line of spaces is fine; a quote after spaces still has to close', () => {
    expect(parseEnvFile(envFile('A=1\n   \nB=2\n'))).toEqual({A: '1', B: '2'})
    expect(() => parseEnvFile(envFile('A=  "open\nB=2\n'))).toThrow('opens a " quote that never closes')
  })

  it('children get no variable the process has unset', () => {
    const env = new EnvLayers({A: undefined}, []).childEnv()
    expect('A' in env).toBe(false)
  })

  it('settings: the hints, long values cut', () => {
    const reader = (flags: object, env: Record<string, string> = {}) =>
      new SettingsReader(flags, new EnvLayers(env, []))
    expect(refusal(() => reader({thing: ' '}).get(row({kind: 'string'}))).hint).toBe(
      'Give it a value or leave it out.',
    )
    const number = refusal(() =>
      reader({}, {MY_THING: 'z'.repeat(50)}).get(row({kind: 'integer', min: 1, max: 9})),
    )
    expect(number.message).toBe(`Thing "${'z'.repeat(40)}" (from env MY_THING) is not a whole number.`)
    expect(number.hint).toBe('Use a whole number from 1 to 9.')
    expect(refusal(() => reader({}, {MY_THING: 'x'}).get(row({kind: 'integer'}))).hint).toBeUndefined()
    const bool = refusal(() => reader({}, {MY_THING: 'q'.repeat(50)}).get(row({kind: 'boolean'})))
    expect(bool.message).toBe(`Thing "${'q'.repeat(40)}" (from env MY_THING) is neither true nor false.`)
    expect(bool.hint).toBe('Use true or false (1/0, yes/no also work).')
    const option = refusal(() =>
      parseValue(row({kind: 'option', options: ['a', 'b']}), {value: 'w'.repeat(80), source: 's'}),
    )
    expect(option.message).toBe(`Unknown thing "${'w'.repeat(60)}" (from s).`)
    expect(option.hint).toBe('Use one of: a, b.')
    expect(
      refusal(() => parseValue(row({kind: 'integer', min: 1, max: 5}), {value: 9, source: 's'})).hint,
    ).toBe('Use a whole number from 1 to 5.')
  })

  it('a refused --stage names the flag', () => {
    expect(refusal(() => readStage({stage: 'no spaces allowed'}, {})).message).toBe(
      '--stage "no spaces allowed" is not a stage name.',
    )
  })

  it('a flag without a default says none', () => {
    expect(describeFlag(row({kind: 'string', env: []}), 'push')).toBe('A thing.')
  })

  it('durations: every refusal gives examples; a long item is cut at 60 characters', () => {
    for (const text of ['x', '0s', '2d', '0.5s', '25h']) {
      expect(refusal(() => parseDuration(text, 'T')).hint, text).toMatch(
        /^(Use e\.g\.|E\.g\.) 90s, 45m or 2h\.$/,
      )
    }
    expect(refusal(() => resolveTimeouts(['v'.repeat(80)], 'T')).message).toBe(
      `T: "${'v'.repeat(60)}" is not <step>=<duration>.`,
    )
  })
})
