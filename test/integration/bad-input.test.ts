import {mkdirSync, symlinkSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, inject, it} from 'vitest'

import {motoEnv} from '../helpers/aws.js'
import {baseEnv, fakeBin, makeProject, runCli} from '../helpers/cli.js'

// Every bad input: a one-line error naming what is wrong, exit 2, and no child process started
// (the recording stand-ins for python, podman and docker log nothing).
const motoUrl = inject('motoUrl')

interface Case {
  name: string
  args: string[]
  env?: Record<string, string>
  files?: Record<string, string>
  prepare?: (root: string) => void
  /** Where it runs, under the project root (the root itself by default). */
  cwd?: string
  message: RegExp
}

const long = 'x'.repeat(300)

const CASES: Case[] = [
  {
    name: 'no target',
    args: [],
    message: /Missing target: name one or more as <model>\/<version>, or use --all/,
  },
  {
    name: 'no target inside a model folder',
    args: [],
    files: {'deploy/modelA/V10/service.py': '', 'deploy/modelA/V2/service.py': ''},
    cwd: 'deploy/modelA',
    message:
      /^Error: Missing target: deploy\/modelA\/ holds versions V1, V2, V10: run mldeploy push modelA\/V1 \(or cd into a version\)\.$/,
  },
  {
    name: '. inside a model folder',
    args: ['.'],
    cwd: 'deploy/modelA',
    message:
      /^Error: No target here: deploy\/modelA\/ holds version V1: name one as modelA\/V1 \(or cd into a version\)\.$/,
  },
  {name: 'target leaving deploy/', args: ['../x/V1'], message: /leaves deploy\//},
  {name: 'target escaping through ..', args: ['modelA/../../etc'], message: /leaves deploy\//},
  {name: 'absolute target', args: ['/etc/passwd'], message: /is an absolute path/},
  {name: 'target without version', args: ['modelA'], message: /not of the form <model>\/<version>/},
  {name: 'target too deep', args: ['a/b/c'], message: /not of the form <model>\/<version>/},
  {name: 'missing target', args: ['modelZ/V9'], message: /Target modelZ\/V9 not found/},
  {name: 'unicode target', args: ['modèle/V1'], message: /invalid folder name "modèle"/},
  {name: 'very long target', args: [`${long}/V1`], message: /invalid folder name/},
  {
    name: 'target symlinked outside deploy/',
    args: ['linked/V1'],
    prepare: (root) => {
      const outside = makeProject()
      mkdirSync(path.join(root, 'deploy/linked'))
      symlinkSync(path.join(outside, 'deploy/modelA/V1'), path.join(root, 'deploy/linked/V1'))
    },
    message: /resolves to .*, outside/,
  },
  {
    name: 'target missing service.py',
    args: ['modelB/V1'],
    files: {'deploy/modelB/V1/create_bento_model.py': ''},
    message: /missing service.py/,
  },
  {
    name: 'invalid repository',
    args: ['modelA/V1', '--repository', 'Bad Repo'],
    message: /not a valid ECR repository name/,
  },
  {name: 'empty repository', args: ['modelA/V1', '--repository='], message: /--repository is empty/},
  {
    name: 'unicode repository',
    args: ['modelA/V1', '--ecr-name', 'módelo'],
    message: /not a valid ECR repository name/,
  },
  {
    name: 'very long repository',
    args: ['modelA/V1', '--repository', long],
    message: /not a valid ECR repository name/,
  },
  {name: 'tag starting with -', args: ['modelA/V1', '--tag=-bad'], message: /not a valid image tag/},
  {name: 'tag too long', args: ['modelA/V1', '--tag', 'a'.repeat(129)], message: /not a valid image tag/},
  {name: 'unicode tag', args: ['modelA/V1', '--tag', 'ünï'], message: /not a valid image tag/},
  {
    name: 'empty tag in MLDEPLOY_TAGS',
    args: ['modelA/V1'],
    env: {MLDEPLOY_TAGS: 'a,,b'},
    message: /"" is not a valid image tag/,
  },
  {
    name: 'unknown backend',
    args: ['modelA/V1', '--backend', 'kubernetes'],
    message: /Expected --backend=kubernetes to be one of: podman, docker/,
  },
  {
    name: 'unknown backend from env',
    args: ['modelA/V1'],
    env: {MLDEPLOY_BACKEND: 'buildah'},
    message: /Unknown backend "buildah" \(from env MLDEPLOY_BACKEND\)/,
  },
  {
    name: 'malformed region',
    args: ['modelA/V1', '--region', 'us_east_1'],
    message: /"us_east_1" is not an AWS region/,
  },
  {
    name: 'malformed region from env',
    args: ['modelA/V1'],
    env: {AWS_REGION: 'US-EAST-1'},
    message: /from env AWS_REGION/,
  },
  {
    name: 'vpn check without port',
    args: ['modelA/V1', '--vpn-check', 'mlflow.vpn'],
    message: /is not host:port/,
  },
  {name: 'vpn check port 0', args: ['modelA/V1', '--vpn-check', 'mlflow.vpn:0'], message: /is not host:port/},
  {
    name: 'vpn check port too big',
    args: ['modelA/V1', '--vpn-check', 'mlflow.vpn:70000'],
    message: /is not host:port/,
  },
  {name: 'empty vpn check', args: ['modelA/V1', '--vpn-check='], message: /--vpn-check is empty/},
  {name: 'vpn timeout 0', args: ['modelA/V1', '--vpn-timeout', '0'], message: /greater than or equal to 1/},
  {
    name: 'malformed root .env',
    args: ['modelA/V1'],
    files: {'.env': 'OK=1\nnot a setting\n'},
    message: /\.env:2 is not a KEY=value line/,
  },
  {
    name: 'malformed target .env',
    args: ['modelA/V1'],
    files: {'deploy/modelA/V1/.env': '=novalue\n'},
    message: /deploy\/modelA\/V1\/\.env:1 is not a KEY=value line/,
  },
  {name: 'bad account id', args: ['modelA/V1', '--account-id', '12345'], message: /not an AWS account id/},
  {
    name: 'bad registry',
    args: ['modelA/V1', '--registry', 'http://bad host'],
    message: /not a registry host/,
  },
  {name: 'bad platform', args: ['modelA/V1', '--platform', 'amd64'], message: /is not os\/arch/},
  {
    name: 'bad bento version',
    args: ['modelA/V1', '--bento-version', 'UPPER'],
    message: /Bento version "UPPER"/,
  },
  {
    name: 'bad timeout duration',
    args: ['modelA/V1', '--timeout', 'build=forever'],
    message: /"forever" is not a duration/,
  },
  {
    name: 'zero timeout',
    args: ['modelA/V1', '--timeout', 'build=0'],
    message: /--timeout build: "0" is too short: it must be at least 1s/,
  },
  {
    name: 'timeout in milliseconds',
    args: ['modelA/V1', '--timeout', 'preflight=1ms'],
    message: /"1ms": ms is not a unit: use s, m or h/,
  },
  {
    name: 'fractional milliseconds timeout',
    args: ['modelA/V1', '--timeout', 'build=0.5ms'],
    message: /"0.5ms": ms is not a unit: use s, m or h/,
  },
  {
    name: 'unclosed quote in .env',
    args: ['modelA/V1'],
    files: {'.env': 'NOTE="abc\nMLDEPLOY_BACKEND docker\n'},
    message: /\.env:1 opens a " quote that never closes/,
  },
  {
    name: 'timeout of an unknown step',
    args: ['modelA/V1', '--timeout', 'deploy=1m'],
    message: /"deploy=1m" is not <step>=<duration>/,
  },
  {name: 'stage with a path', args: ['modelA/V1', '--stage', '../etc'], message: /not a stage name/},
  {
    name: 'stage without its file',
    args: ['modelA/V1', '--stage', 'production'],
    message: /no \.env\.production/,
  },
  {
    name: 'root without deploy/',
    args: ['modelA/V1', '--root', '/tmp'],
    message: /--root \/tmp has no deploy\/ folder/,
  },
  {name: 'unknown flag', args: ['modelA/V1', '--frobnicate'], message: /Nonexistent flag: --frobnicate/},
  // Image format and deploy target (issue 11).
  {
    name: 'unknown image format',
    args: ['modelA/V1', '--image-format', 'v2s2'],
    message: /Expected --image-format=v2s2 to be one of: docker, oci/,
  },
  {
    name: 'unknown image format from the environment',
    args: ['modelA/V1'],
    env: {MLDEPLOY_IMAGE_FORMAT: 'docker-v1'},
    message:
      /Unknown image format "docker-v1" \(from environment MLDEPLOY_IMAGE_FORMAT\)|Unknown image format "docker-v1"/,
  },
  {
    name: 'unknown deploy target',
    args: ['modelA/V1', '--deploy-target', 'lambda'],
    message: /Expected --deploy-target=lambda to be one of: sagemaker, any/,
  },
  {
    name: 'sagemaker with oci',
    args: ['modelA/V1', '--deploy-target', 'sagemaker', '--image-format', 'oci'],
    message: /sagemaker .* cannot run an OCI image/,
  },
  {
    name: 'sagemaker with oci from the environment',
    args: ['modelA/V1', '--deploy-target', 'sagemaker'],
    env: {MLDEPLOY_IMAGE_FORMAT: 'oci'},
    message: /cannot run an OCI image/,
  },
  {
    name: 'docker classic builder with oci',
    args: ['modelA/V1', '--backend', 'docker', '--image-format', 'oci'],
    env: {DOCKER_BUILDKIT: '0'},
    message: /--backend docker cannot make an OCI image here.*classic builder/,
  },
]

describe('bad input', () => {
  it('has at least 30 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30)
  })

  it.each(CASES)('$name: one line, exit 2, no child process', async (c) => {
    const root = makeProject(c.files)
    c.prepare?.(root)
    const bin = fakeBin()
    const env = baseEnv({
      ...motoEnv(motoUrl),
      PATH: `${bin.dir}:${process.env.PATH}`,
      FAKE_LOG: bin.log,
      MLDEPLOY_PYTHON: path.join(bin.dir, 'python'),
      ...c.env,
    })
    const cwd = path.join(root, c.cwd ?? '')
    const result = await runCli(['push', ...c.args], {cwd, env})
    expect(result.exitCode).toBe(2)
    const lines = result.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^Error: /)
    expect(lines[0]).toMatch(c.message)
    expect(result.stdout).toBe('')
    expect(bin.calls()).toEqual([])

    const json = await runCli(['push', ...c.args, '--json'], {cwd, env})
    expect(json.exitCode).toBe(2)
    expect(JSON.parse(json.stdout).error).toMatchObject({kind: 'usage', exitCode: 2})
    expect(bin.calls()).toEqual([])
  })
})
