import {chmodSync, cpSync, existsSync, writeFileSync} from 'node:fs'
import {homedir} from 'node:os'
import path from 'node:path'

import {CreateBucketCommand, GetObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {REPO_ROOT, runCli, tempDir} from '../helpers/cli.js'
import {hostAgent} from '../helpers/codebuild-agent.js'
import {type CodeBuildStandIn, startCodeBuildStandIn} from '../helpers/codebuild-stand-in.js'
import {type Registry, registryDigest, registryTags} from './registry.js'

// "The buildspec for real" (issue 13): `push --builder codebuild` on the example project, with
// S3 and CloudWatch Logs in the stack's moto and the CodeBuild API from the scripted stand-in
// (moto's CodeBuild runs nothing). The stand-in's agent (test/helpers/codebuild-agent.ts) takes
// the zip mldeploy uploaded, unpacks it into a fresh empty folder ON THIS HOST (not a container)
// with a clean environment (new HOME, no checkout), and runs the buildspec's phases with bash
// against the stack: MLflow, the private dockerd, the registry, moto. Only in this test the
// install phase links the stack's ready virtualenv (MLDEPLOY_CODEBUILD_VENV) instead of
// installing bentoml and MLflow from PyPI for minutes; npm installs the packed mldeploy from the
// npm cache.
const stack = inject('stackEnv')
const registry: Registry = {host: stack.MLDEPLOY_REGISTRY!, password: stack.MLDEPLOY_REGISTRY_PASSWORD!}
const motoUrl = stack.AWS_ENDPOINT_URL!
const BUCKET = 'mldeploy-agent-test'
const REPOSITORY = `iris-${Date.now().toString(36)}/codebuild`
let codebuild: CodeBuildStandIn

/** The suite's npm cache (scripts/test.sh exports MLDEPLOY_CACHE), so the install is offline-first. */
function npmCache(): string {
  if (process.env.npm_config_cache) return process.env.npm_config_cache
  const cached = process.env.MLDEPLOY_CACHE && path.join(process.env.MLDEPLOY_CACHE, 'npm')
  return cached && existsSync(cached) ? cached : path.join(homedir(), '.npm')
}

/**
 * CodeBuild's aws CLI (v2) reaches the real S3; this machine's may be v1, which ignores
 * AWS_ENDPOINT_URL. An `aws` first on the agent's PATH sends it to moto, as the test's stand-in
 * for AWS (the buildspec's command itself is unchanged).
 */
function awsToMoto(realAws: string): string {
  const dir = tempDir('agent-aws')
  const shim = path.join(dir, 'aws')
  writeFileSync(shim, `#!/bin/sh\nexec ${JSON.stringify(realAws)} --endpoint-url "$AWS_ENDPOINT_URL" "$@"\n`)
  chmodSync(shim, 0o755)
  return dir
}

beforeAll(async () => {
  const aws = (await execa('bash', ['-c', 'command -v aws'], {reject: false})).stdout.trim()
  if (aws === '') throw new Error('The agent test needs the aws CLI on PATH (CodeBuild images have it).')
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: motoUrl,
    forcePathStyle: true,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  })
  await s3.send(new CreateBucketCommand({Bucket: BUCKET})).catch(() => undefined)
  s3.destroy()
  await createRepository(motoUrl, REPOSITORY)
  codebuild = await startCodeBuildStandIn(motoUrl, BUCKET)
  // What CodeBuild's environment would give the build: the role's credentials and region (here
  // moto's), its docker daemon (the stack's), the project's variables (MLflow), and the tools.
  codebuild.agent = hostAgent({
    motoUrl,
    env: {
      PATH: [
        awsToMoto(aws),
        path.dirname(process.execPath),
        path.dirname(aws),
        '/usr/local/bin',
        '/usr/bin',
        '/bin',
      ].join(':'),
      AWS_ENDPOINT_URL: motoUrl,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      DOCKER_HOST: stack.DOCKER_HOST!,
      DOCKER_BUILDKIT: '0',
      MLDEPLOY_BASE_IMAGE: stack.MLDEPLOY_BASE_IMAGE!,
      MLFLOW_TRACKING_URI: stack.MLFLOW_TRACKING_URI!,
      BENTOML_DO_NOT_TRACK: 'true',
      MLDEPLOY_CODEBUILD_VENV: stack.MLDEPLOY_VENV!,
      npm_config_cache: npmCache(),
      npm_config_prefer_offline: 'true',
      // The machine's CA bundle (a CodeBuild image has its own trust store): without it npm hangs
      // on this network's TLS.
      ...Object.fromEntries(
        Object.entries(process.env).filter(
          (entry): entry is [string, string] =>
            entry[1] !== undefined && /CA_CERTS|CERT_FILE|CERT_DIR|CA_BUNDLE/.test(entry[0]),
        ),
      ),
    },
  })
})

afterAll(async () => {
  await codebuild?.close()
})

describe('push --builder codebuild: the buildspec for real', () => {
  it('the build pushes the image to the registry, and the JSON it wrote to S3 is the result', async () => {
    const root = tempDir('codebuild-project')
    cpSync(path.join(REPO_ROOT, 'examples/project'), root, {recursive: true})
    writeFileSync(path.join(root, 'Pipfile'), '[packages]\nbentoml = "*"\nmlflow = "*"\n')
    const env = {
      ...Object.fromEntries(
        Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
      ),
      ...stack,
      AWS_ENDPOINT_URL_CODEBUILD: codebuild.url,
      MLDEPLOY_CODEBUILD_BUCKET: BUCKET,
      MLDEPLOY_CODEBUILD_POLL_SECONDS: '2',
    }
    const setup = await runCli(
      ['builder', 'setup', 'codebuild', '--role-arn', 'arn:aws:iam::123456789012:role/mldeploy-codebuild'],
      {cwd: root, env},
    )
    expect(setup.exitCode, setup.stderr).toBe(0)
    const result = await runCli(
      [
        'push',
        'iris/V1',
        '--builder',
        'codebuild',
        '--repository',
        REPOSITORY,
        '--registry',
        registry.host,
        '--tag',
        'latest',
        '--skip-vpn-check',
        '--json',
      ],
      {cwd: root, env},
    )
    expect(result.exitCode, result.stderr.split('\n').slice(-40).join('\n')).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.status).toBe('pushed')
    // The remote mldeploy's log reached this run's output: the bento tag line of its build.
    expect(result.stderr).toContain(`__tag__:${json.bentoTag}`)
    // push.test.ts pushes the same example through the same docker engine: when it ran first, the
    // build finds that image by its content label and pushes it without containerizing.
    if (json.reused === null) expect(result.stderr).toContain('Successfully built Bento container')
    else expect(json.reused).toMatchObject({source: 'local'})
    const version = json.bentoTag.split(':')[1]
    expect(await registryTags(registry, REPOSITORY)).toEqual(expect.arrayContaining(['latest', version]))
    expect(await registryDigest(registry, REPOSITORY, 'latest')).toBe(json.digest)
    // What the build wrote to S3 is what this run returned.
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: motoUrl,
      forcePathStyle: true,
      credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
    })
    const key = (json.remote.result as string).replace(`s3://${BUCKET}/`, '')
    const written = JSON.parse(
      await (await s3.send(new GetObjectCommand({Bucket: BUCKET, Key: key}))).Body!.transformToString(),
    )
    s3.destroy()
    for (const field of ['status', 'bentoTag', 'digest', 'images', 'verified', 'contentDigest'])
      expect(json[field], field).toEqual(written[field])
    expect(json.remote.steps).toEqual(written.steps)
  })
})
