import {readFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {beforeAll, describe, expect, it} from 'vitest'

import {baseEnv, makeProject, REPO_ROOT, runCli, tempDir} from '../helpers/cli.js'

// The completion scripts oclif's plugin generates for this CLI, run by a real bash, plus the
// README's snippet that completes target names.
const cache = tempDir('completion-cache')
const env = baseEnv({XDG_CACHE_HOME: cache})
const bashFunctions = path.join(cache, 'mldeploy/autocomplete/functions/bash/mldeploy.bash')
const zshFunctions = path.join(cache, 'mldeploy/autocomplete/functions/zsh/_mldeploy')

function readmeSnippet(): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')
  const match = /```bash\n(# mldeploy: complete target names\n[\s\S]*?)```/.exec(readme)
  if (match?.[1] === undefined) throw new Error('README has no target completion snippet')
  return match[1]
}

/** COMPREPLY for the words typed so far (the last one is being completed), in `cwd`. */
async function complete(words: string[], cwd: string, withTargets = false): Promise<string[]> {
  const script = [
    `source ${JSON.stringify(bashFunctions)}`,
    withTargets ? readmeSnippet() : '',
    `COMP_WORDS=(${words.map((word) => JSON.stringify(word)).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    withTargets ? '_mldeploy_with_targets' : '_mldeploy_autocomplete',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n')
  const result = await execa('bash', ['-c', script], {cwd, env, extendEnv: false})
  return String(result.stdout).split('\n').filter(Boolean).sort()
}

beforeAll(async () => {
  const result = await runCli(['autocomplete', 'bash'], {cwd: tempDir('ac'), env})
  expect(result.exitCode).toBe(0)
  expect(result.stdout).toContain('mldeploy autocomplete script bash')
})

describe('shell completion', () => {
  it('bash completes commands and their flags', async () => {
    const cwd = tempDir('cwd')
    expect(await complete(['mldeploy', ''], cwd)).toEqual(expect.arrayContaining(['doctor', 'init', 'push']))
    expect(await complete(['mldeploy', 'do'], cwd)).toEqual(['doctor'])
    expect(await complete(['mldeploy', 'push', '--ba'], cwd)).toEqual(['--backend'])
    expect(await complete(['mldeploy', 'init', '--fr'], cwd)).toEqual(['--from'])
    expect(await complete(['mldeploy', 'doctor', '--ti'], cwd)).toEqual(['--timeout'])
  })

  it('zsh gets the commands, flag options and file completion for arguments', () => {
    const zsh = readFileSync(zshFunctions, 'utf8')
    expect(zsh).toContain('"doctor[Check that this machine and project can push')
    expect(zsh).toContain('"init[Scaffold a deploy target')
    expect(zsh).toMatch(/--backend"\[[^\n]*\]:backend options:\(podman docker\)"/)
    expect(zsh).toContain('"*: :_files"')
  })

  it("the README's bash snippet completes target names from the nearest deploy/ folder", async () => {
    const root = makeProject({'deploy/modelA/V2/service.py': '', 'deploy/iris/V1/service.py': ''})
    const sub = path.join(root, 'deploy/modelA')
    expect(await complete(['mldeploy', 'push', ''], sub, true)).toEqual(['iris/V1', 'modelA/V1', 'modelA/V2'])
    expect(await complete(['mldeploy', 'doctor', 'mo'], root, true)).toEqual(['modelA/V1', 'modelA/V2'])
    expect(await complete(['mldeploy', 'init', 'x', '--from', 'ir'], root, true)).toEqual(['iris/V1'])
    // Flags still complete as flags; outside a project there is nothing to offer.
    expect(await complete(['mldeploy', 'push', '--dry'], root, true)).toEqual(['--dry-run'])
    expect(await complete(['mldeploy', 'push', ''], tempDir('none'), true)).toEqual([])
  })
})
