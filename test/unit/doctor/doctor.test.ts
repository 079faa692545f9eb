import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {type Check, runChecks} from '../../../src/doctor/checks.js'
import {
  bentomlOutcome,
  DISK_FAIL_BELOW,
  DISK_WARN_BELOW,
  diskStatus,
  nodeOutcome,
  probeBackend,
  pythonOutcome,
} from '../../../src/doctor/doctor.js'
import {resolveDoctorSettings} from '../../../src/doctor/settings.js'
import {DeployError} from '../../../src/errors.js'
import type {ChildResult} from '../../../src/process.js'
import {makeProject, tempDir} from '../../helpers/cli.js'

const child = (tail: string[], exitCode = 0): ChildResult => ({
  exitCode,
  timedOut: false,
  canceled: false,
  tail,
  durationMs: 1,
})

describe('doctor outcomes', () => {
  it('Node: fails below the engines minimum (20 at its end of life, 22 before 22.13), passes on 22.13+', () => {
    expect(nodeOutcome('18.20.0').status).toBe('fail')
    const node20 = nodeOutcome('20.20.2')
    expect(node20.status).toBe('fail')
    expect(node20.message).toBe(
      "Node 20.20.2: Node 20 is past its end of life (Node 20's was 2026-04-30, no more security fixes); mldeploy needs Node >= 22.13.0.",
    )
    expect(node20.fix).toMatch(/Node 22 or 24/)
    expect(nodeOutcome('22.12.0')).toMatchObject({
      status: 'fail',
      message: 'Node 22.12.0 is older than 22.13.0, the oldest mldeploy runs on.',
    })
    expect(nodeOutcome('22.13.0').status).toBe('pass')
    expect(nodeOutcome('24.1.0').status).toBe('pass')
  })

  it('Python: the fallback python3 says why it was chosen (text and data); a chosen one says where from', () => {
    const why =
      'no virtualenv active (VIRTUAL_ENV), no Pipfile at the project root; set MLDEPLOY_PYTHON (or --python) to choose'
    const python3 = {command: 'python3', prefix: [], env: {}, description: 'python3', fallback: why}
    const fallback = pythonOutcome(
      {python: {value: python3, source: 'default'}},
      child(['/usr/bin/python3', '3.11.2', '0']),
    )
    expect(fallback).toMatchObject({
      status: 'warn',
      message: `python3 (${why}): Python 3.11.2 at /usr/bin/python3, not a virtualenv.`,
      data: {command: 'python3', source: 'default', fallback: why},
    })
    expect(pythonOutcome({python: {value: python3, source: 'default'}}, child([], 1)).message).toBe(
      `python3 (${why}) does not start.`,
    )
    const chosen = pythonOutcome(
      {
        python: {
          value: {command: '/venv/bin/python', prefix: [], env: {}, description: '/venv/bin/python'},
          source: 'env VIRTUAL_ENV',
        },
      },
      child(['/venv/bin/python', '3.11.2', '1']),
    )
    expect(chosen.message).toBe(
      '/venv/bin/python (from env VIRTUAL_ENV): Python 3.11.2 at /venv/bin/python (virtualenv).',
    )
    expect(chosen.data).not.toHaveProperty('fallback')
  })

  it('bentoml: missing and too old fail with a fix, >= 1.4.25 passes', () => {
    const missing = bentomlOutcome('python3', child(["ModuleNotFoundError: No module named 'bentoml'"], 1))
    expect(missing).toMatchObject({status: 'fail', message: 'bentoml is not installed in python3.'})
    expect(missing.detail).toContain('ModuleNotFoundError')
    expect(bentomlOutcome('python3', child(['1.4.24'])).status).toBe('fail')
    expect(bentomlOutcome('python3', child(['1.4.25'])).status).toBe('pass')
    expect(bentomlOutcome('python3', child(['noise', '1.5.0'])).data).toEqual({version: '1.5.0'})
  })

  it('disk: fails under 2 GiB, warns under 10 GiB', () => {
    expect(diskStatus(DISK_FAIL_BELOW - 1, '/d', '/d', 'x').status).toBe('fail')
    expect(diskStatus(DISK_WARN_BELOW - 1, '/d', '/d', 'x').status).toBe('warn')
    const ok = diskStatus(DISK_WARN_BELOW, '/d/store', '/d', 'BENTOML_HOME')
    expect(ok.status).toBe('pass')
    expect(ok.message).toBe('10.0 GiB free at /d/store (not created yet; measured at /d) (BENTOML_HOME).')
  })

  it('docker: a daemon that does not answer fails; podman info gives version and storage', async () => {
    const calls: string[][] = []
    const down = await probeBackend('docker', async (args) => {
      calls.push(args)
      return child(['Cannot connect to the Docker daemon at unix:///var/run/docker.sock.'], 1)
    })
    expect(calls).toEqual([['version', '--format', '{{.Server.Version}}']])
    expect(down.outcome.status).toBe('fail')
    expect(down.outcome.fix).toMatch(/--backend podman/)

    const up = await probeBackend('docker', async (args) =>
      child([args[0] === 'version' ? '27.1.0' : '/srv/docker']),
    )
    expect(up.outcome).toMatchObject({status: 'pass', message: 'docker daemon 27.1.0 answers.'})
    expect(up.dataDir).toBe('/srv/docker')

    const podman = await probeBackend('podman', async () => child(['4.3.1|/var/lib/containers/storage']))
    expect(podman.outcome.status).toBe('pass')
    expect(podman.dataDir).toBe('/var/lib/containers/storage')
  })
})

describe('runChecks', () => {
  it('runs checks concurrently, each under its own timeout, and turns throws into fails', async () => {
    let aborted = false
    const checks: Check[] = [
      {
        id: 'slow',
        title: 'Slow',
        timeoutMs: 200,
        run: (signal) =>
          new Promise((resolve) => {
            signal.addEventListener('abort', () => {
              aborted = true
            })
            setTimeout(() => resolve({status: 'pass', message: 'late'}), 5000)
          }),
      },
      {
        id: 'throws',
        title: 'Throws',
        timeoutMs: 1000,
        run: async () => {
          throw new DeployError('preflight', 'It broke.', {hint: 'Fix it.', detail: 'raw'})
        },
      },
      {
        id: 'fine',
        title: 'Fine',
        timeoutMs: 1000,
        run: () => new Promise((resolve) => setTimeout(() => resolve({status: 'pass', message: 'ok'}), 100)),
      },
    ]
    const started = Date.now()
    const results = await runChecks(checks)
    expect(Date.now() - started).toBeLessThan(1000)
    expect(results.map((r) => r.id)).toEqual(['slow', 'throws', 'fine'])
    expect(results[0]).toMatchObject({status: 'fail', message: 'No answer within 0.2 s.'})
    expect(aborted).toBe(true)
    expect(results[1]).toMatchObject({status: 'fail', message: 'It broke.', fix: 'Fix it.', detail: 'raw'})
    expect(results[2]).toMatchObject({status: 'pass', message: 'ok'})
  })
})

describe('resolveDoctorSettings', () => {
  it('with a target, resolves as push does (target .env over root .env, stage files first)', () => {
    const root = makeProject({
      '.env': 'MLDEPLOY_BACKEND=docker\nMLDEPLOY_REPOSITORY=root/repo\n',
      'deploy/modelA/V1/.env': 'MLDEPLOY_REPOSITORY=target/repo\n',
      'deploy/modelA/V1/.env.production': 'AWS_REGION=eu-west-1\n',
    })
    const settings = resolveDoctorSettings('modelA/V1', {stage: 'production'}, {}, root)
    expect(settings.backend).toEqual({value: 'docker', source: '.env MLDEPLOY_BACKEND'})
    expect(settings.repository).toEqual({
      value: 'target/repo',
      source: 'deploy/modelA/V1/.env MLDEPLOY_REPOSITORY',
    })
    expect(settings.region).toEqual({
      value: 'eu-west-1',
      source: 'deploy/modelA/V1/.env.production AWS_REGION',
    })
    expect(settings.cwd).toBe(path.join(root, 'deploy/modelA/V1'))
  })

  it('without a target, reads the root .env files; flags win; a missing stage file is a usage error', () => {
    const root = makeProject({
      '.env': 'MLDEPLOY_BACKEND=docker\nMLFLOW_TRACKING_URI=https://mlflow.corp.example:8443\n',
      '.env.development': 'MLDEPLOY_ACCOUNT_ID=123456789012\n',
    })
    const settings = resolveDoctorSettings(undefined, {stage: 'development'}, {}, path.join(root, 'deploy'))
    expect(settings.root).toBe(root)
    expect(settings.target).toBeUndefined()
    expect(settings.backend.value).toBe('docker')
    expect(settings.accountId).toEqual({
      value: '123456789012',
      source: '.env.development MLDEPLOY_ACCOUNT_ID',
    })
    expect(settings.vpnCheck?.value).toEqual({
      host: 'mlflow.corp.example',
      port: 8443,
      mlflow: 'https://mlflow.corp.example:8443',
    })
    expect(settings.envFiles).toEqual(['.env.development', '.env'])
    expect(resolveDoctorSettings(undefined, {backend: 'podman'}, {}, root).backend).toEqual({
      value: 'podman',
      source: 'flag --backend',
    })
    expect(() => resolveDoctorSettings(undefined, {stage: 'prod'}, {}, root)).toThrow(
      /no \.env\.prod nor a stages: prod entry of mldeploy\.yaml in/,
    )
    writeFileSync(path.join(root, '.env'), 'MLDEPLOY_BACKEND=kaniko\n')
    expect(() => resolveDoctorSettings(undefined, {}, {}, root)).toThrow(/Unknown backend "kaniko"/)
  })

  it('outside any project, uses flags and the environment only', () => {
    const settings = resolveDoctorSettings(undefined, {}, {MLDEPLOY_BACKEND: 'docker'}, tempDir('nowhere'))
    expect(settings.root).toBeUndefined()
    expect(settings.envFiles).toEqual([])
    expect(settings.backend).toEqual({value: 'docker', source: 'env MLDEPLOY_BACKEND'})
    expect(() => resolveDoctorSettings(undefined, {stage: 'x'}, {}, tempDir('nowhere'))).toThrow(
      /needs a project/,
    )
  })
})
