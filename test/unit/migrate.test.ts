import {copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {
  applyMigration,
  ecrShDisagreement,
  formatMigration,
  parseEcrSh,
  planMigration,
  unifiedDiff,
} from '../../src/project/migrate.js'
import {resolveTarget} from '../../src/project/target.js'
import {makeProject} from '../helpers/cli.js'

// template-ecr.sh is the template README's ecr.sh, byte for byte; the others are edited copies.
const FIXTURES = path.resolve('test/fixtures/ecr')
const read = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8')
const day = new Date('2026-11-27T10:00:00Z')

function targetWith(ecrSh: string, env?: string) {
  const root = makeProject()
  const dir = path.join(root, 'deploy/modelA/V1')
  copyFileSync(path.join(FIXTURES, ecrSh), path.join(dir, 'ecr.sh'))
  if (env !== undefined) writeFileSync(path.join(dir, '.env'), env)
  return resolveTarget('modelA/V1', root)
}

describe('parseEcrSh', () => {
  it("translates the template's own ecr.sh completely: region and tag, the placeholder and STS noted", () => {
    const script = parseEcrSh(read('template-ecr.sh'))
    expect(script.untranslated).toEqual([])
    expect(script.settings).toEqual([
      {variable: 'REGION', env: 'AWS_REGION', value: 'us-east-1', line: 3},
      {variable: 'ECR_TAG', env: 'MLDEPLOY_TAGS', value: 'latest', line: 6},
      {variable: 'BACKEND', env: 'MLDEPLOY_BACKEND', value: 'podman', line: 7},
    ])
    expect(script.notes).toEqual([
      "AWS_ACCOUNT_ID (line 4) comes from STS, as mldeploy's does: nothing to write.",
      "ECR_NAME (line 5) is still the template's placeholder <ECR-NAME>: mldeploy's default applies.",
    ])
  })

  it('reads edited values: another repository, docker, another region', () => {
    const values = Object.fromEntries(
      parseEcrSh(read('edited-ecr.sh')).settings.map((each) => [each.env, each.value]),
    )
    expect(values).toEqual({
      AWS_REGION: 'eu-west-1',
      MLDEPLOY_REPOSITORY: 'detector',
      MLDEPLOY_TAGS: 'latest',
      MLDEPLOY_BACKEND: 'docker',
    })
  })

  it('names every line it cannot translate: extra commands and options', () => {
    const script = parseEcrSh(read('custom-ecr.sh'))
    expect(script.settings.map((each) => `${each.env}=${each.value}`)).toEqual([
      'AWS_REGION=us-east-1',
      'MLDEPLOY_ACCOUNT_ID=123456789012',
      'MLDEPLOY_REPOSITORY=churn/model-a',
      'MLDEPLOY_TAGS=stable',
      'MLDEPLOY_BACKEND=podman',
    ])
    expect(script.untranslated.map((each) => each.text)).toEqual([
      '--image-tag "$ECR_IMAGE_TAG" \\',
      '--opt platform=linux/amd64 || {',
      'aws ecr create-repository --repository-name "$ECR_NAME" --region "$REGION" || true',
      '$BACKEND tag "$ECR_IMAGE_TAG" "${AWS_ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/${ECR_NAME}:prod"',
    ])
    expect(script.untranslated[2]).toMatchObject({line: 65, why: /mldeploy does not run it/})
  })

  it('refuses values mldeploy cannot use, and computed ones, with the reason', () => {
    const script = parseEcrSh(
      [
        'BACKEND=buildah',
        'ECR_NAME="Team Repo"',
        'REGION=$(aws configure get region)',
        'ECR_TAG=${TAG}',
      ].join('\n'),
    )
    expect(script.settings).toEqual([])
    expect(script.untranslated.map((each) => each.why)).toEqual([
      expect.stringContaining('buildah'),
      expect.stringContaining('ECR_NAME'),
      'REGION is computed by a command when the script runs',
      'ECR_TAG is built from other shell variables',
    ])
  })
})

describe('planMigration', () => {
  it('writes the translated settings into a new .env and shows the diff', () => {
    const target = targetWith('edited-ecr.sh')
    const plan = planMigration(target, day)
    expect(plan.written.map((each) => `${each.key}=${each.value}`)).toEqual([
      'AWS_REGION=eu-west-1',
      'MLDEPLOY_REPOSITORY=detector',
      'MLDEPLOY_TAGS=latest',
      'MLDEPLOY_BACKEND=docker',
    ])
    expect(plan.diff).toBe(
      [
        '--- /dev/null',
        '+++ b/deploy/modelA/V1/.env',
        '@@ -0,0 +1,5 @@',
        '+# From ecr.sh by mldeploy migrate (2026-11-27)',
        '+AWS_REGION=eu-west-1',
        '+MLDEPLOY_REPOSITORY=detector',
        '+MLDEPLOY_TAGS=latest',
        '+MLDEPLOY_BACKEND=docker',
        '',
      ].join('\n'),
    )
    applyMigration(plan, target.root)
    expect(readFileSync(path.join(target.dir, '.env'), 'utf8')).toContain('MLDEPLOY_REPOSITORY=detector\n')
    // Once migrated, the ecr.sh agrees with what push resolves from the .env.
    expect(planMigration(target, day).written).toEqual([])
  })

  it('never overwrites a value the .env already has, and says so', () => {
    const target = targetWith(
      'edited-ecr.sh',
      'MLDEPLOY_BACKEND=podman\nMLFLOW_TRACKING_URI=http://mlflow:5000',
    )
    const plan = planMigration(target, day)
    expect(plan.kept).toEqual([{key: 'MLDEPLOY_BACKEND', existing: 'podman', ecrSh: 'docker'}])
    expect(plan.written.map((each) => each.key)).not.toContain('MLDEPLOY_BACKEND')
    expect(plan.diff).toContain(
      [
        '@@ -1,2 +1,7 @@',
        ' MLDEPLOY_BACKEND=podman',
        '-MLFLOW_TRACKING_URI=http://mlflow:5000',
        '\\ No newline at end of file',
        '+MLFLOW_TRACKING_URI=http://mlflow:5000',
        '+',
        '+# From ecr.sh by mldeploy migrate (2026-11-27)',
      ].join('\n'),
    )
    expect(formatMigration(plan, true)).toContain(
      'kept  MLDEPLOY_BACKEND=podman, already in deploy/modelA/V1/.env (ecr.sh says docker)',
    )
    applyMigration(plan, target.root)
    const env = readFileSync(path.join(target.dir, '.env'), 'utf8')
    expect(env.startsWith('MLDEPLOY_BACKEND=podman\nMLFLOW_TRACKING_URI=http://mlflow:5000\n\n#')).toBe(true)
  })

  it('reports a target without ecr.sh', () => {
    const root = makeProject()
    const plan = planMigration(resolveTarget('modelA/V1', root))
    expect(plan.found).toBe(false)
    expect(formatMigration(plan, false)).toBe(
      'modelA/V1: no ecr.sh (deploy/modelA/V1/ecr.sh), nothing to migrate.',
    )
  })

  it('lists the untranslated lines in its report', () => {
    const text = formatMigration(planMigration(targetWith('custom-ecr.sh'), day), false)
    expect(text).toContain('wrote  MLDEPLOY_REPOSITORY=churn/model-a  (from ECR_NAME, line 5)')
    expect(text).toContain('not translated (4)')
    expect(text).toContain('line 65: aws ecr create-repository')
  })
})

describe('unifiedDiff', () => {
  it('keeps three lines of context', () => {
    expect(unifiedDiff('x/.env', 'a\nb\nc\nd\ne\n', 'a\nb\nc\nd\ne\nf\n')).toBe(
      '--- a/x/.env\n+++ b/x/.env\n@@ -3,3 +3,4 @@\n c\n d\n e\n+f\n',
    )
  })
})

describe('ecrShDisagreement', () => {
  const dir = (ecrSh: string): string => {
    const root = makeProject()
    const target = path.join(root, 'deploy/modelA/V1')
    mkdirSync(target, {recursive: true})
    copyFileSync(path.join(FIXTURES, ecrSh), path.join(target, 'ecr.sh'))
    return target
  }

  it('names both values and mldeploy migrate', () => {
    const warning = ecrShDisagreement(
      {name: 'modelA/V1', dir: dir('edited-ecr.sh')},
      {
        repository: {value: 'modela/v1', source: 'derived from modelA/V1'},
        tags: {value: ['latest'], source: 'default'},
        backend: {value: 'podman', source: 'default'},
      },
    )
    expect(warning).toBe(
      "modelA/V1 holds an ecr.sh that disagrees with mldeploy: repository detector in ecr.sh, modela/v1 here (derived from modelA/V1); backend docker in ecr.sh, podman here (default). Run mldeploy migrate modelA/V1 to carry its settings into the target's .env.",
    )
  })

  it('is silent when they agree, for the placeholder, and without ecr.sh', () => {
    const resolved = {
      repository: {value: 'modela/v1', source: 'derived from modelA/V1'},
      tags: {value: ['latest', 'git-1'], source: 'flag --tag'},
      backend: {value: 'podman', source: 'default'},
    }
    expect(ecrShDisagreement({name: 'modelA/V1', dir: dir('template-ecr.sh')}, resolved)).toBeUndefined()
    expect(ecrShDisagreement({name: 'modelA/V1', dir: '/nonexistent'}, resolved)).toBeUndefined()
    const tagged = ecrShDisagreement({name: 'modelA/V1', dir: dir('custom-ecr.sh')}, resolved)
    expect(tagged).toContain('tag stable in ecr.sh, latest,git-1 here (flag --tag)')
  })
})
