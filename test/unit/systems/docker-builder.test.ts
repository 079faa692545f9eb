import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {Ledger, withLedger} from '../../../src/ledger.js'
import {buildxVersionArgs, dockerBuilder, probeDockerBuilder} from '../../../src/systems/docker-builder.js'
import {tempDir} from '../../helpers/cli.js'
import {scriptTool} from '../../helpers/deploy-state.js'

/** A PATH whose docker answers `buildx version` with the given exit code. */
function dockerAnswering(code: number): Record<string, string> {
  const dir = tempDir('docker')
  scriptTool(
    dir,
    'docker',
    `process.exit(process.argv[2] === 'buildx' && process.argv[3] === 'version' ? ${code} : 9)`,
  )
  return {PATH: `${dir}:${path.dirname(process.execPath)}`}
}

describe('which builder docker uses', () => {
  it('asks `docker buildx version`', () => {
    expect(buildxVersionArgs()).toEqual(['buildx', 'version'])
  })

  it('buildx when the plugin answers, classic when it does not', async () => {
    expect(await probeDockerBuilder(dockerAnswering(0), '/')).toBe('buildx')
    expect(await probeDockerBuilder(dockerAnswering(1), '/')).toBe('classic')
  })

  it('classic without asking when DOCKER_BUILDKIT=0', async () => {
    const ledger = new Ledger()
    const builder = await withLedger(ledger, () =>
      probeDockerBuilder({...dockerAnswering(0), DOCKER_BUILDKIT: '0'}, '/'),
    )
    expect(builder).toBe('classic')
    expect(ledger.entries).toEqual([])
  })

  it('no docker at all is classic (the containerize step then reports it missing)', async () => {
    expect(await probeDockerBuilder({PATH: tempDir('empty')}, '/')).toBe('classic')
  })
})

describe('dockerBuilder', () => {
  it('DOCKER_BUILDKIT=0 means classic even with a working buildx; else buildx when it works', () => {
    expect(dockerBuilder({DOCKER_BUILDKIT: '0'}, true)).toBe('classic')
    expect(dockerBuilder({DOCKER_BUILDKIT: '1'}, true)).toBe('buildx')
    expect(dockerBuilder({}, false)).toBe('classic')
  })
})
