// Loads the bundled CLI (dist/index.cjs) with a V8 code cache: compiling oclif and our code is
// most of a command's start-up. Node's own compile cache (module.enableCompileCache, Node >= 22.1)
// is written when a module is compiled, so it holds the top level and no function compiled later
// in the run; this cache is made after the first successful run of each command, from every
// function that run compiled (measured on Node 22: 10-24 % less CPU than Node's for push --help
// and the dry run, DESIGN.md "Code cache"). It is kept beside oclif's own cache
// (MLDEPLOY_CACHE_DIR, else the platform's cache folder). Deleting it is safe.
'use strict'
const {
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} = require('node:fs')
const Module = require('node:module')
const {homedir} = require('node:os')
const path = require('node:path')
const {Script} = require('node:vm')

/**
 * oclif's cache folder for a CLI (Config.cacheDir for its oclif `dirname`), which holds the
 * completion cache too: <NAME>_CACHE_DIR, else the platform's cache folder.
 */
function cacheDir(name) {
  const home = process.env.HOME || homedir()
  const scoped = process.env[`${name.replaceAll('-', '_').toUpperCase()}_CACHE_DIR`]
  if (scoped) return scoped
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', name)
  const base =
    process.env.XDG_CACHE_HOME ||
    (process.platform === 'win32' && process.env.LOCALAPPDATA) ||
    path.join(home, '.cache')
  return path.join(base, name)
}

/**
 * One cache per command, its help and its dry run: each holds what its run compiled (a push's
 * holds the AWS SDK, twice the size of a dry run's, which would cost a dry run ~10 ms to read).
 * A word that is no command makes no cache, as its run fails (caches are written after a run
 * that exits 0 only).
 */
function slot(args) {
  const word = args.find((arg) => !arg.startsWith('-'))
  const command = word !== undefined && /^[a-z][a-z-]{0,30}$/.test(word) ? word : 'root'
  if (args.includes('--help') || args.includes('-h')) return `${command}-help`
  return args.includes('--dry-run') ? `${command}-dry-run` : command
}

/**
 * Node's options for V8 in a short name: a cache made under other flags is rejected, so each set
 * of flags (a profiler, a heap size in NODE_OPTIONS) keeps its own instead of replacing the other.
 */
function flagsName() {
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ').trim()
  if (flags === '') return ''
  let hash = 0x811c9dc5 // FNV-1a
  for (let i = 0; i < flags.length; i++) hash = Math.imul(hash ^ flags.charCodeAt(i), 0x01000193) >>> 0
  return `-${hash.toString(16)}`
}

/**
 * A CRC-32 of a cache's bytes, kept in its last 4 bytes (as Node's own compile cache does): V8
 * checks a cache against its version, its flags and the source's length, not the data (a release
 * build skips its own checksum), and a damaged cache it takes runs damaged code.
 */
const checksum = (bytes) => require('node:zlib').crc32(bytes)

/** The cache's data when its checksum holds. */
function readCache(file) {
  let bytes
  try {
    bytes = readFileSync(file)
  } catch {
    return undefined // none yet
  }
  if (bytes.length < 8) return undefined
  const data = bytes.subarray(0, bytes.length - 4)
  return bytes.readUInt32LE(bytes.length - 4) === checksum(data) ? data : undefined
}

/** Replaces the cache at once (a concurrent run reads the old one or the new one, never half). */
function writeCache(folder, file, build, data) {
  const temporary = `${file}.${process.pid}.tmp`
  try {
    mkdirSync(folder, {recursive: true, mode: 0o700})
    const sum = Buffer.alloc(4)
    sum.writeUInt32LE(checksum(data))
    writeFileSync(temporary, Buffer.concat([data, sum]), {mode: 0o600})
    renameSync(temporary, file)
    // Caches of other builds (an upgrade, a rebuild) are of no use any more.
    for (const name of readdirSync(folder))
      if (name.endsWith('.cache') && !name.startsWith(`${build}-`))
        rmSync(path.join(folder, name), {force: true})
  } catch {
    // A read-only or full disk, a file where the folder should be: run without a cache.
    try {
      rmSync(temporary, {force: true})
    } catch {
      // nothing was written
    }
  }
}

/** The bundle's exports (`name`: the CLI's oclif dirname), or undefined when there is no bundle. */
function loadBundle(bundlePath, args, name) {
  let file, source, build
  try {
    // The path require() gives it (links resolved), so that oclif's require finds this module.
    file = realpathSync(bundlePath)
    // ASCII (scripts/bundle.mjs makes it so): read as latin1, a copy instead of a UTF-8 decoding.
    source = readFileSync(file, 'latin1')
    build = readFileSync(path.join(path.dirname(file), 'build-id'), 'utf8').trim()
  } catch (error) {
    if (error.code === 'ENOENT') return undefined
    throw error
  }
  const folder = path.join(cacheDir(name), 'code-cache')
  const cache = path.join(
    folder,
    `${build}-${process.version}-${process.arch}${flagsName()}-${slot(args)}.cache`,
  )
  const cachedData = readCache(cache)
  // V8 ignores a cache made by another V8, under other flags or for a source of another length.
  const script = new Script(Module.wrap(source), {filename: file, cachedData})
  const bundle = new Module(file)
  bundle.filename = file
  // oclif loads the command index by its path: it finds this module instead of compiling it again.
  const bundleRequire = Module.createRequire(file)
  bundleRequire.cache[file] = bundle
  script
    .runInThisContext()
    .call(bundle.exports, bundle.exports, bundleRequire, bundle, file, path.dirname(file))
  bundle.loaded = true
  if (cachedData === undefined || script.cachedDataRejected)
    process.once('exit', (code) => {
      if (code === 0) writeCache(folder, cache, build, script.createCachedData())
    })
  return bundle.exports
}

module.exports = {loadBundle}
