import {describe, expect, it} from 'vitest'

import {CheckError} from '../../../src/errors.js'
import {
  DEFAULT_DISK_NEED,
  diskNeed,
  GIB,
  judgeDisk,
  parseHumanSize,
  remoteEngine,
} from '../../../src/systems/disk.js'

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

  it('does not measure a remote engine', () => {
    expect(remoteEngine('docker', {DOCKER_HOST: 'tcp://builder:2376'})).toBe('tcp://builder:2376')
    expect(remoteEngine('docker', {DOCKER_HOST: 'unix:///run/docker.sock'})).toBeUndefined()
    expect(remoteEngine('podman', {CONTAINER_HOST: 'ssh://core@vm/run/podman.sock'})).toBe(
      'ssh://core@vm/run/podman.sock',
    )
    expect(remoteEngine('podman', {})).toBeUndefined()
  })
})
