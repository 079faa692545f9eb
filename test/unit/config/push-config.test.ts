import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {parseEnvFile} from '../../../src/config/env-layers.js'
import {resolvePushConfig} from '../../../src/config/push-config.js'
import {parseDuration} from '../../../src/config/timeouts.js'
import {UsageError} from '../../../src/errors.js'
import {makeProject} from '../../helpers/cli.js'

const ENV_FILES = {
  '.env':
    'MLDEPLOY_BACKEND=docker\nMLDEPLOY_REPOSITORY=root-repo\nAWS_DEFAULT_REGION=eu-west-1\nMLDEPLOY_TAGS=a, b\n',
  'deploy/modelA/V1/.env': '# the target wins over the root\nMLDEPLOY_REPOSITORY=target-repo\n',
}

describe('configuration precedence: flags > environment > target .env > root .env > defaults', () => {
  it('uses defaults when nothing is set', () => {
    const root = makeProject()
    const config = resolvePushConfig('modelA/V1', {}, {PATH: '/usr/bin'}, root)
    expect(config.backend).toEqual({value: 'podman', source: 'default'})
    expect(config.repository).toEqual({value: 'modela/v1', source: 'derived from modelA/V1'})
    expect(config.tags).toEqual({value: ['latest'], source: 'default'})
    expect(config.region).toBeUndefined()
    expect(config.python.value.command).toBe('python3')
    expect(config.vpnCheck).toBeUndefined()
    expect(config.vpnTimeoutMs).toBe(3000)
  })

  it('reads .env files, the target over the root', () => {
    const root = makeProject(ENV_FILES)
    const config = resolvePushConfig('modelA/V1', {}, {}, root)
    expect(config.backend).toEqual({value: 'docker', source: '.env MLDEPLOY_BACKEND'})
    expect(config.repository).toEqual({
      value: 'target-repo',
      source: 'deploy/modelA/V1/.env MLDEPLOY_REPOSITORY',
    })
    expect(config.region).toEqual({value: 'eu-west-1', source: '.env AWS_DEFAULT_REGION'})
    expect(config.tags.value).toEqual(['a', 'b'])
    expect(config.envFiles).toEqual(['deploy/modelA/V1/.env', '.env'])
  })

  it('lets MLDEPLOY_* override the files, keeps the files over ambient AWS_REGION, and flags override all', () => {
    const root = makeProject(ENV_FILES)
    const env = {MLDEPLOY_REPOSITORY: 'env-repo', AWS_REGION: 'ap-south-1', AWS_DEFAULT_REGION: 'us-west-2'}
    const fromEnv = resolvePushConfig('modelA/V1', {}, env, root)
    expect(fromEnv.repository).toEqual({value: 'env-repo', source: 'env MLDEPLOY_REPOSITORY'})
    // CI's ambient AWS_REGION does not move a target whose own files name a region.
    expect(fromEnv.region).toEqual({value: 'eu-west-1', source: '.env AWS_DEFAULT_REGION'})
    expect(fromEnv.shadowed).toEqual([
      {
        label: 'Repository',
        used: {value: 'env-repo', source: 'env MLDEPLOY_REPOSITORY'},
        unused: {value: 'target-repo', source: 'deploy/modelA/V1/.env MLDEPLOY_REPOSITORY'},
        winner: 'environment',
        override: '--repository or MLDEPLOY_REPOSITORY',
      },
      {
        label: 'Region',
        used: {value: 'eu-west-1', source: '.env AWS_DEFAULT_REGION'},
        unused: {value: 'ap-south-1', source: 'env AWS_REGION'},
        winner: 'files',
        override: '--region or MLDEPLOY_REGION',
      },
    ])
    // An explicit MLDEPLOY_REGION overrides the files, and says so.
    const explicit = resolvePushConfig('modelA/V1', {}, {...env, MLDEPLOY_REGION: 'ca-central-1'}, root)
    expect(explicit.region).toEqual({value: 'ca-central-1', source: 'env MLDEPLOY_REGION'})
    expect(explicit.shadowed.find((each) => each.label === 'Region')).toMatchObject({
      winner: 'environment',
      unused: {value: 'eu-west-1', source: '.env AWS_DEFAULT_REGION'},
    })
    // Without a region in any file, the ambient one applies (AWS_REGION before AWS_DEFAULT_REGION), silently.
    const bare = resolvePushConfig('modelA/V1', {}, env, makeProject())
    expect(bare.region).toEqual({value: 'ap-south-1', source: 'env AWS_REGION'})
    expect(bare.shadowed).toEqual([])
    const fromFlags = resolvePushConfig(
      'modelA/V1',
      {repository: 'flag-repo', region: 'sa-east-1', tag: ['x']},
      env,
      root,
    )
    expect(fromFlags.repository.source).toBe('flag --repository')
    expect(fromFlags.region?.value).toBe('sa-east-1')
    expect(fromFlags.tags).toEqual({value: ['x'], source: 'flag --tag'})
  })

  it('keeps a target .env profile over an ambient AWS_PROFILE, and MLDEPLOY_PROFILE over both', () => {
    const root = makeProject({'deploy/modelA/V1/.env': 'AWS_PROFILE=ml\n'})
    expect(resolvePushConfig('modelA/V1', {}, {AWS_PROFILE: 'dev'}, root).profile).toEqual({
      value: 'ml',
      source: 'deploy/modelA/V1/.env AWS_PROFILE',
    })
    expect(
      resolvePushConfig('modelA/V1', {}, {AWS_PROFILE: 'dev', MLDEPLOY_PROFILE: 'ops'}, root).profile,
    ).toEqual({value: 'ops', source: 'env MLDEPLOY_PROFILE'})
  })

  it('gives children the .env values under the process environment', () => {
    const root = makeProject({'.env': 'MLFLOW_TRACKING_URI=http://mlflow.vpn:5000\nKEEP=file\n'})
    const config = resolvePushConfig('modelA/V1', {}, {KEEP: 'process'}, root)
    expect(config.childEnv.KEEP).toBe('process')
    expect(config.vpnCheck).toEqual({
      value: {host: 'mlflow.vpn', port: 5000, mlflow: 'http://mlflow.vpn:5000'},
      source: '.env MLFLOW_TRACKING_URI',
    })
  })

  it('prefers --vpn-check over MLFLOW_TRACKING_URI, and --skip-vpn-check over both', () => {
    const root = makeProject({'.env': 'MLFLOW_TRACKING_URI=https://mlflow.vpn\n'})
    expect(resolvePushConfig('modelA/V1', {}, {}, root).vpnCheck?.value).toEqual({
      host: 'mlflow.vpn',
      port: 443,
      mlflow: 'https://mlflow.vpn',
    })
    expect(resolvePushConfig('modelA/V1', {'vpn-check': '[::1]:8080'}, {}, root).vpnCheck?.value).toEqual({
      host: '::1',
      port: 8080,
    })
    expect(resolvePushConfig('modelA/V1', {'skip-vpn-check': true}, {}, root).vpnCheck).toBeUndefined()
  })

  it('chooses the Python: explicit, then VIRTUAL_ENV, then pipenv with a Pipfile, then python3', () => {
    const root = makeProject({Pipfile: '[packages]\n'})
    const bin = path.join(root, 'bin')
    const pipenv = path.join(root, 'pipenv-bin')
    writeFileSync(path.join(root, 'pipenv'), '')
    const explicit = resolvePushConfig('modelA/V1', {python: './venv/bin/python'}, {VIRTUAL_ENV: '/v'}, root)
    expect(explicit.python).toMatchObject({
      value: {command: path.join(root, 'venv/bin/python')},
      source: 'flag --python',
    })
    const venv = resolvePushConfig('modelA/V1', {}, {VIRTUAL_ENV: '/v'}, root)
    expect(venv.python.value.command).toBe('/v/bin/python')
    // pipenv only counts when it is installed: without it on PATH, python3.
    const noPipenv = resolvePushConfig('modelA/V1', {}, {PATH: bin}, root)
    expect(noPipenv.python.value.command).toBe('python3')
    expect(pipenv).toBeTruthy()
  })

  it.each([
    [{backend: 'kubernetes'}, {}, /Unknown backend "kubernetes"/],
    [{}, {MLDEPLOY_BACKEND: 'Docker'}, /Unknown backend "Docker" \(from env MLDEPLOY_BACKEND\)/],
    [{repository: 'Has Upper'}, {}, /not a valid ECR repository name/],
    [{tag: ['-bad']}, {}, /not a valid image tag/],
    [{region: 'mars-1'}, {}, /not an AWS region/],
    [{'account-id': '12345'}, {}, /not an AWS account id/],
    [{'vpn-check': 'no-port'}, {}, /not host:port/],
    [{'vpn-check': 'host:99999'}, {}, /not host:port/],
    [{registry: 'bad host!'}, {}, /not a registry host/],
    [{platform: 'amd64'}, {}, /not os\/arch/],
    [{'bento-version': 'Bad_Version!'}, {}, /Bento version .* is not valid/],
    [{repository: '  '}, {}, /--repository is empty/],
    [{stage: '../x'}, {}, /not a stage name/],
  ])('refuses %j %j with a usage error', (flags, env, message) => {
    const root = makeProject()
    expect(() => resolvePushConfig('modelA/V1', flags, env, root)).toThrow(message)
  })

  it('refuses a malformed .env line and says where it is', () => {
    const root = makeProject({'.env': 'GOOD=1\nthis is not a setting\n'})
    expect(() => resolvePushConfig('modelA/V1', {}, {}, root)).toThrow(/\.env:2 is not a KEY=value line/)
  })

  it('accepts dotenv multiline values and comments', () => {
    const root = makeProject({'.env': '# comment\nCERT="line one\nline two"\nexport MLDEPLOY_TAGS=z\n'})
    expect(resolvePushConfig('modelA/V1', {}, {}, root).tags.value).toEqual(['z'])
  })
})

describe('stages', () => {
  const files = {
    '.env': 'MLDEPLOY_REPOSITORY=dev-repo\nAWS_REGION=us-east-1\n',
    '.env.production': 'MLDEPLOY_REPOSITORY=prod-repo\nAWS_REGION=eu-west-1\n',
    'deploy/modelA/V1/.env': 'MLDEPLOY_TAGS=dev\n',
    'deploy/modelA/V1/.env.production': 'MLDEPLOY_TAGS=prod\n',
  }

  it('loads .env.<stage> of the target and the root over their .env', () => {
    const root = makeProject(files)
    const config = resolvePushConfig('modelA/V1', {stage: 'production'}, {}, root)
    expect(config.repository).toEqual({value: 'prod-repo', source: '.env.production MLDEPLOY_REPOSITORY'})
    expect(config.region?.value).toBe('eu-west-1')
    expect(config.tags).toEqual({value: ['prod'], source: 'deploy/modelA/V1/.env.production MLDEPLOY_TAGS'})
    expect(config.envFiles).toEqual([
      'deploy/modelA/V1/.env.production',
      '.env.production',
      'deploy/modelA/V1/.env',
      '.env',
    ])
    expect(resolvePushConfig('modelA/V1', {}, {}, root).repository.value).toBe('dev-repo')
  })

  it('refuses a stage that has no .env.<stage> file rather than falling back to .env', () => {
    const root = makeProject(files)
    expect(() => resolvePushConfig('modelA/V1', {stage: 'prodution'}, {}, root)).toThrow(
      /no \.env\.prodution/,
    )
  })
})

describe('.env quotes', () => {
  it.each(['"', "'", '`'])(
    'refuses a %s quote that never closes, naming the line where it opens',
    (quote) => {
      const root = makeProject({'.env': `A=1\nNOTE=${quote}abc\nMLDEPLOY_BACKEND docker\n`})
      const file = path.join(root, '.env')
      expect(() => parseEnvFile(file)).toThrow(UsageError)
      expect(() => parseEnvFile(file)).toThrow(`${file}:2 opens a ${quote} quote that never closes.`)
    },
  )

  it('keeps multi-line quoted values that close', () => {
    const root = makeProject({'.env': `NOTE="line one\nline two"\nB='x'\nC=\`y\nz\`\n`})
    expect(parseEnvFile(path.join(root, '.env'))).toEqual({NOTE: 'line one\nline two', B: 'x', C: 'y\nz'})
  })
})

describe('durations', () => {
  it.each([
    ['0', '"0" is too short: it must be at least 1s.'],
    ['0s', '"0s" is too short: it must be at least 1s.'],
    ['0.4s', '"0.4s" is too short: it must be at least 1s.'],
    ['1ms', '"1ms": ms is not a unit: use s, m or h.'],
    ['0.5ms', '"0.5ms": ms is not a unit: use s, m or h.'],
    ['5', '"5" has no unit: use s, m or h.'],
    ['25h', '"25h" is too long: it must be at most 24h.'],
    ['forever', '"forever" is not a duration.'],
    ['-1s', '"-1s" is not a duration.'],
  ])('%s: says what is wrong', (text, message) => {
    expect(() => parseDuration(text, '--timeout build')).toThrow(`--timeout build: ${message}`)
  })

  it('accepts seconds to a day', () => {
    expect(parseDuration('1s', 'x')).toBe(1000)
    expect(parseDuration('1.5m', 'x')).toBe(90_000)
    expect(parseDuration('24h', 'x')).toBe(86_400_000)
  })
})

describe('issue 24: the SageMaker settings are checked before anything runs', () => {
  const sagemaker = {'deploy-target': 'sagemaker', 'check-serving': true} as never

  it('refuses --check-serving without --deploy-target sagemaker', () => {
    const root = makeProject({'deploy/modelA/V1/example_input.csv': 'a\n1\n'})
    expect(() => resolvePushConfig('modelA/V1', {'check-serving': true} as never, {}, root)).toThrow(
      /Check serving \(from flag --check-serving\).*deploy target.*is any/,
    )
  })

  it('finds example_input.csv as text/csv, and refuses a target without a sample input', () => {
    const root = makeProject({'deploy/modelA/V1/example_input.csv': 'a\n1\n'})
    const config = resolvePushConfig('modelA/V1', sagemaker, {}, root)
    expect(config.sagemaker).toMatchObject({
      adapter: true,
      serving: {memory: {value: '4g'}, sampleInput: {contentType: 'text/csv'}},
    })
    expect(() => resolvePushConfig('modelA/V1', sagemaker, {}, makeProject())).toThrow(
      /has no example_input.csv or example_input.json/,
    )
  })

  it('refuses a missing --sample-input, an unknown extension, a bad memory size', () => {
    const root = makeProject({'deploy/modelA/V1/sample.bin': 'x'})
    const run = (flags: Record<string, unknown>) => () =>
      resolvePushConfig('modelA/V1', {...(sagemaker as object), ...flags} as never, {}, root)
    expect(run({'sample-input': 'nope.csv'})).toThrow(UsageError)
    expect(run({'sample-input': 'sample.bin'})).toThrow(/no content type for \.bin/)
    expect(run({'sample-input': 'sample.bin', 'sample-content-type': 'application/json'})()).toBeTruthy()
    expect(run({'sample-input': 'sample.bin', 'serving-memory': 'lots'})).toThrow(/is not a size/)
  })
})
