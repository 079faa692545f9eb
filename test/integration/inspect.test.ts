import {beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository, seedImage} from '../helpers/aws.js'
import {runCli, standInProject} from '../helpers/cli.js'
import {resetMoto} from '../helpers/moto.js'

// `mldeploy inspect` against ECR's API (moto): what is there, and exit 3 for what is not. moto
// serves manifests but no layers, so the config blob (labels, platform) is read in the e2e test
// through the real registry and in test/unit/systems/aws/ecr-image-source.test.ts.
const motoUrl = inject('motoUrl')

beforeEach(async () => {
  await resetMoto(motoUrl)
})

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
    expect(json.steps).toEqual([
      expect.objectContaining({id: 'inspect', status: 'failed', ran: ['aws:ecr:BatchGetImage']}),
    ])
    expect(json.steps[0].described.actions.map((action: {calls: string[]}) => action.calls).flat()).toContain(
      'aws:ecr:BatchGetImage',
    )
  })
})
