import {describe, expect, it} from 'vitest'

import {DeployError} from '../../../src/errors.js'
import {newRun} from '../../../src/pipeline/engine.js'
import {PUSH_PLAN} from '../../../src/pipeline/plan.js'
import {aggregate, type PushRun} from '../../../src/pipeline/push.js'
import {stepFixture} from '../../helpers/deploy-state.js'

function run(failure?: DeployError): PushRun {
  const pushRun = newRun(PUSH_PLAN, stepFixture().state)
  pushRun.failure = failure
  return pushRun
}

const missing = new DeployError('preflight', 'ECR repository x does not exist.', {
  hint: 'Create it.',
  reason: 'aws:not-found',
  step: 'preflight',
  detail: 'RepositoryNotFoundException',
})

describe('aggregate', () => {
  it('one target: its own result and failure, as they are', () => {
    const {result, targets, failure} = aggregate([run(missing)])
    expect(failure).toBe(missing)
    expect(targets).toEqual([result])
    expect(result).toMatchObject({status: 'failed', target: 'modelA/V1', error: {message: missing.message}})
  })

  it('several: every result, and a failure that counts them and holds each failed one, named', () => {
    const login = new DeployError('auth', 'Login refused.', {step: 'login'})
    const {result, failure} = aggregate([run(), run(missing), run(login)])
    expect(result).toMatchObject({status: 'pushed', dryRun: false})
    expect('targets' in result && result.targets.map((each) => each.status)).toEqual([
      'pushed',
      'failed',
      'failed',
    ])
    expect(failure).toMatchObject({
      kind: 'preflight',
      message: '2 of 3 targets failed; first: modelA/V1: ECR repository x does not exist.',
      hint: 'Create it.',
      reason: 'aws:not-found',
      step: 'preflight',
    })
    // The detail stays with each target's own failure (--verbose shows the first target's).
    expect(failure!.detail).toBeUndefined()
    expect(failure!.targets!.map((each) => [each.kind, each.step, each.message])).toEqual([
      ['preflight', 'preflight', 'modelA/V1: ECR repository x does not exist.'],
      ['auth', 'login', 'modelA/V1: Login refused.'],
    ])
  })

  it('several that all pushed: no failure', () => {
    expect(aggregate([run(), run()]).failure).toBeUndefined()
  })
})
