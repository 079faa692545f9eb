import path from 'node:path'

import {type EnvFile, EnvLayers, parseEnvFile} from './env-layers.js'
import {readSettingsFile, SETTINGS_FILE} from './settings-file.js'
import {isFile} from '../files.js'

/**
 * A target's layers: its own and the project root's `.env` files (a stage's first), then their
 * committed `mldeploy.yaml` files. Apart from `EnvLayers`, which the settings table reads, since
 * the settings file is read through that table.
 */
export function loadEnvLayers(
  processEnv: NodeJS.ProcessEnv,
  root: string,
  targetDir: string | undefined,
  stage?: string,
): EnvLayers {
  const dirs = targetDir === undefined ? [root] : [targetDir, root]
  const names = stage === undefined ? ['.env'] : [`.env.${stage}`, '.env']
  const candidates: string[] = []
  // A stage's files win over the plain ones; within a tier the target wins over the root.
  for (const name of names) for (const dir of dirs) candidates.push(path.join(dir, name))
  const shown = (file: string): string => path.relative(root, file) || file
  const files: EnvFile[] = []
  for (const file of candidates) {
    if (!isFile(file)) continue
    files.push({
      path: file,
      shown: shown(file),
      values: parseEnvFile(file),
      ...(file.endsWith(`.env.${stage}`) ? {stage} : {}),
    })
  }
  // The committed settings under the local .env files: a stage's values first, then the plain ones.
  const settings = dirs.map((dir) =>
    readSettingsFile(path.join(dir, SETTINGS_FILE), shown(path.join(dir, SETTINGS_FILE)), stage),
  )
  for (const staged of [true, false])
    for (const layers of settings)
      files.push(...layers.filter((layer) => (layer.stage !== undefined) === staged))
  return new EnvLayers(processEnv, files)
}
