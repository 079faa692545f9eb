import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {execa} from 'execa'

import {motoEnv} from './aws.js'
import {MOTO_PASSWORD} from './moto.js'

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..')
export const CLI = path.join(REPO_ROOT, 'bin/run.cjs')
const FAKE_TOOL = path.join(REPO_ROOT, 'test/fixtures/bin/fake-tool.js')

export interface CliResult {
  exitCode: number
  stdout: string
  stderr: string
}

/** Run the built CLI as a user would: a separate process, no TTY, its own environment. */
export async function runCli(
  args: string[],
  options: {cwd: string; env: Record<string, string>},
): Promise<CliResult> {
  const result = await execa(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  })
  return {exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr)}
}

/** Every folder `tempDir` made in this test file; test/setup.ts removes them after the file. */
const made: string[] = []

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `mldeploy-test-${prefix}-`))
  made.push(dir)
  return dir
}

/** Remove what `tempDir` made (projects, fake bins, homes): a run leaves nothing behind. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) {
    // Tests may leave a folder read-only; make it writable again so it can go.
    try {
      chmodSync(dir, 0o700)
    } catch {
      // Already gone.
    }
    rmSync(dir, {recursive: true, force: true, maxRetries: 3})
  }
}

/** A project in the template's layout with one deploy target and the given extra files. */
export function makeProject(files: Record<string, string> = {}, target = 'modelA/V1'): string {
  const root = tempDir('project')
  const dir = path.join(root, 'deploy', target)
  mkdirSync(dir, {recursive: true})
  writeFileSync(path.join(dir, 'create_bento_model.py'), 'import bentoml\n')
  writeFileSync(path.join(dir, 'service.py'), 'import bentoml\n')
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), {recursive: true})
    writeFileSync(path.join(root, file), content)
  }
  return root
}

export interface FakeCall {
  tool: string
  step: string
  argv: string[]
  cwd: string
  stdin: string
  env: Record<string, string>
  awsCredentials: boolean
}

/** A bin folder whose python, podman and docker are the recording fake tool. */
export function fakeBin(): {dir: string; log: string; calls(): FakeCall[]} {
  const dir = tempDir('bin')
  for (const name of ['python', 'podman', 'docker']) symlinkSync(FAKE_TOOL, path.join(dir, name))
  chmodSync(FAKE_TOOL, 0o755)
  const log = path.join(dir, 'calls.jsonl')
  writeFileSync(log, '')
  return {
    dir,
    log,
    calls: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as FakeCall),
  }
}

/** A minimal environment: no AWS credentials or settings of the developer's leak into a test. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: tempDir('home'),
    // The run's own temp folder (scripts/test.sh): what the CLI leaves there fails the run.
    ...(process.env.TMPDIR === undefined ? {} : {TMPDIR: process.env.TMPDIR}),
    // No instance metadata service here: skip the SDK's wait for one when no credentials are set.
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  }
}

export interface StandInProject {
  root: string
  bin: ReturnType<typeof fakeBin>
  env: Record<string, string>
}

/**
 * A project with one target, the recording stand-ins for python/podman/docker first on PATH, and
 * the real AWS SDK pointed at moto (whose ECR password the stand-in login expects).
 */
export function standInProject(
  motoUrl: string,
  extraEnv: Record<string, string> = {},
  files: Record<string, string> = {},
): StandInProject {
  const root = makeProject(files)
  const bin = fakeBin()
  const env = baseEnv({
    ...motoEnv(motoUrl),
    PATH: `${bin.dir}:${process.env.PATH}`,
    FAKE_LOG: bin.log,
    FAKE_PASSWORD: MOTO_PASSWORD,
    MLDEPLOY_PYTHON: path.join(bin.dir, 'python'),
    ...extraEnv,
  })
  return {root, bin, env}
}

/** Running, not a zombie (an orphan's zombie waits for this sandbox's init to reap it). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/**
 * Send `signal` to `child` once, when its stderr so far matches `pattern`. Once only: a signal
 * that lands in the last milliseconds of Node's own exit, after its handlers are gone, ends the
 * process by the signal (exit code undefined), which is Node's and not what the test is about.
 */
export function signalWhen(
  child: {stderr: NodeJS.ReadableStream | null; kill(signal: NodeJS.Signals): boolean},
  pattern: RegExp,
  signal: NodeJS.Signals = 'SIGINT',
): void {
  let stderr = ''
  let sent = false
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
    if (!sent && pattern.test(stderr)) sent = child.kill(signal)
  })
}
