import {describe, expect, it} from 'vitest'

import {flagsFor} from '../../../src/config/flags.js'
import {describeFlag, SETTINGS} from '../../../src/config/settings.js'

/** The parts of an oclif flag definition the table decides. */
type FlagDefinition = {
  type: string
  description?: string
  aliases?: string[]
  char?: string
  helpGroup?: string
  required?: boolean
  default?: unknown
  allowNo?: boolean
  min?: number
  max?: number
  multiple?: boolean
  options?: string[]
  env?: string
}

const flagsOf = (command: Parameters<typeof flagsFor>[0]) =>
  flagsFor(command) as unknown as Record<string, FlagDefinition>

describe('oclif flags from the settings table', () => {
  it('one flag per row of the command, with the described help and its group', () => {
    const push = flagsOf('push')
    expect(push.repository).toMatchObject({
      type: 'option',
      description: describeFlag(SETTINGS.repository, 'push'),
      aliases: ['ecr-name'],
    })
    expect(push.tag).toMatchObject({type: 'option', multiple: true})
    expect(push.backend).toMatchObject({type: 'option', options: ['podman', 'docker']})
    expect(push['vpn-timeout']).toMatchObject({type: 'option', min: 1, max: 120, helpGroup: 'ADVANCED'})
    expect(push['scan-on-push']).toMatchObject({type: 'boolean', allowNo: true})
    expect(push['dry-run']).toMatchObject({type: 'boolean', default: false})
    // Never oclif's env: the table's own reader decides (and reports) where a value came from.
    for (const flag of Object.values(push)) expect(flag.env).toBeUndefined()
  })

  it('only the rows of that command', () => {
    expect(Object.keys(flagsOf('push'))).toContain('keep-login')
    expect(Object.keys(flagsOf('doctor'))).not.toContain('keep-login')
    expect(flagsOf('doctor').timeout).toMatchObject({type: 'option', min: 1, max: 600})
    expect(flagsOf('push').timeout).toMatchObject({type: 'option', multiple: true})
  })

  it('required rows are required flags', () => {
    expect(flagsOf('promote').from).toMatchObject({required: true})
    expect(flagsOf('promote').to).toMatchObject({required: true, multiple: true})
    expect(flagsOf('init').from?.required).toBeUndefined()
  })

  it('a flag without a char, aliases or group has none', () => {
    const flag = flagsOf('push')['keep-login']!
    expect(flag.char).toBeUndefined()
    expect(flag.required).toBeUndefined()
  })
})
