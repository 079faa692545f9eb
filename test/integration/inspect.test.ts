import {ECRClient, PutImageCommand} from '@aws-sdk/client-ecr'
import {beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository, seedImage} from '../helpers/aws.js'
import {runCli, standInProject} from '../helpers/cli.js'
import {FAKE_CONFIG, FAKE_CONFIG_DIGEST} from '../helpers/ecr-layers.js'
import {MOTO_ACCOUNT, resetMoto} from '../helpers/moto.js'

// `mldeploy inspect` against ECR's API (moto): what is there, and exit 3 for what is not. moto
// serves manifests but no layers, so the config blob (labels, platform) is read in the e2e test
// through the real registry and in test/unit/systems/aws/ecr-image-source.test.ts.
const motoUrl = inject('motoUrl')

beforeEach(async () => {
  await resetMoto(motoUrl)
})

/**
 * An image whose config is the one the global setup's front serves through GetDownloadUrlForLayer
 * (moto itself has no layers), under each of `tags`; the one image, so its tags list all of them.
 */
async function seedReadableImage(repositoryName: string, tags: string[]): Promise<void> {
  const client = new ECRClient({
    region: 'us-east-1',
    endpoint: motoUrl,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  })
  const imageManifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: {
      mediaType: 'application/vnd.docker.container.image.v1+json',
      digest: FAKE_CONFIG_DIGEST,
      size: FAKE_CONFIG.length,
    },
    layers: [],
  })
  try {
    for (const imageTag of tags)
      await client.send(new PutImageCommand({repositoryName, imageManifest, imageTag}))
  } finally {
    client.destroy()
  }
}

describe('mldeploy inspect', () => {
  it('a tag that does not exist: exit 3, one line naming it', async () => {
    await createRepository(motoUrl, 'modela/v1')
    await seedImage(motoUrl, 'modela/v1', 'latest')
    const s = standInProject(motoUrl)
    const result = await runCli(['inspect', 'modelA/V1', '--tag', 'nope'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(3)
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('Error: '))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain('nope')
  })

  it('a repository that does not exist: exit 3, and one JSON object with --json', async () => {
    const s = standInProject(motoUrl)
    const result = await runCli(['inspect', 'modelA/V1', '--json'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(3)
    const json = JSON.parse(result.stdout)
    expect(json).toMatchObject({status: 'failed', error: {exitCode: 3, kind: 'preflight'}})
    // The read is a step on the engine: its record says what it described and what actually ran.
    expect(json.steps).toEqual([expect.objectContaining({id: 'inspect', status: 'failed'})])
    expect([...json.steps[0].ran].sort()).toEqual(['aws:ecr:BatchGetImage', 'aws:sts:GetCallerIdentity'])
    expect(json.steps[0].described.actions.map((action: {calls: string[]}) => action.calls).flat()).toContain(
      'aws:ecr:BatchGetImage',
    )
  })

  it("defaults to the target's first push tag and names the account STS gives", async () => {
    await createRepository(motoUrl, 'modela/v1')
    await seedImage(motoUrl, 'modela/v1', 'latest', true)
    await seedReadableImage('modela/v1', ['production', 'content-0123456789ab'])
    const s = standInProject(motoUrl, {}, {'deploy/modelA/V1/.env': 'MLDEPLOY_TAGS=production,latest\n'})
    const text = await runCli(['inspect', 'modelA/V1'], {cwd: s.root, env: s.env})
    expect(text.exitCode, text.stderr).toBe(0)
    // Not `latest` (another image), and not the <aws-account-id> placeholder.
    expect(text.stdout.split('\n')[0]).toBe(
      `${MOTO_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/modela/v1:production`,
    )
    expect(text.stdout).toMatch(/^ {2}tags {7}content-0123456789ab, production$/m)
    expect(text.stdout).toMatch(/^ {2}platform {3}linux\/amd64$/m)

    const json = await runCli(['inspect', 'modelA/V1', '--json'], {cwd: s.root, env: s.env})
    expect(json.exitCode).toBe(0)
    const result = JSON.parse(json.stdout)
    expect(result).toMatchObject({
      account: MOTO_ACCOUNT,
      reference: 'production',
      referenceSource: "the target's first tag (from deploy/modelA/V1/.env MLDEPLOY_TAGS)",
      registry: `${MOTO_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`,
      warnings: [],
    })
    expect(result.steps[0].ran).toContain('aws:sts:GetCallerIdentity')
  })

  it('--tag wins over the configured tags; with --account-id no STS call is made', async () => {
    await createRepository(motoUrl, 'modela/v1')
    await seedReadableImage('modela/v1', ['latest'])
    const s = standInProject(motoUrl, {MLDEPLOY_TAGS: 'production'})
    const result = await runCli(
      ['inspect', 'modelA/V1', '--tag', 'latest', '--account-id', MOTO_ACCOUNT, '--json'],
      {
        cwd: s.root,
        env: s.env,
      },
    )
    expect(result.exitCode, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json).toMatchObject({account: MOTO_ACCOUNT, reference: 'latest', referenceSource: 'flag --tag'})
    expect(json.steps[0].ran).not.toContain('aws:sts:GetCallerIdentity')
    expect(
      json.steps[0].described.actions.flatMap((action: {calls: string[]}) => action.calls),
    ).not.toContain('aws:sts:GetCallerIdentity')
  })

  it('the configured tag from the environment, when it is missing: exit 3 naming it', async () => {
    await createRepository(motoUrl, 'modela/v1')
    await seedImage(motoUrl, 'modela/v1', 'latest')
    const s = standInProject(motoUrl, {MLDEPLOY_TAGS: 'candidate,latest'})
    const result = await runCli(['inspect', 'modelA/V1'], {cwd: s.root, env: s.env})
    expect(result.exitCode).toBe(3)
    expect(result.stderr).toContain('modela/v1:candidate')
  })
})
