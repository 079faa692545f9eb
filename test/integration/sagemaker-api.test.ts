import {beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {runCli, standInProject} from '../helpers/cli.js'
import {resetMoto} from '../helpers/moto.js'

// Issue 24 §1: which API /invocations goes to, through the CLI. The service's APIs are only known
// once the bento is built (`bentoml get -o json`, played by the recording stand-in with
// $FAKE_BENTO_APIS), so a wrong or missing choice is bad input found after the build and before
// anything is containerized: exit 2, one line naming the choices, no image made or pushed.
const motoUrl = inject('motoUrl')

beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
})

async function push(apis: string, args: string[] = []) {
  const s = standInProject(
    motoUrl,
    {FAKE_BENTO_APIS: apis},
    {'deploy/modelA/V1/example_input.csv': 'a,b\n1,2\n'},
  )
  const result = await runCli(
    ['push', 'modelA/V1', '--skip-vpn-check', '--deploy-target', 'sagemaker', ...args],
    {cwd: s.root, env: s.env},
  )
  return {...result, steps: s.bin.calls().map((call) => call.step)}
}

describe('--sagemaker-api through the CLI', () => {
  it.each([
    {
      name: 'several APIs and no choice',
      args: [],
      message:
        'Error: The service has 2 APIs (predict, explain): which one answers /invocations? Pass --sagemaker-api with one of: predict, explain.',
    },
    {
      name: 'a name the service does not have',
      args: ['--sagemaker-api', 'predcit'],
      message:
        'Error: SageMaker API "predcit" (from flag --sagemaker-api) is not an API of the service; its APIs: predict, explain. Pass --sagemaker-api with one of: predict, explain.',
    },
  ])('$name: one line naming the choices, exit 2, nothing containerized', async ({args, message}) => {
    const result = await push('predict,explain', args)
    expect(result.exitCode, result.stderr).toBe(2)
    expect(result.stderr.trim().split('\n').at(-1)).toBe(message)
    // Built (the APIs come from the bento), then stopped: no containerize, no layer, no push.
    expect(result.steps).toContain('build')
    for (const never of ['containerize', 'image-build', 'push']) expect(result.steps).not.toContain(never)
  })

  it('a named API of several is the one the adapter layer forwards to', async () => {
    const result = await push('predict,explain', ['--sagemaker-api', 'explain', '--check-serving', '--json'])
    expect(result.exitCode, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout) as {sagemaker: {adapter: {api: string; route: string}}}
    expect(json.sagemaker.adapter).toMatchObject({api: 'explain', route: '/explain'})
    expect(result.steps).toEqual(
      expect.arrayContaining(['containerize', 'image-build', 'push', 'ping', 'invoke', 'rm']),
    )
  })
})
