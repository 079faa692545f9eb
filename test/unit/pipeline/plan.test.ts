import {describe, expect, it} from 'vitest'

import {resolvePushConfig} from '../../../src/config/push-config.js'
import {describePlan} from '../../../src/pipeline/engine.js'
import {PUSH_PLAN} from '../../../src/pipeline/plan.js'
import {formatPlan} from '../../../src/pipeline/report.js'
import {toResult} from '../../../src/pipeline/push.js'
import {DeployState} from '../../../src/pipeline/state.js'
import {AwsClients} from '../../../src/systems/aws/index.js'
import {makeProject} from '../../helpers/cli.js'

function dryState(flags = {}): DeployState {
  const root = makeProject()
  const config = resolvePushConfig('modelA/V1', {'dry-run': true, ...flags}, {}, root)
  return new DeployState(
    config,
    {value: 'us-east-1', source: 'default'},
    new AwsClients({region: 'us-east-1'}),
  )
}

describe('the plan of a dry run', () => {
  it('lists the six steps with the exact commands and full image references', () => {
    const state = dryState({'account-id': '123456789012', 'bento-version': 'v9', tag: ['latest', 'prod']})
    const registry = '123456789012.dkr.ecr.us-east-1.amazonaws.com'
    expect(state.images).toEqual([
      `${registry}/modela/v1:latest`,
      `${registry}/modela/v1:prod`,
      `${registry}/modela/v1:v9`,
    ])
    const plan = describePlan(PUSH_PLAN, state)
    expect(plan.map((step) => step.id)).toEqual([
      'preflight',
      'import',
      'build',
      'containerize',
      'login',
      'push',
      'tag',
      'verify',
    ])
    // Conditional commands (the bentoml probe, a re-login, push retries) are marked as such.
    const always = plan.flatMap((step) => step.commands.filter((command) => command.when === undefined))
    const commands = always.map((command) => command.command)
    expect(plan[0]!.commands[0]).toMatchObject({
      command: expect.stringContaining('-c'),
      when: 'the Python is on PATH',
    })
    expect(plan[5]!.commands.slice(1).every((command) => command.when !== undefined)).toBe(true)
    expect(commands[0]).toBe('BENTOML_DO_NOT_TRACK=true python3 create_bento_model.py')
    expect(commands[1]).toContain('python3 -m bentoml build -o tag --version v9')
    expect(commands[2]).toContain(
      `containerize '<bento-name>:v9' --backend podman -t ${registry}/modela/v1:latest -t ${registry}/modela/v1:prod -t ${registry}/modela/v1:v9`,
    )
    expect(commands[3]).toMatch(
      /podman login --username AWS --password-stdin 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com$/,
    )
    // One upload under the bento version; the other tags are added through the ECR API.
    expect(commands.slice(4)).toHaveLength(1)
    expect(commands[4]).toContain(`podman push --format v2s2 --digestfile`)
    expect(commands[4]).toMatch(new RegExp(`${registry}/modela/v1:v9$`))
    expect(plan[6]!.actions.map((action) => action.text)).toEqual([
      `${registry}/modela/v1:latest -> the image's digest: ECR BatchGetImage + PutImage`,
      `${registry}/modela/v1:prod -> the image's digest: ECR BatchGetImage + PutImage`,
    ])
    expect(plan[6]!.actions[0]!.calls).toEqual(['aws:ecr:BatchGetImage', 'aws:ecr:PutImage'])
    expect(plan[7]!.actions[0]!.text).toContain('ECR DescribeImages')
    expect(plan[4]!.commands[0]!.stdin).toBe('the ECR password from GetAuthorizationToken')
  })

  it('shows placeholders, never guesses, where the values come at run time', () => {
    const state = dryState()
    expect(state.images).toEqual([
      '<aws-account-id>.dkr.ecr.us-east-1.amazonaws.com/modela/v1:latest',
      '<aws-account-id>.dkr.ecr.us-east-1.amazonaws.com/modela/v1:<bento-version>',
    ])
  })

  it('redacts a known secret from the planned commands', () => {
    const state = dryState({registry: 'registry.example.com:5000', 'account-id': '123456789012'})
    state.secrets.add('registry.example.com')
    const commands = describePlan(PUSH_PLAN, state).flatMap((step) =>
      step.commands.map((command) => command.command),
    )
    expect(commands.join('\n')).not.toContain('registry.example.com')
    expect(commands.filter((command) => command.includes(' push '))[0]).toContain(
      '********:5000/modela/v1:<bento-version>',
    )
    // The text form shows the same commands.
    expect(formatPlan({...toResult(state), plan: describePlan(PUSH_PLAN, state)})).toContain(commands.at(-1)!)
  })
})
