import {AWS_VARIABLES} from '../systems/aws/settings.js'
import {closest} from '../suggest.js'
import type {EnvFile} from './env-layers.js'
import {settingRows} from './settings.js'

/** Every MLDEPLOY_* name the settings table reads. */
function mldeployNames(): string[] {
  return settingRows().flatMap(([, setting]) =>
    (setting.env ?? []).filter((name) => name.startsWith('MLDEPLOY_')),
  )
}

/**
 * Warnings for `.env` keys that look meant for mldeploy but are not read: an unknown MLDEPLOY_*
 * key always (with the closest known one), an AWS_* key only when it is close to one mldeploy or
 * the SDK reads — the SDK and the children (boto3, MLflow) read many more AWS_* names, which must
 * not be flagged. Suggest only: nothing is renamed.
 */
export function envKeyWarnings(files: readonly Pick<EnvFile, 'shown' | 'values'>[]): string[] {
  const mldeploy = mldeployNames()
  const aws = [
    ...AWS_VARIABLES,
    ...settingRows().flatMap(([, s]) => (s.env ?? []).filter((n) => n.startsWith('AWS_'))),
  ]
  const warnings: string[] = []
  for (const file of files) {
    for (const key of Object.keys(file.values)) {
      if (key === 'MLDEPLOY_STAGE') {
        warnings.push(
          `${file.shown}: MLDEPLOY_STAGE is not read from .env files (the stage chooses them); use --stage or the environment.`,
        )
        continue
      }
      if (key.startsWith('MLDEPLOY_') && !mldeploy.includes(key)) {
        const suggestion = closest(key, mldeploy)
        warnings.push(
          `${file.shown}: unknown setting ${key}${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}, ignored.`,
        )
        continue
      }
      if (key.startsWith('AWS_') && !aws.includes(key) && !key.startsWith('AWS_ENDPOINT_URL_')) {
        const suggestion = closest(key, aws)
        if (suggestion !== undefined)
          warnings.push(`${file.shown}: unknown AWS variable ${key}; did you mean ${suggestion}?`)
      }
    }
  }
  return warnings
}
