import {usageError} from '../errors.js'
import {BENTO_VERSION} from '../systems/bentoml.js'

/** Default BentoML model name: `<model>-<version>` lowercased, so V1 and V2 never share `name:latest`. */
export function defaultBentoModel(model: string, version: string): string {
  return toBentoName(`${model}-${version}`)
}

export function toBentoName(text: string): string {
  const name = text
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .slice(0, 63)
    .replace(/[^a-z0-9]+$/, '')
  return name === '' ? 'model' : name
}

export function validateBentoModel(name: string, origin: string): string {
  if (!BENTO_VERSION.test(name)) {
    throw usageError(
      `${origin} ${JSON.stringify(name.slice(0, 80))} is not a BentoML model name.`,
      'Use up to 63 lowercase letters, digits, ".", "_" and "-", starting and ending with a letter or digit.',
    )
  }
  return name
}

/** `modelA` + `V1` → `ModelAV1`: a Python class name (the bento is named after it, lowercased). */
export function defaultServiceClass(model: string, version: string): string {
  const pascal = (text: string): string =>
    text
      .split(/[^A-Za-z0-9]+/)
      .filter(Boolean)
      .map((part) => part[0]!.toUpperCase() + part.slice(1))
      .join('')
  const name = `${pascal(model)}${pascal(version)}`
  return /^[A-Za-z]/.test(name) ? name : `Service${name}`
}

/**
 * Replace the old version inside a name, keeping the name's case style: `iris-v1` → `iris-v2`,
 * `IrisV1` → `IrisV2`, `EXAMPLEv1` → `EXAMPLEv2`. Undefined when the old version is not in it.
 */
export function swapVersion(name: string, oldVersion: string, newVersion: string): string | undefined {
  const escaped = oldVersion.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  // The version must not be glued to more digits (v1 in v10 is not the version).
  const pattern = new RegExp(`${escaped}(?![0-9])`, 'gi')
  const matches = [...name.matchAll(pattern)].filter((match) => !/[0-9]$/.test(name.slice(0, match.index)))
  const last = matches.at(-1)
  if (last === undefined) return undefined
  const found = last[0]
  const replacement =
    found === found.toLowerCase()
      ? newVersion.toLowerCase()
      : found === found.toUpperCase()
        ? newVersion.toUpperCase()
        : newVersion
  return name.slice(0, last.index) + replacement + name.slice(last.index + found.length)
}

const URI_SCHEME = /^[a-z][a-z0-9+.-]*:\S+$/

/** runs:/<run-id>/<path>, models:/<name>/<version|stage> or models:/<name>@<alias>, or another MLflow URI. */
export function validateModelUri(uri: string, origin: string): string {
  const bad = (hint: string) =>
    usageError(`${origin} ${JSON.stringify(uri.slice(0, 120))} is not an MLflow model URI.`, hint)
  if (!URI_SCHEME.test(uri) || /["'\\`]/.test(uri)) {
    throw bad('Use e.g. runs:/<run-id>/model or models:/<registered-name>/latest.')
  }
  if (uri.startsWith('runs:') && !/^runs:\/[^/]+\/.+$/.test(uri)) {
    throw bad('A run URI is runs:/<run-id>/<artifact path>, e.g. runs:/0a1b2c3d/model.')
  }
  if (uri.startsWith('models:') && !/^models:\/[^/@]+(?:\/[^/]+|@[^/]+)$/.test(uri)) {
    throw bad('A registry URI is models:/<name>/<version or stage> or models:/<name>@<alias>.')
  }
  return uri
}

/** `a, b ,c` → ['a', 'b', 'c']: CSV header names, also written into Python string literals. */
export function parseColumns(text: string): string[] {
  const columns = text.split(',').map((column) => column.trim())
  if (columns.some((column) => column === '')) {
    throw usageError(
      `--columns ${JSON.stringify(text)} has an empty column name.`,
      'Give names separated by commas.',
    )
  }
  const bad = columns.find((column) => /["'\\\r\n\t]/.test(column) || column.length > 200)
  if (bad !== undefined) {
    throw usageError(
      `--columns: ${JSON.stringify(bad.slice(0, 80))} is not a usable column name.`,
      'Use names without quotes, backslashes or line breaks.',
    )
  }
  const duplicate = columns.find((column, index) => columns.indexOf(column) !== index)
  if (duplicate !== undefined) throw usageError(`--columns names ${JSON.stringify(duplicate)} twice.`)
  return columns
}

export function validatePythonVersion(version: string): string {
  if (!/^3\.\d{1,2}$/.test(version)) {
    throw usageError(
      `--python-version ${JSON.stringify(version)} is not a Python 3 version.`,
      'Use e.g. 3.11.',
    )
  }
  return version
}

export function validateTrackingUri(uri: string, origin: string): string {
  if (!URI_SCHEME.test(uri) || /["'\\`]/.test(uri)) {
    throw usageError(
      `${origin} ${JSON.stringify(uri.slice(0, 120))} is not a tracking URI.`,
      'Use e.g. https://mlflow.internal.example.com.',
    )
  }
  return uri
}
