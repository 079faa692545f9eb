import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {servingCommands} from '../../../src/steps/serving.js'
import {stepFixture} from '../../helpers/deploy-state.js'

describe('the contract run commands', () => {
  it("podman run gets the run's own auth file: a user's REGISTRY_AUTH_FILE that does not exist would fail it", () => {
    // Found by `npm run bench` (BENCH_ONLY=serving): REGISTRY_AUTH_FILE named a file not yet
    // written, and `podman run` (no pull needed) exited 125 with `stat ...: no such file`.
    const {state} = stepFixture({
      flags: {'deploy-target': 'sagemaker', 'check-serving': true},
      files: {'deploy/modelA/V1/example_input.csv': 'a,b\n1,2\n'},
    })
    state.workDir = '/tmp/mldeploy-private'
    const {run, ping} = servingCommands(state)
    expect(run.args.slice(0, 2)).toEqual(['run', '--detach'])
    expect(run.env).toEqual({REGISTRY_AUTH_FILE: path.join('/tmp/mldeploy-private', 'auth.json')})
    // exec, inspect, logs and rm read no auth file.
    expect(ping.env).toBeUndefined()
  })

  it('docker run keeps its own configuration (its contexts live there)', () => {
    const {state} = stepFixture({
      flags: {'deploy-target': 'sagemaker', 'check-serving': true, backend: 'docker'},
      files: {'deploy/modelA/V1/example_input.csv': 'a,b\n1,2\n'},
    })
    expect(servingCommands(state).run.env).toBeUndefined()
  })
})
