import {existsSync, readdirSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {beforeAll, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {baseEnv, makeProject, standInProject, tempDir} from '../helpers/cli.js'
import {cleanCopy, npmEnv, packageVersion, readmeBlock} from '../helpers/install.js'
import {MOTO_ACCOUNT} from '../helpers/moto.js'

// The README's Install section as written, from a clean copy of the repository (issue 22): the
// commands of its blocks run one by one, npm's global folder pointed at a temp prefix, then the
// installed `mldeploy` runs from outside the copy.
const motoUrl = inject('motoUrl')
const version = packageVersion()

let work: string
let source: string
let prefix: string
let env: Record<string, string>
/** `npm pack` in the clean copy before `npm ci`: the build's tools are missing. */
let packWithoutDevDependencies: {exitCode: number; stderr: string}

/** The commands of a README sh block, one by one (`a && b` is two): comments dropped, `<version>` filled in. */
function commandsOf(block: string): string[] {
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .flatMap((line) => line.split(' && '))
    .map((line) => line.replaceAll('<version>', version))
}

async function shell(command: string, cwd: string, extraEnv: Record<string, string> = {}) {
  const result = await execa('bash', ['-euo', 'pipefail', '-c', command], {
    cwd,
    env: {...env, ...extraEnv},
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    all: true,
  })
  if (result.exitCode !== 0) throw new Error(`${command} exited ${result.exitCode}:\n${String(result.all)}`)
}

/** The installed mldeploy, found on PATH as a user's shell would, run from `cwd`. */
function mldeploy(args: string[], cwd: string, extraEnv: Record<string, string> = {}, binDir = prefix) {
  return execa('mldeploy', args, {
    cwd,
    env: {...env, ...extraEnv, PATH: `${path.join(binDir, 'bin')}:${extraEnv.PATH ?? env.PATH}`},
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  })
}

beforeAll(async () => {
  work = tempDir('install')
  source = path.join(work, 'mldeploy')
  prefix = path.join(work, 'prefix')
  await cleanCopy(source)
  // npm_config_prefix is where `npm install -g` puts packages: a temp folder, not the machine's.
  env = baseEnv({...npmEnv(path.join(work, 'npm-logs')), npm_config_prefix: prefix})
  const pack = await execa('npm', ['pack'], {
    cwd: source,
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  })
  packWithoutDevDependencies = {exitCode: pack.exitCode ?? -1, stderr: String(pack.stderr)}
  for (const command of commandsOf(readmeBlock('## Install', 'sh'))) await shell(command, source)
  // npm ci and npm pack of a clean copy: about 30 s on a quiet machine, minutes on a loaded one.
}, 900_000)

describe("the README's install from a clean copy", () => {
  it('npm pack without npm ci first: one line naming the fix, no stack', () => {
    expect(packWithoutDevDependencies.exitCode).not.toBe(0)
    const ours = packWithoutDevDependencies.stderr.split('\n').filter((line) => line.startsWith('mldeploy:'))
    expect(ours).toEqual([
      `mldeploy: the build needs the dev dependencies (esbuild, oclif missing): run \`npm ci\` in ${source} first.`,
    ])
    expect(packWithoutDevDependencies.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|^\s+at /m)
  })

  it('builds the tarball and installs it under the prefix', () => {
    expect(existsSync(path.join(source, `mldeploy-${version}.tgz`))).toBe(true)
    expect(existsSync(path.join(prefix, 'lib/node_modules/mldeploy/dist/index.cjs'))).toBe(true)
  })

  it('gives a mldeploy on PATH that answers --version outside the copy', async () => {
    const outside = tempDir('outside')
    const which = await execa('bash', ['-c', 'command -v mldeploy'], {
      cwd: outside,
      env: {...env, PATH: `${path.join(prefix, 'bin')}:${env.PATH}`},
      extendEnv: false,
    })
    expect(String(which.stdout)).toBe(path.join(prefix, 'bin/mldeploy'))
    const result = await mldeploy(['--version'], outside)
    expect(result.exitCode).toBe(0)
    expect(String(result.stdout)).toMatch(new RegExp(`^mldeploy/${version.replaceAll('.', '\\.')} `))
    const json = await mldeploy(['version', '--json'], outside)
    expect(JSON.parse(String(json.stdout))).toEqual({version})
  })

  it('plans a push offline in a project', async () => {
    const project = makeProject()
    const result = await mldeploy(['push', 'modelA/V1', '--dry-run', '--offline', '--json'], project)
    expect(result.exitCode).toBe(0)
    const plan = JSON.parse(String(result.stdout)) as {status: string; target: string; repository: string}
    expect(plan).toMatchObject({status: 'planned', target: 'modelA/V1', repository: 'modela/v1'})
  })

  it("labels the image with the installed package's version (io.mldeploy.version)", async () => {
    // A push with the recording stand-ins for python and podman against moto: the labels reach
    // `bentoml containerize` as --opt label=KEY=VALUE.
    const repository = `install-test/${process.pid}-${Date.now()}`
    await createRepository(motoUrl, repository)
    const s = standInProject(motoUrl)
    const pushArgs = [
      'push',
      'modelA/V1',
      '--skip-vpn-check',
      '--skip-disk-check',
      '--repository',
      repository,
    ]
    const result = await mldeploy([...pushArgs, '--json'], s.root, s.env)
    expect(result.exitCode, String(result.stderr)).toBe(0)
    expect(JSON.parse(String(result.stdout)).registry).toBe(`${MOTO_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`)
    const containerize = s.bin.calls().find((call) => call.step === 'containerize')
    expect(containerize?.argv).toContain(`label=io.mldeploy.version=${version}`)
  })

  it("the development install (README's second block) links the clone's mldeploy", async () => {
    const linkPrefix = path.join(work, 'link-prefix')
    const commands = commandsOf(readmeBlock('From a clone, for development:', 'sh'))
    // Its `npm ci` is the first block's, which ran in this copy already: not run twice (~15 s).
    expect(commands[0]).toBe('npm ci')
    for (const command of commands.slice(1)) await shell(command, source, {npm_config_prefix: linkPrefix})
    const outside = tempDir('outside')
    const result = await mldeploy(['version', '--json'], outside, {}, linkPrefix)
    expect(JSON.parse(String(result.stdout))).toEqual({version})
  })

  it("kept npm's logs in its own folder (removed with it), none in the home folder", () => {
    expect(readdirSync(path.join(work, 'npm-logs')).length).toBeGreaterThan(0)
    expect(existsSync(path.join(env.HOME!, '.npm'))).toBe(false)
  })
})
