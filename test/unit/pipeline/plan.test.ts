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
  it('lists the steps with the exact commands and full image references', () => {
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
      'reuse',
      'labels',
      'containerize',
      'login',
      'push',
      'check',
      'tag',
      'verify',
    ])
    const step = (id: string) => plan.find((each) => each.id === id)!
    // Conditional commands (the bentoml probe, a re-login, push retries) are marked as such.
    const always = (id: string): string[] =>
      step(id)
        .commands.filter((command) => command.when === undefined)
        .map((command) => command.command)
    expect(step('preflight').commands[0]).toMatchObject({
      command: expect.stringContaining('-c'),
      when: 'the Python is on PATH',
    })
    expect(
      step('push')
        .commands.slice(1)
        .every((command) => command.when !== undefined),
    ).toBe(true)
    expect(always('import')).toEqual(['BENTOML_DO_NOT_TRACK=true python3 create_bento_model.py'])
    expect(always('build')[0]).toContain('python3 -m bentoml build -o tag --version v9')
    // Issue 12: the bento's folder for the content digest; the rest depends on what the reuse step finds.
    expect(always('reuse')[0]).toContain("python3 -m bentoml get '<bento-tag>' -o path")
    expect(step('reuse').commands[1]).toMatchObject({
      command:
        "podman images --filter 'label=io.mldeploy.content-digest=<content-digest>' --format '{{.ID}}'",
      when: 'the repository does not have it',
    })
    // The labels step reads the store and git; the bento tag is known only after the build.
    expect(always('labels')[0]).toContain("-m bentoml get '<bento-tag>' -o json")
    expect(step('containerize').commands[0]!.command).toContain(
      `containerize '<bento-name>:v9' --backend podman -t ${registry}/modela/v1:latest -t ${registry}/modela/v1:prod -t ${registry}/modela/v1:v9`,
    )
    expect(step('containerize').commands[0]!.when).toBe(
      'no image with this content is in the repository or the local engine',
    )
    expect(step('login').commands[0]!.command).toMatch(
      /podman login --username AWS --password-stdin 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com$/,
    )
    // One upload under the bento version; the other tags are added through the ECR API.
    expect(step('push').commands[0]!.command).toContain(`podman push --format v2s2 --digestfile`)
    expect(step('push').commands[0]!.command).toMatch(new RegExp(`${registry}/modela/v1:v9$`))
    // The check reads the pushed image back before any tag moves.
    expect(step('check').actions.flatMap((action) => action.calls)).toContain('aws:ecr:BatchGetImage')
    expect(step('tag').actions.map((action) => action.text)).toEqual([
      "The image's manifest, and what latest, prod, content-<content-digest> point at now (to say which tag moves, from which digest): ECR BatchGetImage (one call)",
      'A tag the answer names no image for: ECR BatchGetImage of that tag alone',
      `${registry}/modela/v1:latest -> the image's digest: ECR PutImage of the manifest read above`,
      `${registry}/modela/v1:prod -> the image's digest: ECR PutImage of the manifest read above`,
      `${registry}/modela/v1:content-<content-digest> -> the image's digest: ECR PutImage of the manifest read above`,
    ])
    // Issue 23: one read for every tag (and the manifest: a dry run has no check), then a PutImage each.
    expect(step('tag').actions.map((action) => action.calls)).toEqual([
      ['aws:ecr:BatchGetImage'],
      ['aws:ecr:BatchGetImage'],
      ['aws:ecr:PutImage'],
      ['aws:ecr:PutImage'],
      ['aws:ecr:PutImage'],
    ])
    expect(step('verify').actions[0]!.text).toContain('ECR DescribeImages')
    expect(step('login').commands[0]!.stdin).toBe('the ECR password from GetAuthorizationToken')
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
