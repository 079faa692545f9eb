import {describe, expect, it} from 'vitest'

import {EnvLayers} from '../../../src/config/env-layers.js'
import {
  type AnySetting,
  defaultText,
  describeFlag,
  envText,
  parseValue,
  readStage,
  SETTINGS,
  SettingsReader,
  settingsOf,
} from '../../../src/config/settings.js'

/** A made-up row of each kind, so the reader is tested apart from the real table. */
const row = (spec: Partial<AnySetting> & Pick<AnySetting, 'kind'>): AnySetting => ({
  flag: 'thing',
  env: ['MY_THING', 'OLD_THING'],
  help: 'A thing.',
  commands: ['push'],
  label: 'Thing',
  ...spec,
})

const reader = (flags: object, env: Record<string, string> = {}, processEnv?: Record<string, string>) =>
  new SettingsReader(flags, new EnvLayers(env, []), processEnv === undefined ? {} : {processEnv})

describe('SettingsReader', () => {
  it('flag over the first variable over the second over the default, each with its source', () => {
    const setting = row({kind: 'string', default: {describe: 'd', value: 'fallback'}})
    expect(reader({thing: 'f'}, {MY_THING: 'a', OLD_THING: 'b'}).get(setting)).toEqual({
      value: 'f',
      source: 'flag --thing',
    })
    expect(reader({}, {MY_THING: 'a', OLD_THING: 'b'}).get(setting)).toEqual({
      value: 'a',
      source: 'env MY_THING',
    })
    expect(reader({}, {OLD_THING: 'b'}).get(setting)).toEqual({value: 'b', source: 'env OLD_THING'})
    expect(reader({}).get(setting)).toEqual({value: 'fallback', source: 'default'})
    expect(reader({}).get(row({kind: 'string'}))).toBeUndefined()
    expect(() => reader({}).must(row({kind: 'string'}))).toThrow(
      'Setting --thing has no value and no default.',
    )
  })

  it('a derived default comes before the plain one, with its own source', () => {
    const setting = row({
      kind: 'string',
      default: {
        describe: 'd',
        value: 'plain',
        derive: ({layers}) => (layers?.get('X') ? {value: 'derived', source: 'from X'} : undefined),
      },
    })
    expect(reader({}, {X: '1'}).get(setting)).toEqual({value: 'derived', source: 'from X'})
    expect(reader({}).get(setting)).toEqual({value: 'plain', source: 'default'})
  })

  it('an empty flag is bad input; an empty list flag counts as not given', () => {
    expect(() => reader({thing: '  '}).get(row({kind: 'string'}))).toThrow('--thing is empty.')
    const list = row({kind: 'list', default: {describe: 'd', value: ['x']}})
    expect(reader({thing: []}).get(list)).toEqual({value: ['x'], source: 'default'})
    expect(reader({thing: ['a', 'b']}).get(list)).toEqual({value: ['a', 'b'], source: 'flag --thing'})
  })

  it('environment text takes the flag shape: lists split and trimmed, numbers, booleans', () => {
    expect(reader({}, {MY_THING: ' a , b,c'}).get(row({kind: 'list'}))?.value).toEqual(['a', 'b', 'c'])
    expect(reader({}, {MY_THING: ' 42 '}).get(row({kind: 'integer'}))?.value).toBe(42)
    for (const yes of ['1', 'true', 'YES', 'on'])
      expect(reader({}, {MY_THING: yes}).get(row({kind: 'boolean'}))?.value, yes).toBe(true)
    for (const no of ['0', 'False', 'no', 'OFF'])
      expect(reader({}, {MY_THING: no}).get(row({kind: 'boolean'}))?.value, no).toBe(false)
  })

  it('refuses environment text that is not a number or a boolean, naming label and source', () => {
    expect(() => reader({}, {MY_THING: '4x'}).get(row({kind: 'integer', min: 1, max: 9}))).toThrow(
      'Thing "4x" (from env MY_THING) is not a whole number.',
    )
    expect(() => reader({}, {MY_THING: '-4'}).get(row({kind: 'integer'}))).toThrow('is not a whole number')
    expect(() => reader({}, {MY_THING: 'maybe'}).get(row({kind: 'boolean'}))).toThrow(
      'Thing "maybe" (from env MY_THING) is neither true nor false.',
    )
  })

  it('a process-only setting ignores the .env files', () => {
    const setting = row({kind: 'string', envSource: 'process'})
    expect(reader({}, {MY_THING: 'from-env-file'}).get(setting)).toBeUndefined()
    expect(reader({}, {}, {MY_THING: 'p'}).get(setting)).toEqual({value: 'p', source: 'env MY_THING'})
    expect(reader({}, {}, {MY_THING: ''}).get(setting)).toBeUndefined()
  })
})

describe('parseValue', () => {
  it('options: listed values only, upper-cased when the row says so', () => {
    const option = row({
      kind: 'option',
      options: ['MUTABLE', 'IMMUTABLE'],
      upperCase: true,
      label: 'Tag mutability',
    })
    expect(parseValue(option, {value: 'immutable', source: 's'})).toBe('IMMUTABLE')
    expect(() => parseValue(option, {value: 'frozen', source: 'env X'})).toThrow(
      'Unknown tag mutability "frozen" (from env X).',
    )
    const exact = row({kind: 'option', options: ['a']})
    expect(() => parseValue(exact, {value: 'A', source: 's'})).toThrow('Unknown thing "A"')
  })

  it('integers: whole and within min..max', () => {
    const integer = row({kind: 'integer', min: 1, max: 120})
    expect(parseValue(integer, {value: 1, source: 's'})).toBe(1)
    expect(parseValue(integer, {value: 120, source: 's'})).toBe(120)
    for (const bad of [0, 121, 1.5])
      expect(() => parseValue(integer, {value: bad, source: 'flag --thing'}), String(bad)).toThrow(
        `Thing "${bad}" (from flag --thing) is out of range.`,
      )
    expect(parseValue(row({kind: 'integer'}), {value: 10_000, source: 's'})).toBe(10_000)
  })

  it("then the row's own parse, with the source", () => {
    const parsed = row({kind: 'string', parse: (raw: unknown, source: string) => `${String(raw)}@${source}`})
    expect(parseValue(parsed, {value: 'v', source: 'flag --thing'})).toBe('v@flag --thing')
  })
})

describe('readStage', () => {
  it('the flag, else the process environment (never a .env file)', () => {
    expect(readStage({stage: 'prod'}, {MLDEPLOY_STAGE: 'dev'})).toEqual({
      value: 'prod',
      source: 'flag --stage',
    })
    expect(readStage({}, {MLDEPLOY_STAGE: 'dev'})).toEqual({value: 'dev', source: 'env MLDEPLOY_STAGE'})
    expect(readStage({}, {MLDEPLOY_STAGE: ''})).toBeUndefined()
    expect(readStage({}, {})).toBeUndefined()
  })
})

describe('help text from the table', () => {
  it('names the variables by kind', () => {
    expect(envText(row({kind: 'string'}))).toBe('MY_THING, then OLD_THING')
    expect(envText(row({kind: 'boolean'}))).toBe('MY_THING, then OLD_THING=true')
    expect(envText(row({kind: 'list', env: ['L']}))).toBe('L, comma-separated')
    expect(envText(row({kind: 'string', env: []}))).toBeUndefined()
    expect(envText(row({kind: 'string', env: undefined}))).toBeUndefined()
  })

  it('shows a default unless it is a boolean that is off', () => {
    expect(defaultText(row({kind: 'boolean', default: {describe: 'off', value: false}}))).toBeUndefined()
    expect(defaultText(row({kind: 'boolean', default: {describe: 'on', value: true}}))).toBe('on')
    expect(defaultText(row({kind: 'string', default: {describe: 'the host'}}))).toBe('the host')
    expect(defaultText(row({kind: 'string'}))).toBeUndefined()
  })

  it('describes a flag: help, aliases, environment and default; init says where it is written', () => {
    const setting = row({
      kind: 'string',
      aliases: ['ecr-name', 'repo'],
      default: {describe: 'derived'},
      helpFor: {doctor: 'Doctor help.'},
    })
    expect(describeFlag(setting, 'push')).toBe(
      'A thing. [alias: --ecr-name, --repo] [env: MY_THING, then OLD_THING] [default: derived]',
    )
    expect(describeFlag(setting, 'doctor')).toMatch(/^Doctor help\. /)
    expect(describeFlag(setting, 'init')).toBe(
      'A thing. [alias: --ecr-name, --repo] Written to mldeploy.yaml as thing.',
    )
    // oclif prints the default of an option flag itself; a boolean's is ours to print.
    expect(
      describeFlag(row({kind: 'option', oclifDefault: true, default: {describe: 'x'}, env: []}), 'push'),
    ).toBe('A thing.')
    expect(
      describeFlag(
        row({kind: 'boolean', oclifDefault: true, default: {describe: 'on', value: true}, env: []}),
        'push',
      ),
    ).toBe('A thing. [default: on]')
  })

  it("a command's rows leave out the base command's own flags unless asked", () => {
    const push = settingsOf('push').map(([key]) => key)
    expect(push).toContain('repository')
    const withBase = settingsOf('push', true).map(([key]) => key)
    expect(withBase.length).toBeGreaterThan(push.length)
    expect(SETTINGS.repository.commands).toContain('push')
  })
})
