import {mkdirSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {envKeyWarnings} from '../../src/config/env-keys.js'
import {resolveTarget, targetAt, targetHere} from '../../src/config/target.js'
import {closest, unknownFlagsMessage} from '../../src/suggest.js'
import {makeProject} from '../helpers/cli.js'

describe('did you mean', () => {
  it('an unknown flag: the closest flag or alias, one per flag when several', () => {
    const known = ['dry-run', 'tag', 'repository', 'ecr-name', 'json']
    expect(unknownFlagsMessage(['--dryrun'], known)).toBe(
      'Nonexistent flag: --dryrun. Did you mean --dry-run?',
    )
    expect(unknownFlagsMessage(['--tags=x'], known)).toBe('Nonexistent flag: --tags=x. Did you mean --tag?')
    expect(unknownFlagsMessage(['--ecr-nam'], known)).toBe(
      'Nonexistent flag: --ecr-nam. Did you mean --ecr-name?',
    )
    expect(unknownFlagsMessage(['--frobnicate'], known)).toBe('Nonexistent flag: --frobnicate.')
    expect(unknownFlagsMessage(['-x'], known)).toBe('Nonexistent flag: -x.')
    expect(unknownFlagsMessage(['--jsno', '--frobnicate'], known)).toBe(
      'Nonexistent flags: --jsno (did you mean --json?), --frobnicate.',
    )
  })

  it('finds a close name, case aside, and nothing for a far one', () => {
    expect(closest('pushh', ['push', 'promote'])).toBe('push')
    expect(closest('iris/v1', ['iris/V1', 'iris/V2'])).toBe('iris/V1')
    expect(closest('deploy', ['push', 'list'])).toBeUndefined()
  })

  it('suggests the target instead of init', () => {
    const root = makeProject({}, 'iris/V1')
    expect(() => resolveTarget('iris/v1', root)).toThrow(/not found: .* Did you mean iris\/V1\?$/)
    try {
      resolveTarget('iris/v1', root)
    } catch (error) {
      expect((error as {hint?: string}).hint).toBeUndefined()
    }
    expect(() => resolveTarget('other/V9', root)).toThrow(
      expect.objectContaining({hint: expect.stringContaining('mldeploy init other/V9')}),
    )
  })

  it('warns about unknown MLDEPLOY_ keys always and AWS_ keys close to known ones', () => {
    const warnings = envKeyWarnings([
      {
        shown: 'deploy/m/v/.env',
        values: {
          MLDEPLOY_BACKNED: 'docker',
          MLDEPLOY_WHATEVER: 'x',
          MLDEPLOY_REPOSITORY: 'a',
          MLDEPLOY_STAGE: 'production',
          AWS_PROFLE: 'dev',
          AWS_ENDPOINT_URL_ECR: 'http://x',
          AWS_CA_BUNDLE: '/x',
          MLFLOW_TRACKING_URI: 'http://m',
        },
      },
    ])
    expect(warnings).toEqual([
      'deploy/m/v/.env: unknown setting MLDEPLOY_BACKNED (did you mean MLDEPLOY_BACKEND?), ignored.',
      'deploy/m/v/.env: unknown setting MLDEPLOY_WHATEVER, ignored.',
      'deploy/m/v/.env: MLDEPLOY_STAGE is not read from .env files (the stage chooses them); use --stage or the environment.',
      'deploy/m/v/.env: unknown AWS variable AWS_PROFLE; did you mean AWS_PROFILE?',
    ])
  })
})

describe('the target from the working directory', () => {
  it('is the target whose folder holds it, at any depth', () => {
    const root = makeProject()
    const deeper = path.join(root, 'deploy/modelA/V1/data/x')
    mkdirSync(deeper, {recursive: true})
    expect(targetAt(root, deeper)).toBe('modelA/V1')
    expect(resolveTarget('.', root, deeper).name).toBe('modelA/V1')
    expect(targetHere(undefined, deeper)).toBe('modelA/V1')
    expect(targetHere(undefined, path.join(root, 'deploy/modelA'))).toBeUndefined()
    expect(targetHere(undefined, root)).toBeUndefined()
    expect(() => targetAt(root, root)).toThrow(/No target here/)
  })
})
