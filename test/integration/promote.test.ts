import {createHash} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import path from 'node:path'

import {DescribeImagesCommand, ECRClient} from '@aws-sdk/client-ecr'
import {afterEach, beforeEach, describe, expect, inject, it} from 'vitest'

import {
  createImmutableRepository,
  createRepository,
  motoEnv,
  seedImage as seedDistinctImage,
} from '../helpers/aws.js'
import {baseEnv, makeProject, runCli, tempDir} from '../helpers/cli.js'
import {MOTO_PASSWORD, resetMoto} from '../helpers/moto.js'

// mldeploy promote as a process against moto (ECR's API): no build, no push, only tag moves.
const motoUrl = inject('motoUrl')
const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com'

beforeEach(async () => {
  await resetMoto(motoUrl)
})

function ecr(): ECRClient {
  return new ECRClient({
    region: 'us-east-1',
    endpoint: motoUrl,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  })
}

/** Each seeded image distinct: different tags, different digests (see seedImage). */
const seedImage = (url: string, repository: string, tag: string): Promise<string> =>
  seedDistinctImage(url, repository, tag, true)

async function digestOf(repositoryName: string, imageTag: string): Promise<string | undefined> {
  const client = ecr()
  try {
    const out = await client.send(new DescribeImagesCommand({repositoryName, imageIds: [{imageTag}]}))
    return out.imageDetails?.[0]?.imageDigest
  } catch {
    return undefined
  } finally {
    client.destroy()
  }
}

function setup(files: Record<string, string> = {}, extraEnv: Record<string, string> = {}) {
  const root = makeProject(files)
  const env = baseEnv({...motoEnv(motoUrl), ...extraEnv})
  return {root, env}
}

const promote = (args: string[], s: {root: string; env: Record<string, string>}) =>
  runCli(['promote', 'modelA/V1', ...args], {cwd: s.root, env: s.env})

describe('mldeploy promote (ECR)', () => {
  it('points new tags at the image of --from, verified, and reports them as created', async () => {
    await createRepository(motoUrl, 'modela/v1')
    const digest = await seedImage(motoUrl, 'modela/v1', 'candidate')
    const s = setup()
    const result = await promote(['--from', 'candidate', '--to', 'production', '--to', 'stable', '--json'], s)
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.status).toBe('promoted')
    expect(json.digest).toBe(digest)
    expect(json.imageByDigest).toBe(`${REGISTRY}/modela/v1@${digest}`)
    expect(json.images).toEqual([`${REGISTRY}/modela/v1:production`, `${REGISTRY}/modela/v1:stable`])
    expect(json.tags.map((each: {change: string}) => each.change)).toEqual(['created', 'created'])
    expect(json.tags.map((each: {verifiedDigest: string}) => each.verifiedDigest)).toEqual([digest, digest])
    expect(await digestOf('modela/v1', 'production')).toBe(digest)
    expect(await digestOf('modela/v1', 'stable')).toBe(digest)
  })

  it('moves an existing tag and says what it pointed at; a second run is unchanged', async () => {
    await createRepository(motoUrl, 'modela/v1')
    const digest = await seedImage(motoUrl, 'modela/v1', 'candidate')
    const old = await seedImage(motoUrl, 'modela/v1', 'production')
    expect(old).not.toBe(digest)
    const s = setup()
    const first = await promote(['--from', 'candidate', '--to', 'production'], s)
    expect(first.exitCode).toBe(0)
    expect(first.stdout).toContain('Promoted modelA/V1: candidate -> production')
    expect(first.stdout).toContain(`production  moved  ${old} -> ${digest}`)
    expect(await digestOf('modela/v1', 'production')).toBe(digest)

    const second = await promote(['--from', 'candidate', '--to', 'production', '--json'], s)
    expect(second.exitCode).toBe(0)
    const json = JSON.parse(second.stdout)
    expect(json.status).toBe('unchanged')
    expect(json.tags[0]).toMatchObject({tag: 'production', change: 'unchanged', previousDigest: digest})
  })

  it('a missing --from tag is a preflight error (exit 3) naming it, and nothing changes', async () => {
    await createRepository(motoUrl, 'modela/v1')
    const s = setup()
    const result = await promote(['--from', 'candidate', '--to', 'production'], s)
    expect(result.exitCode).toBe(3)
    expect(result.stderr).toContain(`Error: Tag candidate does not exist in ${REGISTRY}/modela/v1.`)
    expect(await digestOf('modela/v1', 'production')).toBeUndefined()
  })

  it('a missing repository is a preflight error (exit 3), also in --json', async () => {
    const s = setup()
    const result = await promote(['--from', 'candidate', '--to', 'production', '--json'], s)
    expect(result.exitCode).toBe(3)
    const json = JSON.parse(result.stdout)
    expect(json.status).toBe('failed')
    expect(json.error.message).toContain('ECR repository modela/v1 does not exist')
  })

  it('an immutable repository refuses to move an existing --to tag: clear error naming it, exit 3', async () => {
    await createImmutableRepository(motoUrl, 'modela/v1')
    const digest = await seedImage(motoUrl, 'modela/v1', 'candidate')
    const old = await seedImage(motoUrl, 'modela/v1', 'production')
    const s = setup()
    const result = await promote(['--from', 'candidate', '--to', 'production'], s)
    expect(result.exitCode).toBe(3)
    expect(result.stderr).toContain(
      `Error: Tag production already exists in the immutable repository modela/v1 (image ${old}); it cannot be moved to ${digest}.`,
    )
    expect(await digestOf('modela/v1', 'production')).toBe(old)
  })

  it('an immutable repository accepts a new --to tag', async () => {
    await createImmutableRepository(motoUrl, 'modela/v1')
    const digest = await seedImage(motoUrl, 'modela/v1', 'candidate')
    const s = setup()
    const result = await promote(['--from', 'candidate', '--to', 'v1.0.0'], s)
    expect(result.exitCode).toBe(0)
    expect(await digestOf('modela/v1', 'v1.0.0')).toBe(digest)
  })

  it('resolves the repository like push: MLDEPLOY_REPOSITORY in the target .env, --repository over it', async () => {
    await createRepository(motoUrl, 'churn/model-a')
    await createRepository(motoUrl, 'other')
    const digest = await seedImage(motoUrl, 'churn/model-a', 'candidate')
    const s = setup({'deploy/modelA/V1/.env': 'MLDEPLOY_REPOSITORY=churn/model-a\n'})
    const fromEnv = await promote(['--from', 'candidate', '--to', 'production', '--json'], s)
    expect(fromEnv.exitCode).toBe(0)
    expect(JSON.parse(fromEnv.stdout).settings.repository).toEqual({
      value: 'churn/model-a',
      source: 'deploy/modelA/V1/.env MLDEPLOY_REPOSITORY',
    })
    expect(await digestOf('churn/model-a', 'production')).toBe(digest)
    const fromFlag = await promote(['--from', 'candidate', '--to', 'production', '--repository', 'other'], s)
    expect(fromFlag.exitCode).toBe(3)
    expect(fromFlag.stderr).toContain(`Tag candidate does not exist in ${REGISTRY}/other.`)
  })
})

describe('mldeploy promote --dry-run', () => {
  it('shows from -> digest -> to with the current digest of --to, and changes nothing', async () => {
    await createRepository(motoUrl, 'modela/v1')
    const digest = await seedImage(motoUrl, 'modela/v1', 'candidate')
    const old = await seedImage(motoUrl, 'modela/v1', 'production')
    const s = setup()
    const text = await promote(
      ['--from', 'candidate', '--to', 'production', '--to', 'stable', '--dry-run'],
      s,
    )
    expect(text.exitCode).toBe(0)
    expect(text.stdout).toContain('Promotion plan for modelA/V1 (dry run: nothing was changed)')
    expect(text.stdout).toContain(`from  ${REGISTRY}/modela/v1:candidate`)
    expect(text.stdout).toContain(`= ${digest}`)
    expect(text.stdout).toContain(`production  would move  ${old} -> ${digest}`)
    expect(text.stdout).toContain(`stable      would be created  (none) -> ${digest}`)
    const json = JSON.parse(
      (await promote(['--from', 'candidate', '--to', 'production', '--dry-run', '--json'], s)).stdout,
    )
    expect(json).toMatchObject({status: 'planned', dryRun: true, digest})
    expect(json.tags[0]).toMatchObject({change: 'moved', previousDigest: old, verifiedDigest: null})
    expect(await digestOf('modela/v1', 'production')).toBe(old)
    expect(await digestOf('modela/v1', 'stable')).toBeUndefined()
  })

  it('works without credentials and says what it cannot know', async () => {
    const root = makeProject()
    const env = baseEnv({AWS_ENDPOINT_URL: motoUrl, AWS_REGION: 'eu-west-1'})
    const result = await runCli(
      [
        'promote',
        'modelA/V1',
        '--from',
        'candidate',
        '--to',
        'production',
        '--dry-run',
        '--account-id',
        '210987654321',
        '--json',
      ],
      {cwd: root, env},
    )
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.status).toBe('planned')
    expect(json.digest).toBeNull()
    expect(json.from.reference).toBe('210987654321.dkr.ecr.eu-west-1.amazonaws.com/modela/v1:candidate')
    expect(json.tags[0].change).toBe('unknown')
    expect(json.warnings[0]).toMatch(
      /No AWS credentials could be used .*: the digest of candidate .* are unknown/,
    )
  })

  it('fails where the real run would: a missing --from tag', async () => {
    await createRepository(motoUrl, 'modela/v1')
    const s = setup()
    const result = await promote(['--from', 'candidate', '--to', 'production', '--dry-run'], s)
    expect(result.exitCode).toBe(3)
  })
})

describe('mldeploy promote: bad input is one line, exit 2', () => {
  for (const [name, args, message] of [
    ['no --to', ['--from', 'candidate'], /Missing required flag to/],
    ['--to equals --from', ['--from', 'a1', '--to', 'a1'], /--to a1 is the --from tag itself/],
    ['invalid tag', ['--from', 'candidate', '--to', '-bad'], /--to "-bad" is not a valid image tag/],
  ] as const) {
    it(name, async () => {
      const s = setup()
      const result = await promote([...args], s)
      expect(result.exitCode).toBe(2)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stderr).toMatch(message)
    })
  }
})

describe('mldeploy promote in GitHub Actions', () => {
  it('writes step outputs and a summary; never the ECR password', async () => {
    await createRepository(motoUrl, 'modela/v1')
    const digest = await seedImage(motoUrl, 'modela/v1', 'candidate')
    const dir = tempDir('gha')
    const output = path.join(dir, 'output')
    const summary = path.join(dir, 'summary')
    writeFileSync(output, '')
    writeFileSync(summary, '')
    const s = setup({}, {GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, GITHUB_ACTIONS: 'true'})
    const result = await promote(['--from', 'candidate', '--to', 'production'], s)
    expect(result.exitCode).toBe(0)
    const outputs = readFileSync(output, 'utf8')
    expect(outputs).toContain(`image=${REGISTRY}/modela/v1:production\n`)
    expect(outputs).toContain(`image-by-digest=${REGISTRY}/modela/v1@${digest}\n`)
    expect(outputs).toContain(`digest=${digest}\n`)
    expect(outputs).toContain(`images=["${REGISTRY}/modela/v1:production"]\n`)
    expect(readFileSync(summary, 'utf8')).toContain('### mldeploy promote: 1 of 1 target ok')
  })

  it('a failure is an ::error annotation on stderr and a failed section in the summary', async () => {
    await createRepository(motoUrl, 'modela/v1')
    const dir = tempDir('gha')
    const summary = path.join(dir, 'summary')
    const s = setup({}, {GITHUB_STEP_SUMMARY: summary, GITHUB_ACTIONS: 'true'})
    const result = await promote(['--from', 'candidate', '--to', 'production', '--json'], s)
    expect(result.exitCode).toBe(3)
    expect(JSON.parse(result.stdout).status).toBe('failed')
    expect(result.stderr).toContain(
      `::error title=mldeploy promote::Tag candidate does not exist in ${REGISTRY}/modela/v1. Check --from`,
    )
    expect(readFileSync(summary, 'utf8')).toContain('❌ modelA/V1 (failed)')
  })
})

/** A registry's OCI manifest API with basic auth (moto's ECR password), keeping manifests in memory. */
async function startFakeRegistry(): Promise<{host: string; server: Server; tags: Map<string, string>}> {
  const manifests = new Map<string, {body: Buffer; type: string}>()
  const tags = new Map<string, string>()
  const auth = `Basic ${Buffer.from(`AWS:${MOTO_PASSWORD}`).toString('base64')}`
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      if (request.headers.authorization !== auth) return void response.writeHead(401).end()
      const match = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(request.url ?? '')
      if (match === null) return void response.writeHead(404).end()
      const [, repository, reference] = match as unknown as [string, string, string]
      if (request.method === 'PUT') {
        const body = Buffer.concat(chunks)
        const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`
        manifests.set(digest, {body, type: request.headers['content-type'] ?? ''})
        tags.set(`${repository}:${reference}`, digest)
        return void response.writeHead(201, {'docker-content-digest': digest}).end()
      }
      const digest = reference.startsWith('sha256:') ? reference : tags.get(`${repository}:${reference}`)
      const manifest = digest === undefined ? undefined : manifests.get(digest)
      if (manifest === undefined || digest === undefined) return void response.writeHead(404).end()
      response.writeHead(200, {'docker-content-digest': digest, 'content-type': manifest.type})
      response.end(request.method === 'HEAD' ? undefined : manifest.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {host: `127.0.0.1:${port}`, server, tags}
}

describe('mldeploy promote --registry (the registry API with an ECR token)', () => {
  let registry: Awaited<ReturnType<typeof startFakeRegistry>> | undefined
  afterEach(async () => {
    await new Promise((resolve) => registry?.server.close(resolve))
  })

  it('tags through the registry, verifies there, and never prints the password', async () => {
    await createRepository(motoUrl, 'modela/v1')
    registry = await startFakeRegistry()
    const seed = await fetch(`http://${registry.host}/v2/modela/v1/manifests/candidate`, {
      method: 'PUT',
      headers: {
        authorization: `Basic ${Buffer.from(`AWS:${MOTO_PASSWORD}`).toString('base64')}`,
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
      },
      body: JSON.stringify({schemaVersion: 2, layers: []}),
    })
    const digest = seed.headers.get('docker-content-digest')
    const s = setup()
    const result = await promote(
      ['--from', 'candidate', '--to', 'production', '--registry', registry.host, '--json', '--verbose'],
      s,
    )
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.registry).toBe(registry.host)
    expect(json.digest).toBe(digest)
    expect(json.tags[0]).toMatchObject({change: 'created', verifiedDigest: digest})
    expect(registry.tags.get('modela/v1:production')).toBe(digest)
    expect(result.stdout + result.stderr).not.toContain(MOTO_PASSWORD)
  })

  it('a dry run asks for no token and says the digests there are unknown', async () => {
    await createRepository(motoUrl, 'modela/v1')
    const s = setup()
    const result = await promote(
      ['--from', 'candidate', '--to', 'production', '--registry', '127.0.0.1:9', '--dry-run', '--json'],
      s,
    )
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.tags[0].change).toBe('unknown')
    expect(json.warnings.join(' ')).toContain('a dry run asks for no token')
  })
})
