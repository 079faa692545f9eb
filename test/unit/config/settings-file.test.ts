import {describe, expect, it} from 'vitest'

import {resolvePushConfig} from '../../../src/config/push-config.js'
import {settingsFileKeys} from '../../../src/config/settings-file.js'
import {UsageError} from '../../../src/errors.js'
import {makeProject} from '../../helpers/cli.js'

const TARGET_YAML = 'deploy/modelA/V1/mldeploy.yaml'

function usageMessage(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return (error as UsageError).oneLine
  }
  throw new Error('expected a usage error')
}

describe('mldeploy.yaml: committed settings', () => {
  it("reads a target's settings by flag name, with the file and key as their source", () => {
    const root = makeProject({
      [TARGET_YAML]: [
        '# committed with the target',
        'repository: detector',
        'tag: [staging, candidate]',
        'region: us-east-2',
        'account-id: "012345678901"',
        'platform: linux/amd64',
        'create-repository: true',
        '',
      ].join('\n'),
    })
    const config = resolvePushConfig('modelA/V1', {}, {}, root)
    expect(config.repository).toEqual({value: 'detector', source: `${TARGET_YAML} repository`})
    expect(config.tags).toEqual({value: ['staging', 'candidate'], source: `${TARGET_YAML} tag`})
    expect(config.region).toEqual({value: 'us-east-2', source: `${TARGET_YAML} region`})
    // Quoted or not, a value is its text: an account id keeps its leading zero.
    expect(config.accountId?.value).toBe('012345678901')
    expect(config.platform?.value).toBe('linux/amd64')
    expect(config.createRepository).toEqual({mutability: 'MUTABLE', scanOnPush: true})
    expect(config.envFiles).toEqual([TARGET_YAML])
  })

  it('ranks below the .env files (local overrides) and the target over the root', () => {
    const root = makeProject({
      'mldeploy.yaml': 'region: eu-west-1\nbackend: docker\naccount-id: "111111111111"\n',
      [TARGET_YAML]: 'region: us-east-2\nrepository: detector\n',
      'deploy/modelA/V1/.env': 'MLDEPLOY_REPOSITORY=mine\n',
    })
    const config = resolvePushConfig('modelA/V1', {}, {}, root)
    expect(config.repository.source).toBe('deploy/modelA/V1/.env MLDEPLOY_REPOSITORY')
    expect(config.region).toEqual({value: 'us-east-2', source: `${TARGET_YAML} region`})
    expect(config.backend).toEqual({value: 'docker', source: 'mldeploy.yaml backend'})
    expect(config.envFiles).toEqual(['deploy/modelA/V1/.env', TARGET_YAML, 'mldeploy.yaml'])
    // The .env value wins locally, and a committed one exists for a clone without it.
    expect(config.fromFiles.find((each) => each.label === 'Repository')).toEqual({
      label: 'Repository',
      file: 'deploy/modelA/V1/.env',
      key: 'MLDEPLOY_REPOSITORY',
      committed: false,
      committedFallback: true,
    })
  })

  it('holds the region a target keeps when CI sets AWS_REGION for every job', () => {
    const root = makeProject({[TARGET_YAML]: 'region: us-east-2\n'})
    const config = resolvePushConfig('modelA/V1', {}, {AWS_REGION: 'us-east-1'}, root)
    expect(config.region?.value).toBe('us-east-2')
    expect(config.shadowed).toEqual([
      expect.objectContaining({
        winner: 'files',
        used: {value: 'us-east-2', source: `${TARGET_YAML} region`},
        unused: {value: 'us-east-1', source: 'env AWS_REGION'},
      }),
    ])
  })

  it("takes a stage's values over the plain ones, and counts as the stage's file", () => {
    const yaml = 'region: us-east-2\nstages:\n  production:\n    region: eu-west-1\n    tag: [production]\n'
    const root = makeProject({[TARGET_YAML]: yaml})
    const production = resolvePushConfig('modelA/V1', {stage: 'production'}, {}, root)
    expect(production.region).toEqual({
      value: 'eu-west-1',
      source: `${TARGET_YAML} (stage production) region`,
    })
    expect(production.tags.value).toEqual(['production'])
    expect(resolvePushConfig('modelA/V1', {}, {}, root).region?.value).toBe('us-east-2')
    expect(usageMessage(() => resolvePushConfig('modelA/V1', {stage: 'staging'}, {}, root))).toContain(
      '--stage staging: no .env.staging nor a stages: staging entry of mldeploy.yaml',
    )
  })

  it('refuses what it cannot read as settings: one line naming the file, the line and the fix', () => {
    const cases: Array<[string, RegExp]> = [
      [
        'repositroy: detector\n',
        /mldeploy\.yaml:1: unknown setting "repositroy" \(did you mean repository\?\)/,
      ],
      ['repo: detector\n', /mldeploy\.yaml:1: unknown setting "repo"\. Use the flag names/],
      ['aws-secret-access-key: x\n', /unknown setting "aws-secret-access-key".*holds no secrets/],
      ['region: us-east-2\nregion: eu-west-1\n', /mldeploy\.yaml:2 is not valid YAML/],
      ['region: [us-east-2]\n', /mldeploy\.yaml:1: region takes one value, not a list/],
      ['repository:\n  name: x\n', /mldeploy\.yaml:1: repository needs a plain value/],
      ['- repository\n', /mldeploy\.yaml is not a map of settings/],
      ["repository: 'unclosed\n", /mldeploy\.yaml:[12] is not valid YAML/],
      ['stages: production\n', /stages is not a map of stage names/],
      [
        'stages:\n  production:\n    regoin: x\n',
        /mldeploy\.yaml:3: unknown setting "regoin" \(did you mean region\?\)/,
      ],
      ['backend: dokcer\n', /Unknown backend "dokcer" \(from deploy\/modelA\/V1\/mldeploy\.yaml backend\)/],
      ['stage: production\n', /unknown setting "stage"/],
    ]
    for (const [text, message] of cases) {
      const root = makeProject({[TARGET_YAML]: text})
      expect(
        usageMessage(() => resolvePushConfig('modelA/V1', {}, {}, root)),
        text,
      ).toMatch(message)
    }
  })

  it('treats an empty file as no settings', () => {
    const root = makeProject({[TARGET_YAML]: '# nothing yet\n'})
    expect(resolvePushConfig('modelA/V1', {}, {}, root).repository.source).toBe('derived from modelA/V1')
  })

  it('offers every setting that has a variable, and none that is chosen per run', () => {
    const keys = settingsFileKeys()
    expect(keys).toEqual(
      expect.arrayContaining(['repository', 'tag', 'region', 'profile', 'platform', 'backend']),
    )
    for (const perRun of ['dry-run', 'stage', 'root', 'json', 'keep-login', 'all'])
      expect(keys).not.toContain(perRun)
  })
})
