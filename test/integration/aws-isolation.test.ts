import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {createRepository, imageTags} from '../helpers/aws.js'
import {runCli, standInProject} from '../helpers/cli.js'
import {type EcrLayers, startEcrLayers} from '../helpers/ecr-layers.js'
import {resetMoto, startMoto, type Moto} from '../helpers/moto.js'
import {echoHeadersAsAwsError, signaturesOf, startStandIn, type StandIn} from '../helpers/stand-in.js'

// Each target talks to the AWS its own .env names: two private moto servers (not the shared one,
// which other files reset), one per target, and the recording stand-ins for python and podman.
// Each behind the front that adds GetDownloadUrlForLayer (moto has none), as the shared one is:
// the check step reads the pushed image's config through it.
let motoA: Moto
let motoB: Moto
let frontA: EcrLayers
let frontB: EcrLayers

beforeAll(async () => {
  ;[motoA, motoB] = await Promise.all([startMoto(), startMoto()])
  ;[frontA, frontB] = await Promise.all([startEcrLayers(motoA.url), startEcrLayers(motoB.url)])
})

afterAll(async () => {
  await Promise.all([frontA?.close(), frontB?.close()])
  await Promise.all([motoA?.stop(), motoB?.stop()])
})

/** A project with modelA/V1 and modelB/V1 whose .env files name their own endpoint and keys. */
function twoAccounts() {
  const s = standInProject(
    frontA.url,
    {},
    {
      'deploy/modelB/V1/create_bento_model.py': 'import bentoml\n',
      'deploy/modelB/V1/service.py': 'import bentoml\n',
    },
  )
  // Nothing AWS in the process environment but the region: the targets' .env files decide.
  for (const name of ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) delete s.env[name]
  const dotenv = (front: EcrLayers, key: string) =>
    `AWS_ENDPOINT_URL=${front.url}\nAWS_ACCESS_KEY_ID=${key}\nAWS_SECRET_ACCESS_KEY=${key}-secret\n`
  writeFileSync(path.join(s.root, 'deploy/modelA/V1/.env'), dotenv(frontA, 'AKIDTARGETA'))
  writeFileSync(path.join(s.root, 'deploy/modelB/V1/.env'), dotenv(frontB, 'AKIDTARGETB'))
  return s
}

describe('several targets, each with its own AWS settings', () => {
  it.each(['1', '2'])('each target pushes to its own endpoint (--concurrency %s)', async (concurrency) => {
    const name = `c${concurrency}`
    await Promise.all([resetMoto(motoA.url), resetMoto(motoB.url)])
    // Each repository exists only where its target's .env points.
    await createRepository(motoA.url, 'modela/v1')
    await createRepository(motoB.url, 'modelb/v1')
    const s = twoAccounts()
    const result = await runCli(
      [
        'push',
        'modelA/V1',
        'modelB/V1',
        '--skip-vpn-check',
        '--json',
        '--concurrency',
        concurrency,
        '--tag',
        name,
      ],
      {cwd: s.root, env: s.env},
    )
    expect(result.stderr).not.toMatch(/Error:/)
    expect(result.exitCode).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(
      json.targets.map((each: {target: string; status: string}) => `${each.target}:${each.status}`),
    ).toEqual(['modelA/V1:pushed', 'modelB/V1:pushed'])
    // The tag step (PutImage) and verification (DescribeImages) ran against each target's moto.
    expect(await imageTags(motoA.url, 'modela/v1')).toContain(name)
    expect(await imageTags(motoB.url, 'modelb/v1')).toContain(name)
    await expect(imageTags(motoA.url, 'modelb/v1')).rejects.toThrow(/RepositoryNotFound|does not exist/)
    await expect(imageTags(motoB.url, 'modela/v1')).rejects.toThrow(/RepositoryNotFound|does not exist/)
  })
})

describe('secrets an endpoint echoes back', () => {
  let standIn: StandIn | undefined
  afterEach(async () => {
    await standIn?.close()
    standIn = undefined
  })

  it.each([[[]], [['--json']]])(
    'the preflight failure shows no session token, secret key or signature (%j)',
    async (extra: string[]) => {
      standIn = await startStandIn(echoHeadersAsAwsError)
      const s = standInProject(standIn.url, {
        AWS_ACCESS_KEY_ID: 'AKIDECHOTEST',
        AWS_SECRET_ACCESS_KEY: 'echo-test-secret-key',
        AWS_SESSION_TOKEN: 'echo-test-session-token',
        AWS_MAX_ATTEMPTS: '1',
      })
      const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--verbose', ...extra], {
        cwd: s.root,
        env: s.env,
      })
      expect(result.exitCode).toBe(3)
      const output = `${result.stdout}\n${result.stderr}`
      expect(output).toMatch(/AWS refused [a-z]+:[A-Za-z]+ \(AccessDenied/)
      const signatures = signaturesOf(standIn)
      expect(signatures.length).toBeGreaterThan(0)
      for (const secret of ['echo-test-session-token', 'echo-test-secret-key', ...signatures])
        expect(output).not.toContain(secret)
      if (extra.includes('--json')) expect(JSON.parse(result.stdout).error.reason).toBe('aws:access-denied')
    },
  )
})
