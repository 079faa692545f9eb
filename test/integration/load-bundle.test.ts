import {cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

import {baseEnv, makeProject, REPO_ROOT, runCli, tempDir} from '../helpers/cli.js'

// bin/load-bundle.cjs compiles dist/index.cjs with a V8 code cache. Here the real bin/ runs a small
// bundle of the same shape (it answers every command by exiting with $FAKE_EXIT), so each case
// shows what the cache folder holds after a run.
const BUNDLE = `exports.execute = async () => {
  process.stdout.write('ran ' + process.argv.slice(2).join(' ') + '\\n')
  process.exitCode = Number(process.env.FAKE_EXIT ?? 0)
}
`

function fakePackage(build = 'aaaaaaaaaaaaaaaa', bundle = BUNDLE): string {
  const root = tempDir('load-bundle')
  cpSync(path.join(REPO_ROOT, 'bin'), path.join(root, 'bin'), {recursive: true})
  writeFileSync(
    path.join(root, 'package.json'),
    JSON.stringify({name: 'mldeploy', version: '0.0.0', type: 'module'}),
  )
  setBuild(root, build, bundle)
  return root
}

function setBuild(root: string, build: string, bundle = BUNDLE): void {
  mkdirSync(path.join(root, 'dist'), {recursive: true})
  writeFileSync(path.join(root, 'dist/index.cjs'), bundle)
  writeFileSync(path.join(root, 'dist/build-id'), `${build}\n`)
}

async function run(root: string, args: string[], env: Record<string, string>, nodeOptions: string[] = []) {
  return execa(process.execPath, [...nodeOptions, path.join(root, 'bin/run.cjs'), ...args], {
    env: baseEnv(env),
    extendEnv: false,
    reject: false,
  })
}

const caches = (folder: string): string[] =>
  existsSync(path.join(folder, 'code-cache')) ? readdirSync(path.join(folder, 'code-cache')).sort() : []
const name = (build: string, slot: string): string =>
  `${build}-${process.version}-${process.arch}-${slot}.cache`

describe('bin/load-bundle.cjs: the code cache of the bundle', () => {
  it('writes one cache per command after a run that succeeds, and reads it on the next run', async () => {
    const root = fakePackage()
    const cacheDir = tempDir('cache')
    const env = {MLDEPLOY_CACHE_DIR: cacheDir}
    const first = await run(root, ['push', 'iris/V1', '--json'], env)
    expect(first.exitCode).toBe(0)
    expect(first.stdout).toBe('ran push iris/V1 --json')
    expect(first.stderr).toBe('')
    expect(caches(cacheDir)).toEqual([name('aaaaaaaaaaaaaaaa', 'push')])
    const file = path.join(cacheDir, 'code-cache', name('aaaaaaaaaaaaaaaa', 'push'))
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(statSync(path.join(cacheDir, 'code-cache')).mode & 0o777).toBe(0o700)
    const written = statSync(file)

    // V8 took the cache: nothing is written again (a rejected one would be replaced by a new file).
    const second = await run(root, ['push', 'iris/V1'], env)
    expect(second.stdout).toBe('ran push iris/V1')
    const after = statSync(file)
    expect([after.ino, after.mtimeMs]).toEqual([written.ino, written.mtimeMs])

    await run(root, ['push', '--help'], env)
    await run(root, ['push', 'iris/V1', '--dry-run', '--help'], env)
    await run(root, ['push', 'iris/V1', '--dry-run'], env)
    await run(root, ['--help'], env)
    await run(root, ['-h'], env)
    expect(caches(cacheDir)).toEqual(
      ['push', 'push-dry-run', 'push-help', 'root-help'].map((slot) => name('aaaaaaaaaaaaaaaa', slot)).sort(),
    )
  })

  it('writes nothing after a failed run: a mistyped command leaves no cache of its own', async () => {
    const root = fakePackage()
    const cacheDir = tempDir('cache')
    const failed = await run(root, ['promte', 'x'], {MLDEPLOY_CACHE_DIR: cacheDir, FAKE_EXIT: '2'})
    expect(failed.exitCode).toBe(2)
    expect(caches(cacheDir)).toEqual([])
  })

  it('a word that is no command name shares one cache; a path never names a file', async () => {
    const root = fakePackage()
    const cacheDir = tempDir('cache')
    await run(root, ['../../etc/x'], {MLDEPLOY_CACHE_DIR: cacheDir})
    await run(root, ['Push'], {MLDEPLOY_CACHE_DIR: cacheDir})
    expect(caches(cacheDir)).toEqual([name('aaaaaaaaaaaaaaaa', 'root')])
  })

  it('a rebuild removes the caches of the build before it', async () => {
    const root = fakePackage()
    const cacheDir = tempDir('cache')
    await run(root, ['push'], {MLDEPLOY_CACHE_DIR: cacheDir})
    await run(root, ['list'], {MLDEPLOY_CACHE_DIR: cacheDir})
    // Same length, other content: V8 alone would take the old cache (it checks the length).
    setBuild(root, 'bbbbbbbbbbbbbbbb', BUNDLE.replace("'ran '", "'RAN '"))
    const rebuilt = await run(root, ['push'], {MLDEPLOY_CACHE_DIR: cacheDir})
    expect(rebuilt.stdout).toBe('RAN push')
    expect(caches(cacheDir)).toEqual([name('bbbbbbbbbbbbbbbb', 'push')])
  })

  it('a damaged cache is replaced, not trusted', async () => {
    const root = fakePackage()
    const cacheDir = tempDir('cache')
    await run(root, ['push'], {MLDEPLOY_CACHE_DIR: cacheDir})
    const file = path.join(cacheDir, 'code-cache', name('aaaaaaaaaaaaaaaa', 'push'))
    const good = readFileSync(file)
    // Same length, same V8 header: V8 itself would take it.
    const broken = Buffer.concat([good.subarray(0, 64), Buffer.alloc(good.length - 64, 7)])
    writeFileSync(file, broken)
    const damaged = await run(root, ['push'], {MLDEPLOY_CACHE_DIR: cacheDir})
    expect([damaged.exitCode, damaged.stdout, damaged.stderr]).toEqual([0, 'ran push', ''])
    expect(readFileSync(file).equals(broken)).toBe(false)
    // The new cache is whole: the next run takes it and leaves it as it is.
    const replaced = statSync(file)
    expect((await run(root, ['push'], {MLDEPLOY_CACHE_DIR: cacheDir})).stdout).toBe('ran push')
    expect(statSync(file).ino).toBe(replaced.ino)
  })

  it('other V8 flags keep a cache of their own instead of replacing the other', async () => {
    const root = fakePackage()
    const cacheDir = tempDir('cache')
    await run(root, ['push'], {MLDEPLOY_CACHE_DIR: cacheDir})
    await run(root, ['push'], {MLDEPLOY_CACHE_DIR: cacheDir}, ['--max-old-space-size=300'])
    await run(root, ['push'], {MLDEPLOY_CACHE_DIR: cacheDir, NODE_OPTIONS: '--max-semi-space-size=8'})
    const files = caches(cacheDir)
    expect(files).toHaveLength(3)
    expect(files).toContain(name('aaaaaaaaaaaaaaaa', 'push'))
  })

  it("uses oclif's cache folder: XDG_CACHE_HOME, else ~/.cache", async () => {
    const root = fakePackage()
    const xdg = tempDir('xdg')
    await run(root, ['push'], {XDG_CACHE_HOME: xdg})
    expect(caches(path.join(xdg, 'mldeploy'))).toEqual([name('aaaaaaaaaaaaaaaa', 'push')])
    const home = tempDir('home')
    await run(root, ['push'], {HOME: home})
    expect(caches(path.join(home, '.cache', 'mldeploy'))).toEqual([name('aaaaaaaaaaaaaaaa', 'push')])
  })

  it('runs as well when the cache cannot be written, and says nothing about it', async () => {
    const root = fakePackage()
    const blocked = path.join(tempDir('cache'), 'a-file')
    writeFileSync(blocked, 'not a folder')
    const result = await run(root, ['push'], {MLDEPLOY_CACHE_DIR: blocked})
    expect([result.exitCode, result.stdout, result.stderr]).toEqual([0, 'ran push', ''])
    expect(readFileSync(blocked, 'utf8')).toBe('not a folder')
  })

  it('two runs writing the same cache at once leave one whole cache and no temporary file', async () => {
    const root = fakePackage()
    const cacheDir = tempDir('cache')
    const runs = await Promise.all(
      [1, 2, 3, 4].map(() => run(root, ['push'], {MLDEPLOY_CACHE_DIR: cacheDir})),
    )
    expect(runs.map((each) => each.exitCode)).toEqual([0, 0, 0, 0])
    expect(caches(cacheDir)).toEqual([name('aaaaaaaaaaaaaaaa', 'push')])
    const file = path.join(cacheDir, 'code-cache', name('aaaaaaaaaaaaaaaa', 'push'))
    const before = statSync(file)
    await run(root, ['push'], {MLDEPLOY_CACHE_DIR: cacheDir})
    expect(statSync(file).ino).toBe(before.ino)
  })

  it("the real CLI's caches hold none of the run's secrets", async () => {
    const cacheDir = tempDir('cache')
    const secrets = {
      AWS_SECRET_ACCESS_KEY: 'cache-probe-secret-7f3a9c2e1b',
      MLFLOW_TRACKING_PASSWORD: 'cache-probe-mlflow-5d8e4a',
    }
    const root = makeProject({
      'deploy/modelA/V1/.env': `MLFLOW_TRACKING_PASSWORD=${secrets.MLFLOW_TRACKING_PASSWORD}\n`,
    })
    const env = baseEnv({
      MLDEPLOY_CACHE_DIR: cacheDir,
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: secrets.AWS_SECRET_ACCESS_KEY,
      AWS_REGION: 'us-east-1',
    })
    for (const args of [
      ['push', 'modelA/V1', '--dry-run', '--offline', '--account-id', '123456789012'],
      ['push', '--help'],
    ]) {
      const result = await runCli(args, {cwd: root, env})
      expect(result.exitCode, result.stderr).toBe(0)
    }
    const files = caches(cacheDir)
    expect(files).toHaveLength(2)
    for (const file of files) {
      const bytes = readFileSync(path.join(cacheDir, 'code-cache', file))
      // The search can find a string: the source's own, such as a variable's name in the
      // settings table (help no longer loads the AWS system, whose source names the secret's).
      expect(bytes.includes(Buffer.from('MLDEPLOY_ACCOUNT_ID', 'latin1')), file).toBe(true)
      for (const secret of Object.values(secrets)) {
        expect(bytes.includes(Buffer.from(secret, 'latin1')), file).toBe(false)
        expect(bytes.includes(Buffer.from(secret, 'utf16le')), file).toBe(false)
      }
    }
  })
})
