#!/usr/bin/env node
// Bundles the CLI into dist/ with esbuild (issue 14): oclif, our code and the packages it uses
// become a few files, which Node loads several times faster than the ~400 files of node_modules.
// Entry points: the command index (package.json oclif.commands, strategy "explicit") and the
// command_not_found hook. Whatever is imported dynamically (the AWS SDK, listr2, execa, the
// pipeline) is split into chunks loaded only when a step needs it.
import {rmSync, writeFileSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const outdir = path.resolve(root, process.argv[2] ?? 'dist')

rmSync(outdir, {recursive: true, force: true})
/**
 * oclif requires some packages when it loads that a run of this CLI rarely or never calls:
 * tinyglobby (command discovery by pattern: ours is explicit), minimatch (plugin patterns),
 * lilconfig (a plugin's config outside package.json), ejs (help templates: only help needs it),
 * cli-spinners (a spinner at a terminal). Each is bundled behind a stand-in that loads it on first
 * use. `__esModule` is answered without loading: none of them sets it except minimatch.
 * semver only checks oclif's own engines range, from a package.json path a bundle cannot resolve
 * (that check is skipped in a bundle either way): it is not bundled at all.
 */
const LAZY = {tinyglobby: false, minimatch: true, lilconfig: false, ejs: false, 'cli-spinners': false}
const lazyPackages = {
  name: 'lazy-packages',
  setup(pluginBuild) {
    const names = Object.keys(LAZY).join('|')
    pluginBuild.onResolve({filter: new RegExp(`^(${names})$`)}, (args) =>
      args.namespace === 'lazy' ? undefined : {path: args.path, namespace: 'lazy'},
    )
    pluginBuild.onLoad({filter: /.*/, namespace: 'lazy'}, (args) => ({
      resolveDir: root,
      contents: `let real
const load = () => (real ??= require(${JSON.stringify(args.path)}))
module.exports = new Proxy({}, {
  get: (_, key) => (key === '__esModule' ? ${LAZY[args.path]} : load()[key]),
  has: (_, key) => key in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_, key) => ({...Reflect.getOwnPropertyDescriptor(load(), key), configurable: true}),
})
`,
    }))
    pluginBuild.onResolve({filter: /^semver$/}, () => ({path: 'semver', namespace: 'no-semver'}))
    pluginBuild.onLoad({filter: /.*/, namespace: 'no-semver'}, () => ({contents: 'module.exports = {}'}))
  },
}

/**
 * oclif's help passes every string it prints (each flag's description, each example) through
 * ejs.render, which compiles a template per string: most of `--help`'s own time. Our strings hold
 * no template (the examples name `mldeploy <command>` as written), and ejs returns such a string
 * unchanged, so the bundle renders only strings with a tag. The same output: the bundle test
 * compares every command's help with the plain tsc build, which keeps oclif as it is.
 */
const helpTemplates = {
  name: 'help-templates',
  setup(pluginBuild) {
    pluginBuild.onLoad({filter: /@oclif[\\/]core[\\/]lib[\\/]help[\\/]util\.js$/}, async (args) => {
      const source = await readFile(args.path, 'utf8')
      const call = 'return ejs_1.default.render(t, context);'
      if (!source.includes(call))
        throw new Error(`${args.path}: the ejs call to patch is gone (oclif changed)`)
      const patched = "return t.includes('<%') || t.includes('%>') ? ejs_1.default.render(t, context) : t;"
      return {contents: source.replace(call, patched), loader: 'js'}
    })
  },
}

const result = await build({
  plugins: [lazyPackages, helpTemplates],
  absWorkingDir: root,
  entryPoints: ['src/index.ts', 'src/cli/hooks/command-not-found.ts'],
  outbase: 'src',
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS packages (oclif, the AWS SDK) call require() for Node's modules: give them one.
  banner: {
    js: "import {createRequire as __mldeployCreateRequire} from 'node:module'; const require = __mldeployCreateRequire(import.meta.url);",
  },
  // Optional native or peer modules that the packages only try to load.
  // typescript: oclif reads a tsconfig.json with it only when run from a source checkout (dev mode).
  external: ['@aws-sdk/signature-v4-crt', 'aws-crt', 'typescript'],
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  metafile: true,
  logLevel: 'warning',
})
// What went where, for `npx esbuild-visualizer` or a look by hand: BUNDLE_META=file.json.
if (process.env.BUNDLE_META) writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile))
