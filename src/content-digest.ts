import {createReadStream} from 'node:fs'
import {lstat, readdir, readFile, readlink} from 'node:fs/promises'
import path from 'node:path'

import {sha256, sha256Hex} from './sha256.js'

/**
 * The content digest of an image before it is built: every file the bento holds and every file of
 * the models it packs, with what changes on every `bentoml build` / model import taken out (the
 * generated versions, creation times, paths containing them), plus every setting that changes the
 * image. Same code, weights and settings → same digest, whatever the bento and model versions are.
 * See the README's "Reusing images" for the list and the reasons.
 */

/** Bumped when what is hashed changes, so an old digest never names a differently made image. */
export const CONTENT_DIGEST_SCHEME = 'mldeploy-content-digest/1'
/** The label every pushed image carries, and the tag prefix (`content-<12 hex>`). */
export const CONTENT_LABEL = 'io.mldeploy.content-digest'
export const CONTENT_TAG_PREFIX = 'content-'

/** Settings that change the image although no file of the bento changes. */
export interface ImageSettingsInput {
  backend: string
  /** `--platform`, undefined: the backend's. */
  platform: string | undefined
  imageFormat: string
  /** The bentoml that will containerize (the preflight's probe); the Dockerfile template is its. */
  bentomlVersion: string | undefined
  /** Build options that reach the backend's build (DOCKER_BUILDKIT, extra `--opt`s). */
  buildOptions: Record<string, string>
  /** Issue 24: the SageMaker adapter layer (its source's sha256 and the API asked for, '' for the only one); undefined: none. */
  sagemakerAdapter?: {sha: string; api: string}
}

/** A model the bento packs: its tag and its folder in the BentoML model store. */
export interface ModelInput {
  tag: string
  dir: string
}

export interface ContentInputs {
  bentoTag: string
  bentoDir: string
  models: readonly ModelInput[]
  settings: ImageSettingsInput
}

export interface ContentDigest {
  /** `sha256:<64 hex>` */
  digest: string
  /** `content-<12 hex>` */
  tag: string
  files: number
  bytes: number
}

/** One line per hashed thing, in a fixed order: what the digest is the sha256 of. */
export interface DigestEntry {
  /** `bento/src/service.py`, `model/iris-classifier/custom_objects.pkl`, `setting/backend` */
  name: string
  /** sha256 hex of the (normalised) content, or the setting's value. */
  value: string
}

const VERSION_PLACEHOLDER = '<version>'

function versionOf(tag: string): string {
  return tag.slice(tag.indexOf(':') + 1)
}

function nameOf(tag: string): string {
  const colon = tag.indexOf(':')
  return colon === -1 ? tag : tag.slice(0, colon)
}

/**
 * bento.yaml without what every build changes: its version and creation time, the packed models'
 * versions and creation times (their content is hashed from the model store instead).
 */
export function normalizeBentoYaml(text: string, versions: readonly string[] = []): string {
  const lines = text.split(/\r?\n/).filter((line) => !/^\s*(?:-\s+)?creation_time:/.test(line))
  const kept = lines
    .filter((line) => !/^version:/.test(line))
    // `- tag: iris-classifier:6pxa…` → `- tag: iris-classifier`: a model by name; its files decide.
    .map((line) => line.replace(/^(\s*(?:-\s+)?tag:\s*['"]?)([^'":\s]+):[^'"\s]+(['"]?\s*)$/, '$1$2$3'))
  return replaceVersions(kept.join('\n'), versions)
}

/** model.yaml without its generated version and creation time (a re-import of the same model). */
export function normalizeModelYaml(text: string, versions: readonly string[] = []): string {
  const kept = text
    .split(/\r?\n/)
    .filter((line) => !/^(?:version|creation_time):/.test(line))
    .join('\n')
  return replaceVersions(kept, versions)
}

/** Generated versions anywhere in a path (older bentos keep models under `models/<name>/<version>/`). */
export function normalizePath(relative: string, versions: readonly string[]): string {
  return relative
    .split(path.sep)
    .map((part) => (versions.includes(part) ? VERSION_PLACEHOLDER : part))
    .join('/')
}

function replaceVersions(text: string, versions: readonly string[]): string {
  let out = text
  // Longest first, and only whole words: a short version must not eat part of another.
  for (const version of [...versions].sort((a, b) => b.length - a.length)) {
    if (version.length < 6) continue
    out = out.replace(
      new RegExp(`\\b${version.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'g'),
      VERSION_PLACEHOLDER,
    )
  }
  return out
}

/** The settings as entries, sorted, unset ones included as empty (adding --platform changes it). */
export function settingEntries(settings: ImageSettingsInput): DigestEntry[] {
  const entries: DigestEntry[] = [
    {name: 'setting/backend', value: settings.backend},
    {name: 'setting/platform', value: settings.platform ?? ''},
    {name: 'setting/image-format', value: settings.imageFormat},
    {name: 'setting/bentoml-version', value: settings.bentomlVersion ?? ''},
    ...Object.entries(settings.buildOptions).map(([key, value]) => ({name: `setting/build/${key}`, value})),
    // Only with the adapter: an image without it keeps the digest it had before issue 24.
    ...(settings.sagemakerAdapter === undefined
      ? []
      : [
          {name: 'setting/sagemaker-adapter', value: settings.sagemakerAdapter.sha},
          {name: 'setting/sagemaker-api', value: settings.sagemakerAdapter.api},
        ]),
  ]
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** The digest of a list of entries (the pure core: the unit tests feed it directly too). */
export function digestOfEntries(entries: readonly DigestEntry[]): string {
  const hash = sha256()
  hash.update(`${CONTENT_DIGEST_SCHEME}\n`)
  for (const entry of entries) hash.update(`${JSON.stringify(entry.name)} ${JSON.stringify(entry.value)}\n`)
  return `sha256:${hash.digest('hex')}`
}

export function contentTag(digest: string): string {
  return `${CONTENT_TAG_PREFIX}${digest.replace(/^sha256:/, '').slice(0, 12)}`
}

async function hashFile(file: string): Promise<string> {
  const hash = sha256()
  // Streamed: model weights may be gigabytes.
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Every regular file and symlink under `dir`, relative, sorted (a stable order on every machine). */
async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  const entries = await readdir(path.join(dir, prefix), {withFileTypes: true})
  for (const entry of entries) {
    const relative = path.join(prefix, entry.name)
    if (entry.isDirectory()) out.push(...(await walk(dir, relative)))
    else if (entry.isFile() || entry.isSymbolicLink()) out.push(relative)
  }
  return out.sort()
}

async function folderEntries(
  dir: string,
  scope: string,
  versions: readonly string[],
  kind: 'bento' | 'model',
): Promise<{entries: DigestEntry[]; bytes: number}> {
  const entries: DigestEntry[] = []
  let bytes = 0
  for (const relative of await walk(dir)) {
    const file = path.join(dir, relative)
    const name = `${scope}/${normalizePath(relative, versions)}`
    const stats = await lstat(file)
    if (stats.isSymbolicLink()) {
      entries.push({name, value: `symlink:${await readlink(file)}`})
      continue
    }
    bytes += stats.size
    const base = path.basename(relative)
    if (kind === 'bento' && base === 'bento.yaml') {
      entries.push({name, value: sha256Hex(normalizeBentoYaml(await readFile(file, 'utf8'), versions))})
    } else if (base === 'model.yaml') {
      entries.push({name, value: sha256Hex(normalizeModelYaml(await readFile(file, 'utf8'), versions))})
    } else {
      entries.push({name, value: await hashFile(file)})
    }
  }
  return {entries, bytes}
}

/** Read the bento's and its models' folders and hash them with the settings. */
export async function computeContentDigest(inputs: ContentInputs): Promise<ContentDigest> {
  const versions = [versionOf(inputs.bentoTag), ...inputs.models.map((model) => versionOf(model.tag))]
  const bento = await folderEntries(inputs.bentoDir, 'bento', versions, 'bento')
  const entries = [...bento.entries]
  let bytes = bento.bytes
  // Models by name (their versions are generated), in name order.
  const models = [...inputs.models].sort((a, b) => (nameOf(a.tag) < nameOf(b.tag) ? -1 : 1))
  for (const model of models) {
    const found = await folderEntries(model.dir, `model/${nameOf(model.tag)}`, versions, 'model')
    entries.push(...found.entries)
    bytes += found.bytes
  }
  const files = entries.length
  entries.push(...settingEntries(inputs.settings))
  const digest = digestOfEntries(entries)
  return {digest, tag: contentTag(digest), files, bytes}
}

/** The model tags a bento.yaml names (1.4: per service; older: top-level `models:`). */
export function modelTagsOfBentoYaml(text: string): string[] {
  const tags = new Set<string>()
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:-\s+)?tag:\s*['"]?([^'"\s]+:[^'"\s]+)['"]?\s*$/.exec(line)
    if (match?.[1] !== undefined) tags.add(match[1])
  }
  return [...tags]
}
