import {existsSync, readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

import ts from 'typescript'

/**
 * How one module reaches another. `static` is an `import`/`export ... from` that stays in the
 * emitted code: with `verbatimModuleSyntax`, `import {type A} from` is kept as `import {} from`,
 * so only a declaration that is wholly `import type`/`export type` is `type`. `dynamic` is an
 * `import()`, evaluated when called.
 */
export type EdgeKind = 'static' | 'type' | 'dynamic'

export interface ImportEdge {
  from: string
  to: string
  kind: EdgeKind
  /** As written in `from`: `../ledger.js`. */
  specifier: string
}

/** Every `.ts` file under `dir`, as paths relative to `root` with `/` separators. */
export function sourceFiles(root: string, dir: string): string[] {
  const files: string[] = []
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, {withFileTypes: true})) {
      const full = path.join(folder, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(full)
    }
  }
  walk(path.join(root, dir))
  return files.map((file) => path.relative(root, file).split(path.sep).join('/')).sort()
}

/** `./x.js` from `src/a/b.ts` → `src/a/x.ts` (or `src/a/x/index.ts`); packages are not followed. */
function resolveSpecifier(root: string, from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined
  const base = path.posix.join(path.posix.dirname(from), specifier)
  const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, `${base}/index.ts`]
  return candidates.find((candidate) => existsSync(path.join(root, candidate)))
}

/** The imports of each file in `files` that lead to another source file. */
export function importEdges(root: string, files: string[]): ImportEdge[] {
  const edges: ImportEdge[] = []
  for (const from of files) {
    const text = readFileSync(path.join(root, from), 'utf8')
    const source = ts.createSourceFile(from, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
    const add = (specifier: ts.Node | undefined, kind: EdgeKind): void => {
      if (!specifier || !ts.isStringLiteral(specifier)) return
      const to = resolveSpecifier(root, from, specifier.text)
      if (to) edges.push({from, to, kind, specifier: specifier.text})
    }
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node)) {
        add(node.moduleSpecifier, node.importClause?.isTypeOnly ? 'type' : 'static')
      } else if (ts.isExportDeclaration(node)) {
        add(node.moduleSpecifier, node.isTypeOnly ? 'type' : 'static')
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        add(node.arguments[0], 'dynamic')
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return edges
}

/**
 * The import cycles among `edges`: one shortest cycle per strongly connected component
 * (Tarjan), each as the chain of files `a → b → … → a`.
 */
export function cycles(edges: ImportEdge[]): string[][] {
  const next = new Map<string, string[]>()
  for (const {from, to} of edges) next.set(from, [...(next.get(from) ?? []), to])
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  const connect = (node: string): void => {
    index.set(node, index.size)
    low.set(node, index.get(node)!)
    stack.push(node)
    onStack.add(node)
    for (const target of next.get(node) ?? []) {
      if (!index.has(target)) {
        connect(target)
        low.set(node, Math.min(low.get(node)!, low.get(target)!))
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!))
      }
    }
    if (low.get(node) !== index.get(node)) return
    const component: string[] = []
    let member: string
    do {
      member = stack.pop()!
      onStack.delete(member)
      component.push(member)
    } while (member !== node)
    const selfLoop = (next.get(node) ?? []).includes(node)
    if (component.length > 1 || selfLoop) components.push(component)
  }
  for (const node of [...next.keys()].sort()) if (!index.has(node)) connect(node)
  return components.map((component) => shortestCycle(component, next))
}

/** A shortest path from the component's first file (sorted) back to itself, by breadth. */
function shortestCycle(component: string[], next: Map<string, string[]>): string[] {
  const members = new Set(component)
  const start = [...component].sort()[0]!
  const previous = new Map<string, string>()
  const queue = [start]
  while (queue.length > 0) {
    const node = queue.shift()!
    for (const target of next.get(node) ?? []) {
      if (!members.has(target)) continue
      if (target === start) {
        const chain = [node]
        while (chain[0] !== start) chain.unshift(previous.get(chain[0]!)!)
        return [...chain, start]
      }
      if (previous.has(target)) continue
      previous.set(target, node)
      queue.push(target)
    }
  }
  return [start, start]
}
