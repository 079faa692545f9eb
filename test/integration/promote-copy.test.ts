import {randomBytes} from 'node:crypto'

import {AssumeRoleCommand, STSClient} from '@aws-sdk/client-sts'
import {CreateRepositoryCommand, ECRClient} from '@aws-sdk/client-ecr'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {motoEnv} from '../helpers/aws.js'
import {baseEnv, CLI, makeProject, runCli} from '../helpers/cli.js'
import {contractBreaches, type ReportedStep} from '../helpers/contract.js'
import {
  headStatus,
  manifestDigestOf,
  pushBlob,
  pushManifest,
  type RealRegistry,
  type RegistryProxy,
  sha256,
  startDockerRegistry,
  startRegistryProxy,
} from '../helpers/docker-registry.js'
import {MOTO_ACCOUNT, MOTO_PASSWORD, type Moto, startMoto} from '../helpers/moto.js'

// mldeploy promote --to-registry for real: two Debian docker-registry instances on loopback with
// their own htpasswd (each the password of one moto account's ECR token), moto for ECR and STS
// (the destination account reached through STS AssumeRole), a 100 MiB image made here through
// the registry API, an interrupted copy completed by a re-run, and a destination that refuses one
// blob.

const DEST_ACCOUNT = '210987654321'
const DEST_PASSWORD = `${DEST_ACCOUNT}-auth-token`
const ROLE = `arn:aws:iam::${DEST_ACCOUNT}:role/promote`
const REPOSITORY = 'modela/v1'
const MIB = 1024 * 1024
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'

let moto: Moto
let source: RealRegistry
let destination: RealRegistry
let proxy: RegistryProxy
/** The 100 MiB image at the source: its digest and its blobs (config first). */
const big = {digest: '', blobs: [] as Array<{digest: string; size: number}>}

async function assumedEcr(): Promise<ECRClient> {
  const sts = new STSClient({
    region: 'us-east-1',
    endpoint: moto.url,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  })
  const out = await sts.send(new AssumeRoleCommand({RoleArn: ROLE, RoleSessionName: 'test-setup'}))
  sts.destroy()
  return new ECRClient({
    region: 'us-east-1',
    endpoint: moto.url,
    credentials: {
      accessKeyId: out.Credentials!.AccessKeyId!,
      secretAccessKey: out.Credentials!.SecretAccessKey!,
      sessionToken: out.Credentials!.SessionToken!,
    },
  })
}

/** An OCI image of random layers pushed to the source with plain HTTP: its digest and blobs. */
async function pushImage(
  repository: string,
  tag: string | undefined,
  layerSizes: number[],
): Promise<{digest: string; body: string; blobs: Array<{digest: string; size: number}>}> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: {type: 'layers', diff_ids: []},
      salt: randomBytes(8).toString('hex'),
    }),
  )
  const configDigest = await pushBlob(source, repository, config)
  const layers = []
  for (const size of layerSizes) {
    const bytes = randomBytes(size)
    layers.push({
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: await pushBlob(source, repository, bytes),
      size,
    })
  }
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: configDigest,
      size: config.length,
    },
    layers,
  })
  const digest = await pushManifest(source, repository, tag ?? sha256(body), body, OCI_MANIFEST)
  return {digest, body, blobs: [{digest: configDigest, size: config.length}, ...layers]}
}

beforeAll(async () => {
  for (const tool of ['docker-registry', 'htpasswd']) {
    const found = await execa('which', [tool], {reject: false})
    if (found.exitCode !== 0) throw new Error(`${tool} is missing: run scripts/setup-system.sh (apt phase)`)
  }
  moto = await startMoto()
  source = await startDockerRegistry(MOTO_PASSWORD)
  destination = await startDockerRegistry(DEST_PASSWORD)
  proxy = await startRegistryProxy(destination.host)
  const ecr = new ECRClient({
    region: 'us-east-1',
    endpoint: moto.url,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  })
  for (const repositoryName of [REPOSITORY, 'small/app', 'multi/app'])
    await ecr.send(new CreateRepositoryCommand({repositoryName}))
  ecr.destroy()
  const dest = await assumedEcr()
  await dest.send(new CreateRepositoryCommand({repositoryName: REPOSITORY}))
  dest.destroy()
  // 100 MiB in ten layers of 10 MiB, a config and a manifest.
  const image = await pushImage(
    REPOSITORY,
    'candidate',
    Array.from({length: 10}, () => 10 * MIB),
  )
  big.digest = image.digest
  big.blobs = image.blobs
}, 120_000)

afterAll(async () => {
  await proxy?.close()
  await destination?.stop()
  await source?.stop()
  await moto?.stop()
})

function env(): Record<string, string> {
  return baseEnv(motoEnv(moto.url))
}

const copyArgs = (to: string, ...more: string[]): string[] => [
  'promote',
  'modelA/V1',
  '--registry',
  source.host,
  '--to-registry',
  to,
  '--to-role-arn',
  ROLE,
  ...more,
]

describe('mldeploy promote --to-registry (two real registries, two accounts)', () => {
  it('a dry run HEADs every blob at the destination and says what it would send, writing nothing', async () => {
    const root = makeProject()
    const result = await runCli(
      copyArgs(
        `${destination.host}/${REPOSITORY}`,
        '--from',
        'candidate',
        '--to',
        'production',
        '--dry-run',
        '--json',
      ),
      {cwd: root, env: env()},
    )
    expect(result.exitCode, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout)
    const bytes = big.blobs.reduce((total, blob) => total + blob.size, 0)
    expect(json).toMatchObject({status: 'planned', digest: big.digest, registry: source.host})
    expect(json.copy).toMatchObject({
      registry: destination.host,
      repository: REPOSITORY,
      account: DEST_ACCOUNT,
      roleArn: ROLE,
      blobs: 11,
      bytes,
      missingBlobs: 11,
      missingBytes: bytes,
      manifests: 1,
      uploadedBlobs: 0,
    })
    expect(json.tags[0]).toMatchObject({
      change: 'created',
      reference: `${destination.host}/${REPOSITORY}:production`,
    })
    expect(json.plan.map((step: {id: string}) => step.id)).toEqual(['copy', 'tag', 'verify'])
    for (const step of json.steps as ReportedStep[])
      expect(contractBreaches(step), step.id).toEqual({undescribed: [], missing: []})
    const text = await runCli(
      copyArgs(`${destination.host}/${REPOSITORY}`, '--from', 'candidate', '--to', 'production', '--dry-run'),
      {cwd: root, env: env()},
    )
    expect(text.stdout).toContain(
      `copy  -> ${destination.host}/${REPOSITORY}: would send 11 of 11 blob(s) (100.0 of 100.0 MiB), then 1 manifest(s)`,
    )
    expect(await headStatus(destination, `/v2/${REPOSITORY}/blobs/${big.blobs[1]!.digest}`)).toBe(404)
    expect(result.stdout + result.stderr + text.stdout + text.stderr).not.toContain(DEST_PASSWORD)
  })

  it('an interrupted 100 MiB copy is completed by a re-run that sends only what had not arrived', async () => {
    const root = makeProject()
    const to = `${proxy.host}/${REPOSITORY}`
    proxy.reset()
    // 8 MiB/s per upload: the copy takes seconds, long enough to interrupt it midway.
    proxy.bytesPerSecond = 8 * MIB
    const first = execa(
      process.execPath,
      [CLI, ...copyArgs(to, '--from', 'candidate', '--to', 'production', '--json')],
      {
        cwd: root,
        env: env(),
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
      },
    )
    const deadline = Date.now() + 40_000
    while (proxy.counts.committed.length < 2 && Date.now() < deadline && first.exitCode === null)
      await new Promise((resolve) => setTimeout(resolve, 50))
    first.kill('SIGINT')
    const interrupted = await first
    proxy.bytesPerSecond = undefined
    expect(interrupted.exitCode, String(interrupted.stderr)).toBe(130)
    const partial = JSON.parse(String(interrupted.stdout))
    expect(partial.status).toBe('failed')
    expect(partial.tags[0].applied).toBe(false)
    const arrived: Array<{digest: string; size: number}> = []
    for (const blob of big.blobs)
      if ((await headStatus(destination, `/v2/${REPOSITORY}/blobs/${blob.digest}`)) === 200)
        arrived.push(blob)
    expect(arrived.length).toBeGreaterThanOrEqual(2)
    expect(arrived.length).toBeLessThan(big.blobs.length)
    expect(await manifestDigestOf(destination, REPOSITORY, 'production')).toBeNull()

    proxy.reset()
    const second = await runCli(copyArgs(to, '--from', 'candidate', '--to', 'production', '--json'), {
      cwd: root,
      env: env(),
    })
    expect(second.exitCode, second.stderr).toBe(0)
    const json = JSON.parse(second.stdout)
    const missing = big.blobs.filter((blob) => !arrived.includes(blob))
    const missingBytes = missing.reduce((total, blob) => total + blob.size, 0)
    expect(json.copy).toMatchObject({
      missingBlobs: missing.length,
      missingBytes,
      uploadedBlobs: missing.length,
      uploadedBytes: missingBytes,
      mountedBlobs: 0,
      failedSide: null,
    })
    // What went over the wire: one upload per missing blob, their bytes and nothing more.
    expect(proxy.counts.uploadsOpened).toBe(missing.length)
    expect(proxy.counts.patchedBytes).toBe(missingBytes)
    expect(proxy.counts.committed.sort()).toEqual(missing.map((blob) => blob.digest).sort())
    expect(json).toMatchObject({status: 'promoted', digest: big.digest})
    expect(json.tags[0]).toMatchObject({change: 'created', verifiedDigest: big.digest, applied: true})
    expect(json.imageByDigest).toBe(`${proxy.host}/${REPOSITORY}@${big.digest}`)
    expect(await manifestDigestOf(destination, REPOSITORY, 'production')).toBe(big.digest)
    for (const step of json.steps as ReportedStep[])
      expect(contractBreaches(step), step.id).toEqual({undescribed: [], missing: []})

    // A third run finds everything there: nothing is sent, the tag is unchanged.
    proxy.reset()
    const third = await runCli(copyArgs(to, '--from', 'candidate', '--to', 'production', '--json'), {
      cwd: root,
      env: env(),
    })
    expect(third.exitCode, third.stderr).toBe(0)
    expect(JSON.parse(third.stdout)).toMatchObject({
      status: 'unchanged',
      copy: {missingBlobs: 0, uploadedBlobs: 0},
    })
    expect(proxy.counts.patchedBytes).toBe(0)
  }, 90_000)

  it('a destination that refuses one blob fails naming the destination (exit 8) and points no tag', async () => {
    const small = await pushImage('small/app', 'candidate', [4096, 8192, 16384])
    const refused = small.blobs[2]!.digest
    proxy.reset()
    proxy.refuse = {digest: refused, status: 403}
    try {
      const root = makeProject()
      const result = await runCli(
        copyArgs(
          `${proxy.host}/small/app`,
          '--repository',
          'small/app',
          '--from',
          'candidate',
          '--to',
          'production',
          '--json',
        ),
        {cwd: root, env: env()},
      )
      expect(result.exitCode, result.stderr).toBe(8)
      const json = JSON.parse(result.stdout)
      expect(json.status).toBe('failed')
      expect(json.copy.failedSide).toBe('destination')
      expect(json.error.message).toMatch(
        new RegExp(
          `^Destination ${proxy.host}/small/app: Uploading blob ${refused} to ${proxy.host}/small/app failed: the registry denied the request \\(HTTP 403\\)`,
        ),
      )
      expect(json.steps.find((step: {id: string}) => step.id === 'copy').status).toBe('failed')
      expect(await manifestDigestOf(destination, 'small/app', 'production')).toBeNull()
      expect(await manifestDigestOf(destination, 'small/app', small.digest)).toBeNull()
    } finally {
      proxy.refuse = undefined
    }
  })

  it('a 500 from the destination is tried again with a fresh upload: once goes through, always fails after 3 tries', async () => {
    const image = await pushImage('small/app', 'flaky', [5000, 6000])
    const flaky = image.blobs[1]!.digest
    proxy.reset()
    proxy.refuse = {digest: flaky, status: 500, times: 1}
    try {
      const root = makeProject()
      const args = ['--repository', 'small/app', '--from', 'flaky', '--to', 'production', '--json']
      const once = await runCli(copyArgs(`${proxy.host}/retry/once`, ...args), {cwd: root, env: env()})
      expect(once.exitCode, once.stderr).toBe(0)
      expect(once.stderr).toContain(
        `Destination ${proxy.host}/retry/once: Uploading blob ${flaky} to ${proxy.host}/retry/once failed: HTTP 500. Trying again in 1 s (attempt 2 of 3).`,
      )
      expect(JSON.parse(once.stdout).copy).toMatchObject({uploadedBlobs: 3, failedSide: null})
      expect(proxy.counts.uploadsOpened).toBe(4)

      proxy.reset()
      proxy.refuse = {digest: flaky, status: 500}
      const always = await runCli(copyArgs(`${proxy.host}/retry/always`, ...args), {cwd: root, env: env()})
      expect(always.exitCode, always.stderr).toBe(8)
      const json = JSON.parse(always.stdout)
      expect(json.copy.failedSide).toBe('destination')
      expect(json.error.message).toBe(
        `Destination ${proxy.host}/retry/always: Uploading blob ${flaky} to ${proxy.host}/retry/always failed: HTTP 500.`,
      )
      expect(always.stderr).toContain('(attempt 3 of 3)')
      expect(await manifestDigestOf(destination, 'retry/always', 'production')).toBeNull()
    } finally {
      proxy.refuse = undefined
    }
  })

  it('a source that refuses the credentials fails naming the source (exit 7, as a refused login)', async () => {
    const root = makeProject()
    // The destination's registry as the source: it wants the other account's password.
    const result = await runCli(
      [
        'promote',
        'modelA/V1',
        '--registry',
        destination.host,
        '--to-registry',
        `${source.host}/x/y`,
        '--from',
        'candidate',
        '--to',
        'production',
        '--json',
      ],
      {cwd: root, env: env()},
    )
    expect(result.exitCode, result.stderr).toBe(7)
    const json = JSON.parse(result.stdout)
    expect(json.copy.failedSide).toBe('source')
    expect(json.error.message).toMatch(
      new RegExp(`^Source ${destination.host}/${REPOSITORY}: .*refused the credentials \\(HTTP 401\\)`),
    )
  })

  it('destination credentials that cannot be used: a dry run warns and says what stays unknown; a real run fails naming the destination; nothing is written', async () => {
    // A repository no other test writes to: what a run wrote there would show.
    const UNWRITTEN = 'modela/unwritten'
    const root = makeProject()
    const args = [
      'promote',
      'modelA/V1',
      '--registry',
      source.host,
      '--to-registry',
      `${destination.host}/${UNWRITTEN}`,
      '--to-profile',
      'no-such-profile',
      '--from',
      'candidate',
      '--to',
      'production',
      '--json',
    ]
    const real = await runCli(args, {cwd: root, env: env()})
    expect(real.exitCode, real.stderr).toBe(3)
    // The hint is about the destination's credentials, not the source's AWS_PROFILE or a dry run.
    expect(JSON.parse(real.stdout).error).toMatchObject({
      step: 'destination',
      reason: 'aws:credentials-missing',
      message: expect.stringMatching(
        /^Destination 127\.0\.0\.1:\d+\/modela\/unwritten: .*no AWS credentials found/,
      ),
      hint: "The destination's credentials come from the profile no-such-profile (from flag --to-profile; aws configure list-profiles, aws sso login --profile no-such-profile): fix them, or name others with --to-profile or --to-role-arn.",
    })
    const result = await runCli([...args, '--dry-run'], {cwd: root, env: env()})
    expect(result.exitCode, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout)
    const warning = (json.warnings as string[]).find((each) => each.startsWith('No AWS credentials'))
    expect(warning).toMatch(
      /^No AWS credentials could be used for the destination \(.+\): what the copy would send and the digests of production there are unknown\.$/,
    )
    expect(json.status).toBe('planned')
    expect(await headStatus(destination, `/v2/${UNWRITTEN}/blobs/${big.blobs[1]!.digest}`)).toBe(404)
    expect(await headStatus(destination, `/v2/${UNWRITTEN}/manifests/production`)).toBe(404)
  })

  it('destination credentials of another account than the ECR host names: exit 3 before anything is read', async () => {
    const root = makeProject()
    const result = await runCli(
      copyArgs(
        `${MOTO_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/${REPOSITORY}`,
        '--from',
        'candidate',
        '--to',
        'production',
        '--json',
      ),
      {cwd: root, env: env()},
    )
    expect(result.exitCode, result.stderr).toBe(3)
    const json = JSON.parse(result.stdout)
    expect(json.error.message).toBe(
      `Destination ${MOTO_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/${REPOSITORY}: The destination credentials belong to account ${DEST_ACCOUNT}, not ${MOTO_ACCOUNT} (the account of ${MOTO_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com).`,
    )
    expect(json.copy).toMatchObject({failedSide: 'destination', region: 'eu-west-1'})
  })

  it('within one registry, blobs are mounted from the source repository: nothing is sent', async () => {
    const root = makeProject()
    const result = await runCli(
      [
        'promote',
        'modelA/V1',
        '--registry',
        source.host,
        '--to-registry',
        `${source.host}/modela/mounted`,
        '--from',
        'candidate',
        '--to',
        'production',
        '--json',
      ],
      {cwd: root, env: env()},
    )
    expect(result.exitCode, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.copy).toMatchObject({missingBlobs: 11, mountedBlobs: 11, uploadedBlobs: 0, uploadedBytes: 0})
    expect(await manifestDigestOf(source, 'modela/mounted', 'production')).toBe(big.digest)
  })

  it('an image index copies its child manifests first, then the index, under the same digests', async () => {
    const children = [
      await pushImage('multi/app', undefined, [1000]),
      await pushImage('multi/app', undefined, [2000, 3000]),
    ]
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: children.map((child, i) => ({
        mediaType: OCI_MANIFEST,
        digest: child.digest,
        size: Buffer.byteLength(child.body),
        platform: {architecture: i === 0 ? 'amd64' : 'arm64', os: 'linux'},
      })),
    })
    const indexDigest = await pushManifest(source, 'multi/app', 'candidate', index, OCI_INDEX)
    const root = makeProject()
    const result = await runCli(
      copyArgs(
        `${destination.host}/multi/app`,
        '--repository',
        'multi/app',
        '--from',
        'candidate',
        '--to',
        'production',
        '--json',
      ),
      {cwd: root, env: env()},
    )
    expect(result.exitCode, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.copy).toMatchObject({manifests: 3, blobs: 5, uploadedBlobs: 5})
    expect(json.digest).toBe(indexDigest)
    expect(await manifestDigestOf(destination, 'multi/app', 'production')).toBe(indexDigest)
    for (const child of children)
      expect(await manifestDigestOf(destination, 'multi/app', child.digest)).toBe(child.digest)
  })
})
