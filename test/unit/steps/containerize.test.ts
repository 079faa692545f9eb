import {describe, expect, it} from 'vitest'

import {classify} from '../../../src/errors.js'
import {containerizeCommand, containerizeStep} from '../../../src/steps/containerize.js'
import {labelsStep} from '../../../src/steps/labels.js'
import {REGISTRY, scriptTool, stepFixture} from '../../helpers/deploy-state.js'
import {recordingIo} from '../../helpers/recording-host.js'

describe('the containerize step', () => {
  it('describes the bento placeholder until the build knows the tag, then the real one', () => {
    const {state, bin} = stepFixture({flags: {'account-id': '123456789012', tag: ['latest']}})
    state.account = {value: '123456789012', source: 'test'}
    expect(containerizeCommand(state).args).toEqual([
      '-m',
      'bentoml',
      'containerize',
      '<bento-name>:<bento-version>',
      '--backend',
      'podman',
      '-t',
      `${REGISTRY}/modela/v1:latest`,
      '-t',
      `${REGISTRY}/modela/v1:<bento-version>`,
    ])
    state.bentoTag = 'svc:v1'
    const command = containerizeCommand(state)
    expect(command).toMatchObject({command: `${bin.dir}/python`, cwd: state.config.target.dir})
    expect(command.args.slice(3, 4)).toEqual(['svc:v1'])
    expect(command.args).toContain(`${REGISTRY}/modela/v1:v1`)
    expect(command.env).toMatchObject({COLUMNS: '10000', BENTOML_DO_NOT_TRACK: 'true'})
    // Conditional: an image with the same content found by the reuse step is not built again.
    expect(containerizeStep.describe(state).commands[0]).toEqual({
      ...command,
      when: 'no image with this content is in the repository or the local engine',
    })
    expect(containerizeStep).toMatchObject({id: 'containerize', failure: 'containerize'})
  })

  it('uses the pinned bento version in the placeholder, and the platform when given', () => {
    const {state} = stepFixture({flags: {'bento-version': 'v9', platform: 'linux/amd64'}})
    const args = containerizeCommand(state).args
    expect(args[3]).toBe('<bento-name>:v9')
    expect(args.slice(-2)).toEqual(['--opt', 'platform=linux/amd64'])
  })

  it('runs bentoml containerize; provenance it cannot read costs a warning, not the run', async () => {
    const {state, bin} = stepFixture()
    state.bentoTag = 'iris_service:v1'
    const io = recordingIo()
    await labelsStep.run(state, recordingIo())
    await containerizeStep.run(state, io)
    const calls = bin.calls()
    // `bentoml get` (provenance) is not something the stand-in knows: it fails, the step goes on.
    expect(calls.map((call) => call.step)).toContain('containerize')
    expect(state.warnings).toHaveLength(1)
    expect(state.warnings[0]).toMatch(/^Provenance labels incomplete: /)
    expect(
      io.lines.some((line) => line.startsWith('Successfully built Bento container for "iris_service:v1"')),
    ).toBe(true)
  })

  it('gathers no provenance before the bento is known', async () => {
    const {state, bin} = stepFixture()
    await containerizeStep.run(state, recordingIo())
    expect(bin.calls().map((call) => call.step)).toEqual(['containerize'])
    expect(state.warnings).toEqual([])
  })

  it('with docker, probes buildx and turns attestations off when it is there', async () => {
    const {state, bin} = stepFixture({flags: {backend: 'docker'}})
    // A docker whose `buildx version` succeeds; containerize itself goes through the python stand-in.
    scriptTool(
      bin.dir,
      'docker',
      "if (process.argv[2] === 'buildx') console.log('github.com/docker/buildx v0.20'); else process.exit(3)",
    )
    // The labels step probes the builder; containerize uses what it found.
    await labelsStep.run(state, recordingIo())
    await containerizeStep.run(state, recordingIo())
    const containerize = bin.calls().find((call) => call.step === 'containerize')!
    expect(containerize.argv).toEqual(expect.arrayContaining(['--backend', 'docker']))
    expect(containerize.argv.slice(-4)).toEqual(['--opt', 'provenance=false', '--opt', 'sbom=false'])
    expect(containerizeCommand(state).args.slice(-4)).toEqual([
      '--opt',
      'provenance=false',
      '--opt',
      'sbom=false',
    ])
  })

  it('with docker and no buildx, no attestation options (the classic builder rejects them)', async () => {
    const {state, bin} = stepFixture({flags: {backend: 'docker'}})
    scriptTool(bin.dir, 'docker', 'process.exit(1)')
    await labelsStep.run(state, recordingIo())
    await containerizeStep.run(state, recordingIo())
    const containerize = bin.calls().find((call) => call.step === 'containerize')!
    expect(containerize.argv).not.toContain('provenance=false')
  })

  it('fails with class containerize (6)', async () => {
    const {state} = stepFixture({env: {FAKE_FAIL: 'containerize'}})
    const error = await containerizeStep.run(state, recordingIo()).catch((caught: unknown) => caught)
    const failure = classify(error, containerizeStep.failure)
    expect(failure).toMatchObject({kind: 'containerize', exitCode: 6, reason: 'child:exit'})
    expect(failure.message).toMatch(/^bentoml containerize \(podman\) failed \(exit code 1\): ERROR: /)
  })

  it('the provenance labels reach bentoml containerize as --opt label=K=V', async () => {
    const {state, bin} = stepFixture()
    state.bentoTag = 'iris_service:v1'
    // A python whose store lookups answer; containerize itself prints its arguments.
    state.config.python.value.command = scriptTool(
      bin.dir,
      'store-python',
      `const a = process.argv.slice(2)
if (a[2] === 'get') console.log(JSON.stringify({name: 'iris_service', version: 'v1', models: [], services: []}))
else if (a[2] === 'containerize') console.log('ARGS ' + JSON.stringify(a))
else process.exit(1)`,
    )
    const io = recordingIo()
    await labelsStep.run(state, recordingIo())
    await containerizeStep.run(state, io)
    expect(state.warnings).toEqual([])
    expect(state.labels['io.mldeploy.bento']).toBe('iris_service:v1')
    const args = JSON.parse(io.lines.find((line) => line.startsWith('ARGS '))!.slice(5)) as string[]
    expect(args).toContain('label=io.mldeploy.bento=iris_service:v1')
    expect(containerizeStep.title).toBe('Containerize')
  })
})
