import {createHash} from 'node:crypto'
import {chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {parse} from 'yaml'
import {beforeAll, describe, expect, inject, it} from 'vitest'

import {stepOutputs} from '../../src/cli/github-actions.js'
import {createRepository} from '../helpers/aws.js'
import {baseEnv, REPO_ROOT, standInProject, tempDir, type StandInProject} from '../helpers/cli.js'
import {
  expressionsIn,
  readAction,
  runCompositeAction,
  type ActionRun,
  type CompositeStep,
} from '../helpers/composite-action.js'
import {actionlintBinary, cleanCopy, npmEnv, packageVersion, readmeBlock} from '../helpers/install.js'
import {MOTO_ACCOUNT} from '../helpers/moto.js'

// Issue 22: the repository as a composite GitHub Action (action.yml, install/action.yml), its
// scripts (scripts/action/), and the README's release workflow that uses it.
const motoUrl = inject('motoUrl')
const ACTIONS = ['action.yml', 'install/action.yml']
const REGISTRY = `${MOTO_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`
const version = packageVersion()

/** The `inputs.<name>` an expression names. */
const inputsNamed = (text: string) =>
  expressionsIn(text).flatMap((expression) => /^inputs\.([\w-]+)$/.exec(expression)?.[1] ?? [])

describe.each(ACTIONS)('%s', (file) => {
  const action = readAction(path.join(REPO_ROOT, file))

  it('is composite: bash steps that run a script of scripts/action/, no expression in a script', () => {
    expect(action.runs.using).toBe('composite')
    for (const step of action.runs.steps) {
      expect(step.shell).toBe('bash')
      // Inputs reach the scripts through env: an expression pasted into run: would be shell.
      expect(expressionsIn(step.run ?? '')).toEqual([])
      const script = /^bash "\$GITHUB_ACTION_PATH\/([\w./-]+)"$/.exec(step.run?.trim() ?? '')?.[1]
      const resolved = path.resolve(REPO_ROOT, path.dirname(file), script ?? 'missing')
      expect(path.relative(REPO_ROOT, resolved)).toMatch(/^scripts\/action\/\w+\.sh$/)
      expect(existsSync(resolved)).toBe(true)
    }
  })

  it('uses every input it declares and declares every input it uses', () => {
    const used = action.runs.steps.flatMap((step: CompositeStep) => [
      ...Object.values(step.env ?? {}).flatMap((value) => inputsNamed(String(value))),
      ...inputsNamed(step['working-directory'] ?? ''),
    ])
    expect([...new Set(used)].sort()).toEqual(Object.keys(action.inputs).sort())
    for (const input of Object.values(action.inputs)) expect(input.description).toBeTruthy()
  })

  it("maps every output to an output of one of its steps, and the steps' ids exist", () => {
    const ids = action.runs.steps.map((step) => step.id)
    for (const [name, output] of Object.entries(action.outputs)) {
      const match = /^\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}$/.exec(output.value)
      expect(match, name).not.toBeNull()
      expect(ids).toContain(match![1])
      expect(output.description).toBeTruthy()
    }
  })
})

it("action.yml's push outputs are the step outputs mldeploy writes, under their own names", () => {
  const written = stepOutputs({
    status: 'pushed',
    target: 'modelA/V1',
    images: ['r/x:latest'],
    imageByDigest: 'r/x@sha256:0',
    digest: 'sha256:0',
    bentoTag: 'x:1',
  }).map(([name]) => name)
  const mapped = Object.entries(readAction(path.join(REPO_ROOT, 'action.yml')).outputs).flatMap(
    ([name, output]) => (output.value === `\${{ steps.push.outputs.${name} }}` ? [name] : []),
  )
  expect(mapped.sort()).toEqual(written.sort())
})

describe("the README's release workflow", () => {
  const workflow = readmeBlock('### A release workflow', 'yaml')
  type Step = {uses?: string; run?: string; with?: Record<string, string>}
  const steps = Object.values((parse(workflow) as {jobs: Record<string, {steps: Step[]}>}).jobs).flatMap(
    (job) => job.steps,
  )

  it('passes actionlint (which runs shellcheck on its run: scripts)', async () => {
    const result = await execa(actionlintBinary(), ['-stdin-filename', 'release-models.yml', '-'], {
      input: workflow,
      reject: false,
    }).catch((error: Error) => {
      throw new Error(`${error.message}: bash scripts/setup-system.sh lint-tools installs actionlint`)
    })
    expect(String(result.stdout) + String(result.stderr)).toBe('')
    expect(result.exitCode).toBe(0)
  })

  it('installs mldeploy only through this action, pinned by commit SHA', () => {
    const ours = steps.filter((step) => /\/mldeploy(\/install)?@/.test(step.uses ?? ''))
    expect(ours.length).toBe(3)
    for (const step of ours) expect(step.uses).toMatch(/^[\w-]+\/mldeploy(\/install)?@[0-9a-f]{40}$/)
    for (const step of steps) {
      expect(step.run ?? '').not.toMatch(/npm (install|i)\b/)
      expect(expressionsIn(step.run ?? '')).toEqual([])
    }
  })

  it('gives the push action only inputs action.yml declares, the required ones included', () => {
    const inputs = readAction(path.join(REPO_ROOT, 'action.yml')).inputs
    const push = steps.find((step) => /\/mldeploy@/.test(step.uses ?? ''))!
    for (const name of Object.keys(push.with ?? {})) expect(Object.keys(inputs)).toContain(name)
    for (const [name, input] of Object.entries(inputs))
      if (input.required) expect(push.with).toHaveProperty(name)
  })
})

/**
 * A copy of the action with only what a script-level test needs, so that a stand-in `npm` that
 * failed to stand in would act on a throwaway folder, never on the checkout.
 */
function scriptsOnlyCopy(): string {
  const dir = tempDir('action-scripts')
  for (const file of ['action.yml', 'package.json', 'scripts/action/install.sh', 'scripts/action/push.sh']) {
    mkdirSync(path.dirname(path.join(dir, file)), {recursive: true})
    copyFileSync(path.join(REPO_ROOT, file), path.join(dir, file))
  }
  return dir
}

/** An executable script in a new bin folder. */
function standInBin(name: string, script: string): string {
  const dir = tempDir('bin')
  writeFileSync(path.join(dir, name), script)
  chmodSync(path.join(dir, name), 0o755)
  return dir
}

describe('the push step (scripts/action/push.sh) with a recording mldeploy', () => {
  const recorder =
    '#!/bin/sh\nfor arg in "$@"; do printf "%s\\n" "$arg"; done > "$(dirname "$0")/argv"\necho "{}"\n'

  async function push(inputs: Record<string, string>) {
    const action = scriptsOnlyCopy()
    const bin = standInBin('mldeploy', recorder)
    const workspace = tempDir('workspace')
    const run = await runCompositeAction({
      actionFile: path.join(action, 'action.yml'),
      inputs,
      env: baseEnv(),
      workspace,
      runnerTemp: tempDir('runner'),
      skip: ['install'],
      preset: {install: {bin}},
    })
    const argvFile = path.join(bin, 'argv')
    const argv = existsSync(argvFile) ? readFileSync(argvFile, 'utf8').split('\n').slice(0, -1) : undefined
    return {run, argv, workspace}
  }

  it('gives each input to mldeploy as its own arguments, shell characters included', async () => {
    const {run, argv, workspace} = await push({
      target: 'modelA/V1',
      tags: 'latest, git-abc123\n $(touch pwned) ',
      backend: 'docker',
      args: '--git-sha-tag  --skip-vpn-check\n--verbose',
      'result-file': 'result.json',
    })
    expect(run.exitCode, run.stderr).toBe(0)
    expect(argv).toEqual([
      'push',
      'modelA/V1',
      '--tag=latest',
      '--tag=git-abc123',
      '--tag=$(touch pwned)',
      '--backend=docker',
      '--git-sha-tag',
      '--skip-vpn-check',
      '--verbose',
      '--json',
    ])
    expect(readFileSync(path.join(workspace, 'result.json'), 'utf8')).toBe('{}\n')
    expect(existsSync(path.join(workspace, 'pwned'))).toBe(false)
  })

  it('without tags, backend or args: mldeploy push <target> and its own defaults', async () => {
    const {run, argv} = await push({target: 'modelA/V1'})
    expect(run.exitCode).toBe(0)
    expect(argv).toEqual(['push', 'modelA/V1'])
  })

  it.each([
    ['', 'the input target is required'],
    ['--registry=evil.example', "target '--registry=evil.example' is not <model>/<version>"],
  ])('refuses the target %j (exit 2) and runs nothing', async (target, message) => {
    const {run, argv} = await push({target})
    expect(run.failedStep).toBe('push')
    expect(run.exitCode).toBe(2)
    expect(run.stderr).toContain(`::error title=mldeploy push::${message}`)
    expect(argv).toBeUndefined()
  })
})

describe("the install step's tarball check (scripts/action/install.sh) with a stand-in npm", () => {
  // `npm pack` writes a tarball of known bytes; `npm install` makes the installed mldeploy.
  const TARBALL = 'a tarball\n'
  const npm = `#!/usr/bin/env bash
set -eu
case "$1" in
  ci) ;;
  pack) printf '${TARBALL.replace('\n', '\\n')}' > "$3/mldeploy-${version}.tgz" ;;
  install)
    prefix="$4"
    mkdir -p "$prefix/bin" "$prefix/lib/node_modules/mldeploy"
    echo '{"version": "${version}"}' > "$prefix/lib/node_modules/mldeploy/package.json"
    printf '#!/bin/sh\\necho mldeploy/${version}\\n' > "$prefix/bin/mldeploy" && chmod +x "$prefix/bin/mldeploy"
    echo "$@" > "$(dirname "$0")/installed" ;;
  *) exit 9 ;;
esac
`
  const sha256 = createHash('sha256').update(TARBALL).digest('hex')

  async function install(tarballSha256: string) {
    const action = scriptsOnlyCopy()
    const bin = standInBin('npm', npm)
    const runnerTemp = tempDir('runner')
    const run = await runCompositeAction({
      actionFile: path.join(action, 'action.yml'),
      inputs: {target: 'modelA/V1', 'tarball-sha256': tarballSha256},
      env: baseEnv({PATH: `${bin}:${process.env.PATH}`}),
      workspace: tempDir('workspace'),
      runnerTemp,
      skip: ['push'],
    })
    return {run, installed: existsSync(path.join(bin, 'installed')), runnerTemp}
  }

  it('installs a tarball whose sha256 is the one given (any case)', async () => {
    const {run, installed, runnerTemp} = await install(sha256.toUpperCase())
    expect(run.exitCode, run.stderr).toBe(0)
    expect(installed).toBe(true)
    expect(run.steps.install).toEqual({
      version,
      bin: path.join(runnerTemp, 'mldeploy/prefix/bin'),
      tarball: path.join(runnerTemp, `mldeploy/mldeploy-${version}.tgz`),
      'tarball-sha256': sha256,
    })
  })

  it('fails before installing a tarball with another sha256', async () => {
    const {run, installed} = await install('0'.repeat(64))
    expect(run.failedStep).toBe('install')
    expect(run.stderr).toContain(
      `::error title=mldeploy install::mldeploy-${version}.tgz has sha256 ${sha256}, not the ${'0'.repeat(64)} given in tarball-sha256`,
    )
    expect(installed).toBe(false)
  })
})

describe('the action on this machine: install from a clean copy, push against the stand-ins', () => {
  let s: StandInProject
  let runnerTemp: string
  let repository: string
  let run: ActionRun

  beforeAll(async () => {
    const action = path.join(tempDir('action'), 'mldeploy')
    await cleanCopy(action)
    s = standInProject(motoUrl)
    repository = `action-test/${process.pid}-${Date.now()}`
    await createRepository(motoUrl, repository)
    runnerTemp = tempDir('runner')
    run = await runCompositeAction({
      actionFile: path.join(action, 'action.yml'),
      inputs: {
        target: 'modelA/V1',
        tags: 'latest\ngit-abc123',
        backend: 'podman',
        args: `--skip-vpn-check --skip-disk-check --repository ${repository}`,
        'working-directory': 'deploy/modelA/V1',
        'result-file': 'result.json',
      },
      env: {...s.env, ...npmEnv(path.join(runnerTemp, 'npm-logs'))},
      workspace: s.root,
      runnerTemp,
    })
    // npm ci and npm pack of a clean copy: about 30 s on a quiet machine, minutes on a loaded one.
  }, 900_000)

  it('runs both steps', () => {
    expect(run.failedStep, run.stderr).toBeUndefined()
  })

  it('installs into the runner temp folder and puts mldeploy on PATH for later steps', () => {
    const bin = path.join(runnerTemp, 'mldeploy/prefix/bin')
    expect(run.steps.install).toMatchObject({version, bin})
    expect(run.steps.install!['tarball-sha256']).toMatch(/^[0-9a-f]{64}$/)
    expect(run.path).toEqual([bin])
    expect(run.outputs.version).toBe(version)
  })

  it("gives the action's outputs from mldeploy's step outputs, as the JSON result has them", () => {
    const result = JSON.parse(readFileSync(path.join(s.root, 'deploy/modelA/V1/result.json'), 'utf8'))
    expect(result.status).toBe('pushed')
    expect(result.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(result.images).toEqual([
      `${REGISTRY}/${repository}:latest`,
      `${REGISTRY}/${repository}:git-abc123`,
      `${REGISTRY}/${repository}:f3k2qyq5lsoaaaab`,
    ])
    expect(run.outputs).toEqual({
      image: `${REGISTRY}/${repository}:latest`,
      'image-by-digest': `${REGISTRY}/${repository}@${result.digest}`,
      digest: result.digest,
      'bento-tag': 'iris_service:f3k2qyq5lsoaaaab',
      images: JSON.stringify(result.images),
      status: 'pushed',
      version,
    })
  })

  it("labels the image with the installed package's version", () => {
    const containerize = s.bin.calls().find((call) => call.step === 'containerize')
    expect(containerize?.argv).toContain(`label=io.mldeploy.version=${version}`)
    expect(containerize?.argv).toContain('--backend')
  })
})
