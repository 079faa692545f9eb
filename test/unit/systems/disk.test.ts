import {statfs} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {describe, expect, it, vi} from 'vitest'

import {CheckError} from '../../../src/errors.js'
import {
  backendDataDirArgs,
  bentomlStoreDir,
  DEFAULT_DISK_NEED,
  defaultBackendDir,
  diskNeed,
  freeSpace,
  GIB,
  judgeDisk,
  parseHumanSize,
  remoteEngine,
} from '../../../src/systems/disk.js'
import {tempDir} from '../../helpers/cli.js'

// The preflight's disk check (issue 12) with injected numbers: no filesystem is measured here.
const place = (what: string, dir: string, freeBytes: number, measuredAt = dir) => ({
  what,
  dir,
  measuredAt,
  freeBytes,
  source: what === 'BentoML store' ? 'BENTOML_HOME' : 'podman info',
})

describe('disk check', () => {
  it('needs twice the last image of the target when known, else 10 GiB', () => {
    expect(diskNeed(undefined)).toEqual({bytes: DEFAULT_DISK_NEED, why: expect.stringContaining('default')})
    expect(diskNeed(1.5 * GIB)).toEqual({
      bytes: 3 * GIB,
      why: 'twice the last image of this target (1.5 GiB)',
    })
  })

  it('passes with enough room everywhere and says how much', () => {
    const text = judgeDisk(
      [
        place('BentoML store', '/data/bentoml', 20 * GIB),
        place('podman storage', '/var/lib/containers', 11 * GIB),
      ],
      diskNeed(undefined),
    )
    expect(text).toBe(
      '20.0 GiB free for the BentoML store at /data/bentoml; 11.0 GiB free for the podman storage at /var/lib/containers (need 10.0 GiB: the default when no earlier image of this target is known)',
    )
  })

  it('fails naming the folder, where it was measured and the numbers', () => {
    let error: unknown
    try {
      judgeDisk(
        [
          place('BentoML store', '/data/bentoml', 20 * GIB),
          place('podman storage', '/home/ci/.local/share/containers/storage', 3 * GIB, '/home/ci'),
        ],
        diskNeed(2 * GIB),
      )
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(CheckError)
    expect((error as CheckError).reason).toBe('disk-space')
    expect((error as CheckError).message).toBe(
      'Not enough disk space for the podman storage at /home/ci/.local/share/containers/storage (measured at /home/ci) (from podman info): 3.0 GiB free, 4.0 GiB needed (twice the last image of this target (2.0 GiB)).',
    )
    expect((error as CheckError).hint).toContain('--skip-disk-check')
  })

  it('reads the sizes podman and docker print', () => {
    expect(parseHumanSize('1.46 GB')).toBe(1_460_000_000)
    expect(parseHumanSize('1.46GB')).toBe(1_460_000_000)
    expect(parseHumanSize('493 MB')).toBe(493_000_000)
    expect(parseHumanSize('12.3kB')).toBe(12_300)
    expect(parseHumanSize('big')).toBeUndefined()
  })

  it('reads every unit, spaces around the number, and refuses text around it', () => {
    expect(parseHumanSize('  7 B ')).toBe(7)
    expect(parseHumanSize('2KB')).toBe(2_000)
    expect(parseHumanSize('3 TB')).toBe(3_000_000_000_000)
    expect(parseHumanSize('0.5 GB')).toBe(500_000_000)
    expect(parseHumanSize('1.5 GB free')).toBeUndefined()
    expect(parseHumanSize('about 1.5 GB')).toBeUndefined()
    expect(parseHumanSize('1.2.3 GB')).toBeUndefined()
    expect(parseHumanSize('12 kb')).toBeUndefined()
  })

  it('uses the default need for an earlier image of no size', () => {
    expect(diskNeed(0)).toEqual({
      bytes: DEFAULT_DISK_NEED,
      why: 'the default when no earlier image of this target is known',
    })
    expect(diskNeed(1)).toEqual({bytes: 2, why: 'twice the last image of this target (1 B)'})
  })

  it('passes a folder with exactly what is needed', () => {
    expect(judgeDisk([place('BentoML store', '/data/bentoml', 2 * GIB)], diskNeed(GIB))).toBe(
      '2.0 GiB free for the BentoML store at /data/bentoml (need 2.0 GiB: twice the last image of this target (1.0 GiB))',
    )
  })

  it('names the first short folder, without "measured at" when it was measured itself', () => {
    expect(() =>
      judgeDisk(
        [place('BentoML store', '/data/bentoml', GIB), place('podman storage', '/var/lib/containers', 0)],
        diskNeed(undefined),
      ),
    ).toThrow(
      'Not enough disk space for the BentoML store at /data/bentoml (from BENTOML_HOME): 1.0 GiB free, 10.0 GiB needed (the default when no earlier image of this target is known).',
    )
    let error: unknown
    try {
      judgeDisk([place('BentoML store', '/data/bentoml', 0)], diskNeed(undefined))
    } catch (caught) {
      error = caught
    }
    expect((error as CheckError).hint).toBe(
      'Free space there (podman/docker system prune, bentoml delete, bentoml models delete), or skip the check with --skip-disk-check.',
    )
  })

  it('measures a folder that does not exist yet at its nearest existing parent', async () => {
    const root = tempDir('disk-')
    const missing = path.join(root, 'not', 'yet')
    const measured = await freeSpace(missing)
    const stats = await statfs(root)
    expect(measured.dir).toBe(missing)
    expect(measured.measuredAt).toBe(root)
    expect(measured.freeBytes).toBeGreaterThan(0)
    // Free space moves as other work writes: the same filesystem, within 1 GiB.
    expect(Math.abs(measured.freeBytes - stats.bavail * stats.bsize)).toBeLessThan(GIB)
    expect((await freeSpace(root)).measuredAt).toBe(root)
    expect((await freeSpace('relative/none')).measuredAt).toBe(process.cwd())
  })

  it("finds BentoML's store in BENTOML_HOME, else in HOME, else in the user's home", () => {
    expect(bentomlStoreDir({BENTOML_HOME: '/srv/bentoml', HOME: '/home/a'})).toEqual({
      dir: '/srv/bentoml',
      source: 'BENTOML_HOME',
    })
    const fromHome = {dir: '/home/a/bentoml', source: 'BentoML default, ~/bentoml'}
    expect(bentomlStoreDir({BENTOML_HOME: '', HOME: '/home/a'})).toEqual(fromHome)
    expect(bentomlStoreDir({HOME: '/home/a'})).toEqual(fromHome)
    expect(bentomlStoreDir({HOME: ''}).dir).toBe(path.join(os.homedir(), 'bentoml'))
  })

  it('knows where each backend keeps its images and how to ask it', () => {
    expect(defaultBackendDir('docker', '/home/a')).toBe('/var/lib/docker')
    const uid = vi.spyOn(process, 'getuid')
    try {
      uid.mockReturnValue(0)
      expect(defaultBackendDir('podman', '/home/a')).toBe('/var/lib/containers/storage')
      uid.mockReturnValue(1000)
      expect(defaultBackendDir('podman', '/home/a')).toBe('/home/a/.local/share/containers/storage')
    } finally {
      uid.mockRestore()
    }
    expect(backendDataDirArgs('docker')).toEqual(['info', '--format', '{{.DockerRootDir}}'])
    expect(backendDataDirArgs('podman')).toEqual(['info', '--format', '{{.Store.GraphRoot}}'])
  })

  it('does not measure a remote engine', () => {
    expect(remoteEngine('docker', {DOCKER_HOST: 'tcp://builder:2376'})).toBe('tcp://builder:2376')
    expect(remoteEngine('docker', {DOCKER_HOST: 'unix:///run/docker.sock'})).toBeUndefined()
    expect(remoteEngine('podman', {CONTAINER_HOST: 'ssh://core@vm/run/podman.sock'})).toBe(
      'ssh://core@vm/run/podman.sock',
    )
    expect(remoteEngine('podman', {})).toBeUndefined()
    expect(remoteEngine('podman', {CONTAINER_HOST: ''})).toBeUndefined()
    expect(remoteEngine('podman', {CONTAINER_HOST: 'unix:///run/podman.sock'})).toBeUndefined()
    // Each backend reads its own variable only.
    expect(remoteEngine('podman', {DOCKER_HOST: 'tcp://builder:2376'})).toBeUndefined()
    expect(remoteEngine('docker', {CONTAINER_HOST: 'ssh://vm'})).toBeUndefined()
  })
})
