import {cpSync, readdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {beforeAll, describe, expect, it} from 'vitest'

import {baseEnv, REPO_ROOT, tempDir} from '../helpers/cli.js'

// The bundled build (dist/, what `npm pack` ships and every other CLI test runs) must show users
// exactly what the plain tsc build shows: help of every command, completion scripts, the manifest,
// error messages and exit codes. The tsc build is made here, from the same sources, in a copy of
// the package whose oclif settings point at dist/commands as they did before bundling.
const plain = tempDir('tsc-build')

interface Run {
  exitCode: number
  stdout: string
  stderr: string
}

async function run(app: string, args: string[], env: Record<string, string>, cwd: string): Promise<Run> {
  const result = await execa(process.execPath, [path.join(app, 'bin/run.cjs'), ...args], {
    cwd,
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  })
  // The two builds live in different folders; nothing else may differ.
  const same = (text: unknown): string => String(text).replaceAll(app, '<app>')
  return {exitCode: result.exitCode ?? -1, stdout: same(result.stdout), stderr: same(result.stderr)}
}

/** The manifest without where each command's file is (one index module instead of one file each). */
function manifestOf(app: string): unknown {
  const manifest = JSON.parse(readFileSync(path.join(app, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, Record<string, unknown>>
  }
  for (const command of Object.values(manifest.commands)) {
    delete command.isESM
    delete command.relativePath
  }
  return manifest
}

beforeAll(async () => {
  cpSync(path.join(REPO_ROOT, 'bin'), path.join(plain, 'bin'), {recursive: true})
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(plain, 'node_modules'))
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    oclif: {commands: unknown; hooks: Record<string, string>}
  }
  pkg.oclif.commands = './dist/commands'
  pkg.oclif.hooks.command_not_found = './dist/cli/hooks/command-not-found.js'
  writeFileSync(path.join(plain, 'package.json'), JSON.stringify(pkg, null, 2))
  const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc')
  // tsc (Node's compile cache on Node >= 22) and oclif's tsx keep caches in the temp folder: give
  // them one this file removes, so the run's own temp folder stays empty.
  const env = {TMPDIR: tempDir('tsc-tmp')}
  await execa(
    process.execPath,
    [tsc, '-p', path.join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', path.join(plain, 'dist')],
    {env},
  )
  await execa(process.execPath, [path.join(REPO_ROOT, 'node_modules/oclif/bin/run.js'), 'manifest'], {
    cwd: plain,
    env,
  })
}, 240_000)

describe('the bundled build shows what the tsc build shows', () => {
  it('bundles: dist holds the command index as one ASCII CommonJS file, its build id and a hook', () => {
    expect(readdirSync(path.join(REPO_ROOT, 'dist')).sort()).toEqual(['build-id', 'cli', 'index.cjs'])
    expect(readdirSync(path.join(REPO_ROOT, 'dist/cli/hooks'))).toEqual(['command-not-found.cjs'])
    // bin/load-bundle.cjs reads it as latin1.
    expect(readFileSync(path.join(REPO_ROOT, 'dist/index.cjs')).every((byte) => byte < 0x80)).toBe(true)
    expect(readFileSync(path.join(REPO_ROOT, 'dist/build-id'), 'utf8')).toMatch(/^[0-9a-f]{16}\n$/)
  })

  it('the manifest lists the same commands with the same flags', () => {
    expect(manifestOf(REPO_ROOT)).toEqual(manifestOf(plain))
  })

  it('help, errors and exit codes are identical', async () => {
    const cwd = tempDir('cwd')
    const env = baseEnv()
    const commands = Object.keys((manifestOf(plain) as {commands: object}).commands)
    const cases = [
      ['--help'],
      ['help'],
      ['help', 'push'],
      ...commands.map((command) => [command, '--help']),
      ['--version'],
      ['version', '--json'],
      ['promte'],
      ['promte', '--json'],
      ['push', '--bogus'],
      ['push', '--concurrency', 'many'],
      ['push', 'modelA/V1', '--dry-run'],
      ['push', 'modelA/V1', '--dry-run', '--json'],
      ['list', '--json'],
      ['autocomplete', '--help'],
    ]
    for (const args of cases) {
      const [bundled, unbundled] = await Promise.all([
        run(REPO_ROOT, args, env, cwd),
        run(plain, args, env, cwd),
      ])
      expect({args, ...bundled}).toEqual({args, ...unbundled})
    }
  })

  it('completion scripts are identical', async () => {
    const scripts = async (app: string): Promise<Record<string, string>> => {
      const cache = tempDir('completion')
      const env = baseEnv({XDG_CACHE_HOME: cache})
      const out: Record<string, string> = {}
      for (const shell of ['bash', 'zsh']) {
        const result = await run(app, ['autocomplete', shell], env, cache)
        expect(result.exitCode).toBe(0)
        out[`${shell} instructions`] = result.stdout.replaceAll(cache, '<cache>')
      }
      const functions = path.join(cache, 'mldeploy/autocomplete/functions')
      for (const shell of readdirSync(functions))
        for (const file of readdirSync(path.join(functions, shell)))
          // oclif loads its plugins concurrently, so whether help or autocomplete comes first in a
          // script depends on which loaded first, in either build: compare the lines, not their order.
          out[`${shell}/${file}`] = readFileSync(path.join(functions, shell, file), 'utf8')
            .split('\n')
            .sort()
            .join('\n')
      return out
    }
    const bundled = await scripts(REPO_ROOT)
    expect(Object.keys(bundled).length).toBeGreaterThan(2)
    expect(bundled).toEqual(await scripts(plain))
  })
})
