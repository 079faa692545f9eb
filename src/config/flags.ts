import {Flags} from '@oclif/core'
import type {BooleanFlag, OptionFlag} from '@oclif/core/interfaces'

import {type AnySetting, type CommandId, describeFlag, type Settings, settingsOf} from './settings.js'

/** The oclif flag type a row becomes, so `this.parse(Push)` types `flags` from the table. */
export type OclifFlagOf<S> = S extends {kind: 'boolean'}
  ? BooleanFlag<boolean>
  : S extends {kind: 'integer'}
    ? S extends {oclifDefault: true}
      ? OptionFlag<number>
      : OptionFlag<number | undefined>
    : S extends {kind: 'list'}
      ? S extends {required: true}
        ? OptionFlag<string[]>
        : OptionFlag<string[] | undefined>
      : S extends {required: true}
        ? OptionFlag<string>
        : OptionFlag<string | undefined>

type RowsOf<C extends CommandId> = {
  [K in keyof Settings]: Settings[K] extends {base: true}
    ? never
    : C extends Settings[K]['commands'][number]
      ? K
      : never
}[keyof Settings]

/** A command's flags, keyed by flag name. */
export type FlagsFor<C extends CommandId> = {
  [K in RowsOf<C> as Settings[K]['flag']]: OclifFlagOf<Settings[K]>
}

/** What oclif's parse gives for those flags (every one optional: callers may pass a subset). */
export type FlagValuesFor<C extends CommandId> = {
  [K in RowsOf<C> as Settings[K]['flag']]?: OclifFlagOf<Settings[K]> extends OptionFlag<infer T>
    ? Exclude<T, undefined>
    : boolean
}

/** The oclif flags of one command, generated from the settings table. */
export function flagsFor<C extends CommandId>(command: C): FlagsFor<C> {
  const flags: Record<string, unknown> = {}
  for (const [, setting] of settingsOf(command)) {
    if (flags[setting.flag] !== undefined)
      throw new Error(`Two rows give ${command} the flag --${setting.flag}.`)
    flags[setting.flag] = toOclif(setting, command)
  }
  return flags as FlagsFor<C>
}

function toOclif(setting: AnySetting, command: CommandId): unknown {
  const common = {
    description: describeFlag(setting, command),
    ...(setting.aliases === undefined ? {} : {aliases: [...setting.aliases]}),
    ...(setting.char === undefined ? {} : {char: setting.char}),
    ...(setting.group === undefined ? {} : {helpGroup: setting.group}),
    ...(setting.required === true ? {required: true} : {}),
  }
  // Never oclif's `env`: it would make an environment value look like a flag and skip the .env layers.
  const fallback = setting.oclifDefault === true ? {default: setting.default?.value} : {}
  switch (setting.kind) {
    case 'boolean':
      return Flags.boolean({
        ...common,
        ...fallback,
        ...(setting.allowNo === true ? {allowNo: true} : {}),
      } as Parameters<typeof Flags.boolean>[0])
    case 'integer':
      return Flags.integer({
        ...common,
        ...fallback,
        ...(setting.min === undefined ? {} : {min: setting.min}),
        ...(setting.max === undefined ? {} : {max: setting.max}),
      } as Parameters<typeof Flags.integer>[0])
    case 'list':
      return Flags.string({...common, multiple: true} as Parameters<typeof Flags.string>[0])
    case 'option':
      return Flags.string({...common, options: [...(setting.options ?? [])]})
    default:
      return Flags.string(common)
  }
}
