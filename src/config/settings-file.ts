import {isMap, isScalar, isSeq} from 'yaml'

import {usageError} from '../errors.js'
import {closest} from '../suggest.js'
import {parseCommittedYaml, readCommittedText} from './committed-yaml.js'
import type {EnvFile} from './env-layers.js'
import {type AnySetting, settingRows} from './settings.js'

/**
 * `mldeploy.yaml`: a target's (or the project's) settings, committed next to `bentofile.yaml` so
 * that every clone, CI's included, resolves the same repository, region and tags. Its keys are
 * the flag names of the settings table (`repository`, `region`, `tag`...), its values those
 * flags' values; a `stages:` map holds a stage's values over them. No secret has a key here:
 * credentials stay in `.env` (git-ignored) or the environment.
 *
 * Each key is read as the setting's environment variable, so the file is one more layer of
 * `EnvLayers` under the `.env` files, and its values reach children as `.env` values do (an
 * MLflow tracking URI reaches create_bento_model.py).
 */
export const SETTINGS_FILE = 'mldeploy.yaml'

/** A setting that a file may hold: one read from the environment and the `.env` files. */
function fileSettings(): Map<string, {setting: AnySetting; env: string}> {
  const byKey = new Map<string, {setting: AnySetting; env: string}>()
  for (const [, setting] of settingRows()) {
    if (setting.env === undefined || setting.envSource === 'process') continue
    const env = fileEnvName(setting)
    for (const key of [setting.flag, ...(setting.aliases ?? [])]) byKey.set(key, {setting, env})
  }
  return byKey
}

/** The variable a file's value is read as: the standard one where an explicit override exists. */
export function fileEnvName(setting: AnySetting): string {
  return setting.ambientEnv?.[0] ?? setting.env![0]!
}

/** The keys a settings file may hold, for messages and docs. */
export function settingsFileKeys(): string[] {
  return [...new Set([...fileSettings().values()].map(({setting}) => setting.flag))]
}

/**
 * The layers of one settings file: the stage's values first (when a stage is asked for and the
 * file has it), then the plain ones. Missing file: no layer. Anything that is not a known key
 * with a plain value is bad input naming the file, the line and the fix.
 */
export function readSettingsFile(file: string, shown: string, stage: string | undefined): EnvFile[] {
  const text = readCommittedText(file, shown)
  if (text === undefined) return []
  const {contents, lineOf} = parseCommittedYaml(
    text,
    shown,
    `${SETTINGS_FILE} holds "key: value" lines, see the README's Configuration`,
  )
  if (contents === null) return []
  if (!isMap(contents))
    throw usageError(
      `${shown} is not a map of settings.`,
      `Write one "key: value" per line, e.g. "repository: detector".`,
    )
  const known = fileSettings()
  const plain: EnvFile = {path: file, shown, values: {}, keys: {}, committed: true}
  const layers: EnvFile[] = []
  for (const pair of contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : ''
    const line = lineOf(isScalar(pair.key) ? pair.key.range?.[0] : undefined)
    if (key === 'stages') {
      layers.push(...stageLayers(pair.value, file, shown, stage, known, lineOf))
      continue
    }
    addValue(plain, key, pair.value, `${shown}:${line}`, known)
  }
  return [...layers, plain]
}

function stageLayers(
  node: unknown,
  file: string,
  shown: string,
  stage: string | undefined,
  known: ReturnType<typeof fileSettings>,
  lineOf: (offset: number | undefined) => number,
): EnvFile[] {
  if (node === null || (isScalar(node) && node.value === null)) return []
  if (!isMap(node))
    throw usageError(
      `${shown}: stages is not a map of stage names.`,
      'Write e.g. "stages:\\n  production:\\n    region: eu-west-1".',
    )
  const layers: EnvFile[] = []
  for (const pair of node.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : ''
    const where = `${shown}:${lineOf(isScalar(pair.key) ? pair.key.range?.[0] : undefined)}`
    if (!isMap(pair.value))
      throw usageError(
        `${where}: stage ${JSON.stringify(name)} is not a map of settings.`,
        'Indent its settings under it.',
      )
    // Every stage is validated, the asked one is kept: a typo in another stage fails today, not on release day.
    const layer: EnvFile = {
      path: file,
      shown,
      values: {},
      keys: {},
      committed: true,
      stage: name,
    }
    for (const item of pair.value.items) {
      const key = isScalar(item.key) ? String(item.key.value) : ''
      addValue(
        layer,
        key,
        item.value,
        `${shown}:${lineOf(isScalar(item.key) ? item.key.range?.[0] : undefined)}`,
        known,
      )
    }
    if (name === stage) layers.push(layer)
  }
  return layers
}

function addValue(
  layer: EnvFile,
  key: string,
  node: unknown,
  where: string,
  known: ReturnType<typeof fileSettings>,
): void {
  const entry = known.get(key)
  if (entry === undefined) {
    const suggestion = closest(key, [...known.keys(), 'stages'])
    throw usageError(
      `${where}: unknown setting ${JSON.stringify(key.slice(0, 60))}${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}.`,
      `Use the flag names of mldeploy push --help (${SETTINGS_FILE} holds no secrets: those stay in .env).`,
    )
  }
  if (layer.keys![entry.env] !== undefined)
    throw usageError(`${where}: ${key} repeats ${layer.keys![entry.env]}.`, 'Keep one of them.')
  layer.values[entry.env] = textOf(node, entry.setting, key, where)
  layer.keys![entry.env] = key
}

/** A YAML value as the setting's variable would hold it: a list joined by commas, a boolean as true/false. */
function textOf(node: unknown, setting: AnySetting, key: string, where: string): string {
  const scalar = (item: unknown): string => {
    if (!isScalar(item) || item.value === null || typeof item.value === 'object')
      throw usageError(`${where}: ${key} needs a plain value.`, `Write e.g. "${key}: ${example(setting)}".`)
    return String(item.value)
  }
  if (isSeq(node)) {
    if (setting.kind !== 'list')
      throw usageError(
        `${where}: ${key} takes one value, not a list.`,
        `Write e.g. "${key}: ${example(setting)}".`,
      )
    return node.items.map((item) => scalar(item)).join(',')
  }
  return scalar(node)
}

function example(setting: AnySetting): string {
  if (setting.kind === 'boolean') return 'true'
  if (setting.kind === 'integer') return String(setting.default?.value ?? setting.min ?? 1)
  if (setting.kind === 'option') return setting.options?.[0] ?? 'value'
  return setting.dotenv?.example ?? 'value'
}
