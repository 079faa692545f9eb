import {describe, expect, it} from 'vitest'

import {WarningLog} from '../../../src/pipeline/warnings.js'

describe('WarningLog', () => {
  it('keeps each warning once, and shows each once: those before `showWith` then, later ones as raised', () => {
    const log = new WarningLog()
    const shown: string[] = []
    log.add('before')
    log.add('before')
    expect(shown).toEqual([])
    log.showWith((message) => shown.push(message))
    expect(shown).toEqual(['before'])
    log.add('during')
    log.add('before')
    // A result's warning raised elsewhere (a CodeBuild run's own), and one already shown.
    log.showOnce('remote')
    log.showOnce('during')
    expect(shown).toEqual(['before', 'during', 'remote'])
    expect(log.messages).toEqual(['before', 'during'])
  })

  it('a new `showWith` (the run host, named after its target) shows only what was not shown', () => {
    const log = new WarningLog()
    const first: string[] = []
    const second: string[] = []
    log.add('a')
    log.showWith((message) => first.push(message))
    log.showWith((message) => second.push(`t: ${message}`))
    log.add('b')
    expect(first).toEqual(['a'])
    expect(second).toEqual(['t: b'])
  })
})
