#!/usr/bin/env node
// Bundles the CLI into dist/ with esbuild (issue 14): oclif, our code and the packages it uses
// become a few files, which Node loads several times faster than the ~400 files of node_modules.
// Entry points: the command index (package.json oclif.commands, strategy "explicit") and the
// command_not_found hook. Whatever is imported dynamically (the AWS SDK, listr2, execa, the
// pipeline) is split into chunks loaded only when a step needs it.
import {existsSync, rmSync, writeFileSync} from 'node:fs'
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
 * Two spots of oclif that cost start-up time for nothing in this CLI, patched in the bundle only.
 * Each patch gives the same result for our inputs; the bundle test compares every command's help
 * with the plain tsc build, which keeps oclif as it is, and the build fails if a patched line
 * changes in an oclif update.
 * - Help passes every string it prints (each flag's description, each example) through
 *   ejs.render, which compiles a template per string: most of `--help`'s own time. Our strings
 *   hold no template (the examples name `mldeploy <command>` as written), and ejs returns such a
 *   string unchanged, so only strings with a tag are rendered.
 * - The plugin loader matches package.json's `oclif.plugins` against the dependencies with
 *   minimatch, which loads minimatch and compiles a pattern per name at every start. Ours are plain
 *   names, for which minimatch is an equality test: names without a glob character are compared.
 */
const OCLIF_PATCHES = [
  {
    file: /@oclif[\\/]core[\\/]lib[\\/]help[\\/]util\.js$/,
    from: 'return ejs_1.default.render(t, context);',
    to: "return t.includes('<%') || t.includes('%>') ? ejs_1.default.render(t, context) : t;",
  },
  {
    file: /@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin-loader\.js$/,
    from: 'patterns.some((w) => (0, minimatch_1.minimatch)(p, w))',
    to: 'patterns.some((w) => (/^[\\w@./-]+$/.test(w) ? p === w : (0, minimatch_1.minimatch)(p, w)))',
  },
]
const oclifPatches = {
  name: 'oclif-patches',
  setup(pluginBuild) {
    for (const patch of OCLIF_PATCHES) {
      pluginBuild.onLoad({filter: patch.file}, async (args) => {
        const source = await readFile(args.path, 'utf8')
        if (!source.includes(patch.from))
          throw new Error(
            `${args.path}: the line to patch is gone (oclif changed): ${patch.from} — update or drop that patch in OCLIF_PATCHES (scripts/bundle.mjs); the bundle test checks the help stays the same`,
          )
        return {contents: source.replace(patch.from, patch.to), loader: 'js'}
      })
    }
  },
}

const result = await build({
  plugins: [lazyPackages, oclifPatches],
  absWorkingDir: root,
  // The hook is absent from the bench's minimal oclif CLI (bench/oclif-floor), bundled by this script too.
  entryPoints: ['src/index.ts', 'src/cli/hooks/command-not-found.ts'].filter((entry) =>
    existsSync(path.join(root, entry)),
  ),
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
