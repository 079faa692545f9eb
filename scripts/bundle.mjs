#!/usr/bin/env node
// Bundles the CLI into dist/ with esbuild (issue 14): oclif, our code and the packages it uses
// become one CommonJS file, dist/index.cjs, which bin/load-bundle.cjs compiles with a V8 code
// cache (compiling is most of the start-up time, and Node's own compile cache, written before the
// code runs, saves less: DESIGN.md "Code cache").
// Entry points: the command index (package.json oclif.commands, strategy "explicit") and the
// command_not_found hook. Whatever is imported dynamically (the AWS SDK, listr2, execa, the
// pipeline) stays in the file and is evaluated only when a step needs it.
import {createHash} from 'node:crypto'
import {existsSync, readFileSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const outdir = path.resolve(root, process.argv[2] ?? 'dist')

rmSync(outdir, {recursive: true, force: true})

/**
 * For start-up measurements only (bench/startup-cache.mjs): the names of PATCHES to leave out,
 * comma-separated, and `lazy` (no stand-ins for LAZY) or `dynamic-import` (import() kept as it is).
 */
const without = new Set((process.env.MLDEPLOY_BUNDLE_WITHOUT ?? '').split(',').filter(Boolean))

/**
 * A file of the top-level node_modules as esbuild names it: the real path (esbuild resolves links,
 * and node_modules may be a link, as in a git worktree that shares another's).
 */
function topLevel(...parts) {
  const file = path.join(root, 'node_modules', ...parts)
  try {
    return realpathSync(file)
  } catch {
    return file
  }
}

/** The version of the package being bundled (the bench's minimal CLI has one of its own). */
function packageVersion() {
  return JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version
}
/**
 * oclif requires some packages when it loads that a run of this CLI rarely or never calls:
 * tinyglobby (command discovery by pattern: ours is explicit), minimatch (plugin patterns),
 * lilconfig (a plugin's config outside package.json), ejs (help templates: only help needs it),
 * cli-spinners (a spinner at a terminal). Each is bundled behind a stand-in that loads it on first
 * use. `__esModule` is answered without loading: none of them sets it except minimatch.
 * Two of Node's own modules oclif requires at load are the same: node:child_process (only to ask
 * Windows for its shell; it loads node:net and node:dgram) and node:readline (only to read
 * arguments from stdin).
 * semver only checks oclif's own engines range, from a package.json path a bundle cannot resolve
 * (that check is skipped in a bundle either way): it is not bundled at all.
 */
const LAZY = {
  tinyglobby: false,
  minimatch: true,
  lilconfig: false,
  ejs: false,
  'cli-spinners': false,
  'node:child_process': false,
  'node:readline': false,
}
/** The lazy Node modules are lazy for oclif only: our own code loads them where it uses them. */
const LAZY_FOR_OCLIF_ONLY = /^node:/
const insideOclif = (importer) => /[\\/]node_modules[\\/]@oclif[\\/]core[\\/]/.test(importer)
const lazyPackages = {
  name: 'lazy-packages',
  setup(pluginBuild) {
    const names = Object.keys(LAZY).join('|')
    pluginBuild.onResolve({filter: new RegExp(`^(${names})$`)}, (args) =>
      args.namespace === 'lazy' || (LAZY_FOR_OCLIF_ONLY.test(args.path) && !insideOclif(args.importer))
        ? undefined
        : {path: args.path, namespace: 'lazy'},
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
 * Spots of oclif and of the packages it uses, patched in the bundle only: those that cost start-up
 * time for nothing in this CLI, and one that a CommonJS bundle needs. Each patch gives the same
 * result for our inputs; the bundle test compares every command's help with the plain tsc build,
 * which keeps oclif as it is, and the build fails if a patched line changes in an update.
 * - Help passes every string it prints (each flag's description, each example) through
 *   ejs.render, which compiles a template per string: most of `--help`'s own time. Our strings
 *   hold no template (the examples name `mldeploy <command>` as written), and ejs returns such a
 *   string unchanged, so only strings with a tag are rendered.
 * - The plugin loader matches package.json's `oclif.plugins` against the dependencies with
 *   minimatch, which loads minimatch and compiles a pattern per name at every start. Ours are plain
 *   names, for which minimatch is an equality test: names without a glob character are compared.
 * - Each plugin's commands are sorted with localeCompare, whose first call loads ICU's collator
 *   (~15 ms). For ids made of lower-case letters, `:` and `-` (all of ours and the
 *   plugins'), that order is the code-point order: those are compared directly.
 * - Help measures every word of every line with string-width, which strips ANSI codes and emoji
 *   with large regular expressions; V8 then optimizes it on a background thread for ~25 ms, and
 *   the process waits for that at exit. Printable ASCII (all of our help without colours) is one
 *   column a character: its width is its length.
 * - Help wraps every line with wrap-ansi, which splits it into words, measures and joins them,
 *   then walks it character by character to carry ANSI codes over line breaks (and V8 optimizes
 *   that for ~20 ms more, waited for at exit). A line of printable ASCII has no ANSI code: once
 *   wrapped it is returned as it is, and one that fits and has no space to trim is not split.
 * - At start-up oclif reads ~20 small JSON files (package.json and manifests of the CLI and its
 *   plugins, a theme, the user's plugins), one after the other, each through libuv's thread pool:
 *   the main thread idles waiting for those round trips. Read synchronously, each takes
 *   microseconds; the function stays async, and fails the same way. (Its few stats stay async:
 *   measured on Node 22, making them synchronous saved nothing beyond the noise.)
 * Each patch was measured on Node 22 with bench/startup-cache.mjs (bench/RESULTS.md, issue 23).
 * - oclif asks wsl-utils whether it runs in WSL at every start; wsl-utils and the powershell-utils
 *   it imports take node:child_process (and with it node:net and node:dgram) as they load, for
 *   functions called only in WSL or Windows: they take it on that first call instead.
 * - Plugin commands written as ES modules (plugin-help, plugin-autocomplete) are loaded with
 *   import(), which a script compiled by hand (vm.Script) cannot call; Node >= 22.12 (our engines
 *   range) loads them with require() (none has a top-level await).
 */
const PATCHES = [
  {
    name: 'help-ejs',
    file: /@oclif[\\/]core[\\/]lib[\\/]help[\\/]util\.js$/,
    from: 'return ejs_1.default.render(t, context);',
    to: "return t.includes('<%') || t.includes('%>') ? ejs_1.default.render(t, context) : t;",
  },
  {
    name: 'plugin-minimatch',
    file: /@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin-loader\.js$/,
    from: 'patterns.some((w) => (0, minimatch_1.minimatch)(p, w))',
    to: 'patterns.some((w) => (/^[\\w@./-]+$/.test(w) ? p === w : (0, minimatch_1.minimatch)(p, w)))',
  },
  {
    name: 'command-sort',
    file: /@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/,
    from: '.sort((a, b) => a.id.localeCompare(b.id));',
    to: '.sort((a, b) => (/^[a-z:-]*$/.test(a.id) && /^[a-z:-]*$/.test(b.id) ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.id.localeCompare(b.id)));',
  },
  {
    name: 'string-width',
    file: /[\\/]node_modules[\\/]string-width[\\/]index\.js$/,
    // The string-width oclif uses (4.x, at the top of node_modules), not listr2's own copies.
    only: topLevel('string-width', 'index.js'),
    from: 'string = stripAnsi(string);',
    to: 'if (/^[\\x20-\\x7e]*$/.test(string)) return string.length;\n\tstring = stripAnsi(string);',
  },
  {
    name: 'wrap-ansi',
    file: /[\\/]node_modules[\\/]wrap-ansi[\\/]index\.js$/,
    only: topLevel('wrap-ansi', 'index.js'),
    from: 'const exec = (string, columns, options = {}) => {',
    to: "const exec = (string, columns, options = {}) => {\n\tif (string.length <= columns && /^[\\x20-\\x7e]*$/.test(string) && (options.trim === false || (string !== '' && string.trim() === string))) return string;",
  },
  {
    name: 'wrap-ansi',
    file: /[\\/]node_modules[\\/]wrap-ansi[\\/]index\.js$/,
    only: topLevel('wrap-ansi', 'index.js'),
    from: "const pre = [...rows.join('\\n')];",
    to: "if (/^[\\x20-\\x7e]*$/.test(string)) return rows.join('\\n');\n\tconst pre = [...rows.join('\\n')];",
  },
  {
    name: 'sync-json',
    file: /@oclif[\\/]core[\\/]lib[\\/]util[\\/]fs\.js$/,
    from: "const contents = await (0, promises_1.readFile)(path, 'utf8');",
    to: "const contents = (0, node_fs_1.readFileSync)(path, 'utf8');",
  },
  {
    name: 'wsl-child-process',
    file: /[\\/]node_modules[\\/](wsl-utils|powershell-utils)[\\/]index\.js$/,
    from: "import childProcess from 'node:child_process';",
    to: '',
  },
  {
    name: 'wsl-child-process',
    file: /[\\/]node_modules[\\/](wsl-utils|powershell-utils)[\\/]index\.js$/,
    from: 'const execFile = promisify(childProcess.execFile);',
    to: "const execFile = (...args) => promisify(process.getBuiltinModule('node:child_process').execFile)(...args);",
  },
  {
    name: 'module-loader-require',
    file: /@oclif[\\/]core[\\/]lib[\\/]module-loader\.js$/,
    from: 'isESM ? await import((0, node_url_1.pathToFileURL)(filePath).href) : require(filePath)',
    to: 'require(filePath)',
    count: 3,
  },
].filter((patch) => !without.has(patch.name))
const bundlePatches = {
  name: 'bundle-patches',
  setup(pluginBuild) {
    // One loader for every patched file (esbuild stops at the first loader that answers), which
    // applies each patch that names it.
    const files = new RegExp(PATCHES.map((patch) => `(${patch.file.source})`).join('|'))
    pluginBuild.onLoad({filter: files}, async (args) => {
      const patches = PATCHES.filter(
        (patch) => patch.file.test(args.path) && (patch.only === undefined || args.path === patch.only),
      )
      if (patches.length === 0) return undefined
      let source = await readFile(args.path, 'utf8')
      for (const patch of patches) {
        const found = source.split(patch.from).length - 1
        if (found !== (patch.count ?? 1))
          throw new Error(
            `${args.path}: the line to patch is gone or moved (the package changed; found ${found} times, expected ${patch.count ?? 1}): ${patch.from} — update or drop that patch in PATCHES (scripts/bundle.mjs); the bundle test checks the help stays the same`,
          )
        source = source.replaceAll(patch.from, patch.to)
      }
      return {contents: source, loader: 'js'}
    })
  },
}

const result = await build({
  plugins: [...(without.has('lazy') ? [] : [lazyPackages]), bundlePatches],
  absWorkingDir: root,
  // The hook is absent from the bench's minimal oclif CLI (bench/oclif-floor), bundled by this script too.
  entryPoints: ['src/index.ts', 'src/cli/hooks/command-not-found.ts'].filter((entry) =>
    existsSync(path.join(root, entry)),
  ),
  outbase: 'src',
  outdir,
  bundle: true,
  format: 'cjs',
  outExtension: {'.js': '.cjs'},
  platform: 'node',
  target: 'node22',
  // import() inside a script compiled by hand (vm.Script) has no loader to call: every dynamic
  // import becomes a require(), which loads ES modules too on Node >= 22.12.
  supported: {'dynamic-import': without.has('dynamic-import')},
  // The ES modules bundled here ask import.meta where they are: the bundle's own file.
  // mldeploy's version is baked in: package.json is beside dist/, not where src/ looked for it
  // (two folders up from dist/index.cjs is outside the installed package).
  define: {
    'import.meta.url': '__mldeployImportMetaUrl',
    'import.meta.dirname': '__dirname',
    MLDEPLOY_BUNDLED_VERSION: JSON.stringify(packageVersion()),
  },
  banner: {js: "const __mldeployImportMetaUrl = require('node:url').pathToFileURL(__filename).href;"},
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
const index = path.join(outdir, 'index.cjs')
if (existsSync(index)) {
  // bin/load-bundle.cjs reads the bundle as latin1, ~15 ms faster than UTF-8 for 2.7 MB, which
  // needs it to be ASCII. esbuild escapes other characters in strings and names, but not in a
  // regular expression literal (ansis has U+009B in one), where \uXXXX means the same character.
  const source = readFileSync(index, 'utf8')
  const ascii = source.replace(
    /[^\0-\x7f]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
  if (ascii !== source) writeFileSync(index, ascii)
  // The build's identity, which names bin/load-bundle.cjs's code caches: V8 checks a cache
  // against the source's length only, so a cache made for another build of the same length must
  // not be found.
  const id = createHash('sha256').update(ascii).digest('hex').slice(0, 16)
  writeFileSync(path.join(outdir, 'build-id'), `${id}\n`)
}
