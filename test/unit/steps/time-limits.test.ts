import {describe, expect, it} from 'vitest'

import {classify} from '../../../src/errors.js'
import type {StepId} from '../../../src/step-ids.js'
import type {Step} from '../../../src/pipeline/step.js'
import type {DeployState} from '../../../src/pipeline/state.js'
import {buildStep} from '../../../src/steps/build.js'
import {containerizeStep} from '../../../src/steps/containerize.js'
import {importStep} from '../../../src/steps/import-model.js'
import {loginStep} from '../../../src/steps/login.js'
import {pushStep} from '../../../src/steps/push.js'
import {tempDir} from '../../helpers/cli.js'
import {afterPreflight, stepFixture} from '../../helpers/deploy-state.js'
import {recordingIo} from '../../helpers/recording-host.js'

// Each step's child runs under that step's own limit (--timeout <step>=...): a hung child (and the
// grandchild it started) is stopped, and the message says which limit to raise.
const CASES: Array<[StepId, Step<DeployState>, string]> = [
  ['import', importStep, 'import'],
  ['build', buildStep, 'build'],
  ['containerize', containerizeStep, 'containerize'],
  ['login', loginStep, 'login'],
  ['push', pushStep, 'push'],
]

describe("each step's time limit", () => {
  it.each(CASES)('%s: a hung child is stopped at --timeout %s', async (id, step, hang) => {
    const fixture = await afterPreflight(stepFixture({env: {FAKE_HANG: hang}}))
    const {state} = fixture
    state.bentoTag = 'iris_service:v1'
    state.workDir = tempDir('work')
    // Every other step keeps a long limit: only this step's own may stop it.
    for (const other of Object.keys(state.config.timeouts) as StepId[]) state.config.timeouts[other] = 60_000
    state.config.timeouts[id] = 1000
    const started = performance.now()
    const error = await step.run(state, recordingIo()).catch((caught: unknown) => caught)
    expect(performance.now() - started).toBeLessThan(20_000)
    const failure = classify(error, step.failure, {step: id})
    expect(failure.reason).toBe('child:timeout')
    expect(failure.message).toMatch(/did not finish within 1s and was stopped\.$/)
    expect(failure.hint).toBe(`If it needs longer, raise the limit: --timeout ${id}=<duration>.`)
  })
})
