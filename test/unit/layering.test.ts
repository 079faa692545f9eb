import path from 'node:path'

import {ESLint} from 'eslint'
import {describe, expect, it} from 'vitest'

import {cycles, importEdges, type ImportEdge, sourceFiles} from '../helpers/import-graph.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const edges = importEdges(ROOT, sourceFiles(ROOT, 'src'))

/** The lint's verdict on `code` as if it were the file at `filePath` (the layer rules go by path). */
async function restrictedImports(filePath: string, code: string): Promise<string[]> {
  const [result] = await new ESLint({cwd: ROOT}).lintText(code, {filePath})
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

describe('the import graph of src/', () => {
  // Type-only imports count too: an `import type` cycle vanishes at run time, but the layers
  // are only readable off a graph without cycles. `import()` counts as well.
  it('has no cycle', () => {
    const found = cycles(edges).map((chain) => chain.join(' → '))
    expect(found, `import cycles:\n${found.join('\n')}`).toEqual([])
  })

  it('reads every kind of import, and the cycle check names the chain', () => {
    const kinds = new Set(edges.map((edge) => edge.kind))
    expect([...kinds].sort()).toEqual(['dynamic', 'static', 'type'])
    const edge = (from: string, to: string): ImportEdge => ({from, to, kind: 'type', specifier: to})
    expect(cycles([edge('a', 'b'), edge('b', 'c'), edge('c', 'a'), edge('c', 'd')])).toEqual([
      ['a', 'b', 'c', 'a'],
    ])
    expect(cycles([edge('a', 'a')])).toEqual([['a', 'a']])
    expect(cycles([edge('a', 'b'), edge('b', 'c')])).toEqual([])
  })
})

describe('the layering (eslint.config.js)', () => {
  it.each([
    ['src/systems/vpn.ts', '../pipeline/ledger.js'],
    ['src/systems/aws/middleware.ts', '../../pipeline/engine.js'],
    ['src/systems/git.ts', '../config/settings.js'],
    ['src/process.ts', './pipeline/ledger.js'],
    ['src/process.ts', './systems/child.js'],
    ['src/config/timeouts.ts', '../pipeline/state.js'],
    ['src/config/settings.ts', '../steps/tag.js'],
    ['src/config/push-config.ts', '../project/warnings.js'],
    ['src/config/settings.ts', '../scaffold/scaffold.js'],
    ['src/pipeline/engine.ts', '../steps/push.js'],
  ])('refuses %s importing %s', async (filePath, specifier) => {
    expect(await restrictedImports(filePath, `import '${specifier}'\n`)).toHaveLength(1)
    expect(
      await restrictedImports(filePath, `import type {X} from '${specifier}'\nexport type Y = X\n`),
    ).toHaveLength(1)
  })

  // ESLint's rule reads static imports only: each import() is checked as if it were one.
  it('holds for the dynamic imports as well', async () => {
    const dynamic = edges.filter((edge) => edge.kind === 'dynamic')
    expect(dynamic.length).toBeGreaterThan(0)
    for (const {from, specifier} of dynamic)
      expect(await restrictedImports(from, `import '${specifier}'\n`), `${from} → ${specifier}`).toEqual([])
  })
})
