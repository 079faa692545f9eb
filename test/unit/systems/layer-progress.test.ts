import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {type LayerCounts, LayerProgress} from '../../../src/systems/backend.js'

// The push output of real podman and docker pushes on the local stack (test/fixtures/push/README.md).
const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/push')
const lines = (name: string): string[] => readFileSync(path.join(FIXTURES, name), 'utf8').split('\n')

/** The counts after each line that changed them. */
function walk(input: readonly string[]): LayerCounts[] {
  const layers = new LayerProgress()
  return input.flatMap((line) => (layers.read(line) ? [layers.counts] : []))
}

describe('layer progress from the push output', () => {
  it('podman (not at a terminal): each blob counts when its copy starts, all are done at the config', () => {
    const seen = walk(lines('podman-first.txt'))
    expect(seen).toHaveLength(14)
    expect(seen.slice(0, 13).map((counts) => counts.total)).toEqual(Array.from({length: 13}, (_, i) => i + 1))
    expect(seen.slice(0, 13).every((counts) => counts.done === 0)).toBe(true)
    expect(seen.at(-1)).toEqual({done: 13, total: 13, existing: 0})
  })

  it('podman pushing what the registry has: the same lines, so the same counts', () => {
    expect(walk(lines('podman-again.txt')).at(-1)).toEqual({done: 13, total: 13, existing: 0})
  })

  it('podman at a terminal: "done" and "skipped: already exists" end a layer', () => {
    const layers = new LayerProgress()
    layers.read('Copying blob 9a66bc6d4f5b [==========>---------] 12.0MiB / 24.1MiB')
    layers.read('Copying blob 27d424aea697 skipped: already exists')
    expect(layers.counts).toEqual({done: 1, total: 2, existing: 1})
    expect(layers.read('Copying blob 9a66bc6d4f5b done')).toBe(true)
    expect(layers.read('Copying blob 9a66bc6d4f5b done')).toBe(false)
    expect(layers.counts).toEqual({done: 2, total: 2, existing: 1})
  })

  it('docker: Preparing names a layer, Pushed and "Layer already exists" end it', () => {
    const first = walk(lines('docker-first.txt'))
    expect(first.map((counts) => `${counts.done}/${counts.total}`)).toEqual([
      '0/1',
      '0/2',
      '0/3',
      '1/3',
      '2/3',
      '3/3',
    ])
    expect(first.at(-1)).toEqual({done: 3, total: 3, existing: 0})
    expect(walk(lines('docker-again.txt')).at(-1)).toEqual({done: 3, total: 3, existing: 3})
  })

  it('docker: Waiting, Pushing and "Mounted from" as docker prints them; an ended layer stays ended', () => {
    const layers = new LayerProgress()
    for (const line of [
      'a1b2c3d4e5f6: Waiting',
      '0123456789ab: Pushing',
      '0123456789ab: Pushed',
      '0123456789ab: Pushing',
      'fedcba987654: Mounted from iris/other',
    ])
      layers.read(line)
    expect(layers.counts).toEqual({done: 2, total: 3, existing: 1})
  })

  it('other lines change nothing', () => {
    const layers = new LayerProgress()
    for (const line of [
      'Getting image source signatures',
      'The push refers to repository [x]',
      '',
      'Storing signatures',
    ])
      expect(layers.read(line)).toBe(false)
    expect(layers.counts).toEqual({done: 0, total: 0, existing: 0})
  })
})
