import {existsSync} from 'node:fs'
import {statfs} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {CheckError} from '../errors.js'
import type {Backend} from './backend.js'
import {formatBytes} from '../bytes.js'

/**
 * Free disk space where the long steps write: BentoML's store (bentos, models) and the backend's
 * image storage. Shared by doctor (a pass/warn/fail line) and the push preflight (a hard check
 * against what this target needs).
 */
export const GIB = 1024 ** 3
/** What a push needs when no earlier image of the target says how big it gets. */
export const DEFAULT_DISK_NEED = 10 * GIB

export interface FreeSpace {
  /** The folder asked about. */
  dir: string
  /** Where it was measured: `dir`, or its nearest existing parent (the store may not exist yet). */
  measuredAt: string
  freeBytes: number
}

/** Free space for `dir` (its nearest existing folder). */
export async function freeSpace(dir: string): Promise<FreeSpace> {
  let existing = path.resolve(dir)
  while (!existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing)
  const stats = await statfs(existing)
  return {dir, measuredAt: existing, freeBytes: stats.bavail * stats.bsize}
}

/** BentoML's store: BENTOML_HOME, else ~/bentoml. */
export function bentomlStoreDir(env: Record<string, string | undefined>): {dir: string; source: string} {
  const home = env.BENTOML_HOME
  if (home !== undefined && home !== '') return {dir: home, source: 'BENTOML_HOME'}
  return {dir: path.join(env.HOME || os.homedir(), 'bentoml'), source: 'BentoML default, ~/bentoml'}
}

/** Where the backend keeps images when its own info does not say. */
export function defaultBackendDir(backend: Backend, home: string): string {
  if (backend === 'docker') return '/var/lib/docker'
  return process.getuid?.() === 0
    ? '/var/lib/containers/storage'
    : path.join(home, '.local/share/containers/storage')
}

/** `<backend> info` asking only for the storage folder. */
export function backendDataDirArgs(backend: Backend): string[] {
  return backend === 'docker'
    ? ['info', '--format', '{{.DockerRootDir}}']
    : ['info', '--format', '{{.Store.GraphRoot}}']
}

/** A remote engine (DOCKER_HOST=tcp://…, CONTAINER_HOST=ssh://…) builds on another machine's disk. */
export function remoteEngine(backend: Backend, env: Record<string, string | undefined>): string | undefined {
  const host = backend === 'docker' ? env.DOCKER_HOST : env.CONTAINER_HOST
  if (host === undefined || host === '' || host.startsWith('unix://')) return undefined
  return host
}

/** `1.46 GB` (podman), `1.46GB` (docker), `493 MB`, `12.3kB`: decimal units, as both print them. */
export function parseHumanSize(text: string): number | undefined {
  const match = /^\s*([\d.]+)\s*([kKMGT]?)B\s*$/.exec(text)
  if (match === null) return undefined
  const scale: Record<string, number> = {'': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12}
  const value = Number(match[1]) * (scale[match[2] ?? ''] ?? 1)
  return Number.isFinite(value) ? Math.round(value) : undefined
}

/** What a push needs: twice the last image of this target when known (image + its build layers), else 10 GiB. */
export function diskNeed(lastImageBytes: number | undefined): {bytes: number; why: string} {
  if (lastImageBytes === undefined || lastImageBytes <= 0)
    return {bytes: DEFAULT_DISK_NEED, why: 'the default when no earlier image of this target is known'}
  return {
    bytes: 2 * lastImageBytes,
    why: `twice the last image of this target (${formatBytes(lastImageBytes)})`,
  }
}

/**
 * The preflight's verdict: every folder must have `need` free. Folders measured at the same place
 * (one filesystem) are judged once. Throws a CheckError naming the folder and the numbers.
 */
export function judgeDisk(
  places: ReadonlyArray<FreeSpace & {what: string; source: string}>,
  need: {bytes: number; why: string},
): string {
  const short = places.filter((place) => place.freeBytes < need.bytes)
  if (short.length > 0) {
    const first = short[0]!
    const where =
      first.measuredAt === path.resolve(first.dir)
        ? first.dir
        : `${first.dir} (measured at ${first.measuredAt})`
    throw new CheckError(
      'disk-space',
      `Not enough disk space for the ${first.what} at ${where} (from ${first.source}): ${formatBytes(first.freeBytes)} free, ${formatBytes(need.bytes)} needed (${need.why}).`,
      {
        hint: 'Free space there (podman/docker system prune, bentoml delete, bentoml models delete), or skip the check with --skip-disk-check.',
      },
    )
  }
  return (
    places
      .map((place) => `${formatBytes(place.freeBytes)} free for the ${place.what} at ${place.dir}`)
      .join('; ') + ` (need ${formatBytes(need.bytes)}: ${need.why})`
  )
}
