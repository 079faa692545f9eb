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
import {resolvePushConfig} from '../../src/config/push-config.js'
import {resolveTarget} from '../../src/config/target.js'
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
      {variable: 'REGION', key: 'region', env: 'AWS_REGION', value: 'us-east-1', line: 3},
      {variable: 'ECR_TAG', key: 'tag', env: 'MLDEPLOY_TAGS', value: 'latest', line: 6},
      {variable: 'BACKEND', key: 'backend', env: 'MLDEPLOY_BACKEND', value: 'podman', line: 7},
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

  it('translates the options that have a setting, and names every line that has none', () => {
    const script = parseEcrSh(read('custom-ecr.sh'))
    expect(script.settings.map((each) => `${each.key}=${each.value} (line ${each.line})`)).toEqual([
      'region=us-east-1 (line 3)',
      'account-id=123456789012 (line 4)',
      'repository=churn/model-a (line 5)',
      'tag=stable (line 6)',
      'backend=podman (line 7)',
      // containerize's --opt platform=..., and the create-repository before the push.
      'platform=linux/amd64 (line 46)',
      'create-repository=true (line 65)',
    ])
    expect(script.untranslated).toEqual([
      {
        line: 67,
        text: '$BACKEND tag "$ECR_IMAGE_TAG" "${AWS_ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/${ECR_NAME}:prod"',
        why: 'not in the template: mldeploy does not run it',
      },
    ])
  })

  it('translates each option form, keeps what has no setting, and refuses bad values', () => {
    const script = parseEcrSh(
      [
        '    --platform linux/arm64 \\',
        '$BACKEND push --format v2s2 "$ECR_IMAGE_TAG"',
        'aws ecr create-repository --repository-name x --image-tag-mutability IMMUTABLE || true',
        '    --opt build-arg=PIP_INDEX=x \\',
        '    --opt platform=linux/amd64 --opt build-arg=A=1 \\',
        '    --opt platform=windows \\',
      ].join('\n'),
    )
    expect(script.settings.map((each) => `${each.key}=${each.value}`)).toEqual([
      'image-format=docker',
      'image-tag-mutability=IMMUTABLE',
      'create-repository=true',
      'platform=linux/amd64',
    ])
    expect(script.untranslated.map((each) => `${each.line}: ${each.why}`)).toEqual([
      '4: not in the template: mldeploy does not run it',
      '5: the rest of the line (--opt build-arg=A=1) has no setting',
      expect.stringMatching(
        /^6: Platform "windows" \(from ecr\.sh --opt platform=windows, line 6\) is not os\/arch/,
      ),
    ])
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
  it('writes the translated settings into a new mldeploy.yaml and shows the diff', () => {
    const target = targetWith('edited-ecr.sh')
    const plan = planMigration(target, day)
    expect(plan.written.map((each) => `${each.key}: ${each.value}`)).toEqual([
      'region: eu-west-1',
      'repository: detector',
      'tag: latest',
      'backend: docker',
    ])
    expect(plan.translations.map((each) => each.outcome)).toEqual([
      'written',
      'written',
      'written',
      'written',
    ])
    expect(plan.diff).toBe(
      [
        '--- /dev/null',
        '+++ b/deploy/modelA/V1/mldeploy.yaml',
        '@@ -0,0 +1,7 @@',
        '+# mldeploy settings of modelA/V1, committed: every clone (CI too) resolves the same.',
        '+# Keys are the flag names of mldeploy push --help; secrets and local overrides go in .env.',
        '+# From ecr.sh by mldeploy migrate (2026-11-27)',
        '+region: eu-west-1',
        '+repository: detector',
        '+tag: [latest]',
        '+backend: docker',
        '',
      ].join('\n'),
    )
    applyMigration(plan, target.root)
    expect(readFileSync(path.join(target.dir, 'mldeploy.yaml'), 'utf8')).toContain('repository: detector\n')
    // Once migrated, push resolves what ecr.sh pushed to, and a second migrate has nothing to write.
    const config = resolvePushConfig('modelA/V1', {}, {AWS_REGION: 'us-east-1'}, target.root)
    expect([config.repository.value, config.region?.value, config.backend.value]).toEqual([
      'detector',
      'eu-west-1',
      'docker',
    ])
    const again = planMigration(target, day)
    expect(again.written).toEqual([])
    expect(again.translations.every((each) => each.outcome === 'same')).toBe(true)
  })

  it('never overwrites a value the settings file already has, and says so', () => {
    const target = targetWith('edited-ecr.sh', 'MLDEPLOY_REPOSITORY=old-local\n')
    writeFileSync(path.join(target.dir, 'mldeploy.yaml'), '# ours\nbackend: podman')
    const plan = planMigration(target, day)
    expect(plan.kept).toEqual([{key: 'backend', existing: 'podman', ecrSh: 'docker'}])
    expect(plan.written.map((each) => each.key)).not.toContain('backend')
    expect(plan.diff).toContain(
      [
        '@@ -1,2 +1,7 @@',
        ' # ours',
        '-backend: podman',
        '\\ No newline at end of file',
        '+backend: podman',
        '+',
        '+# From ecr.sh by mldeploy migrate (2026-11-27)',
      ].join('\n'),
    )
    const text = formatMigration(plan, true)
    expect(text).toContain(
      'kept  backend: podman, already in deploy/modelA/V1/mldeploy.yaml (ecr.sh says docker)',
    )
    // A .env value (an earlier migrate wrote there) still wins on this machine: said, not changed.
    expect(text).toContain(
      'note  deploy/modelA/V1/.env sets MLDEPLOY_REPOSITORY=old-local, which wins over deploy/modelA/V1/mldeploy.yaml on this machine only',
    )
    applyMigration(plan, target.root)
    const written = readFileSync(path.join(target.dir, 'mldeploy.yaml'), 'utf8')
    expect(written.startsWith('# ours\nbackend: podman\n\n# From')).toBe(true)
  })

  it('names a settings file it cannot read instead of appending to it', () => {
    const target = targetWith('edited-ecr.sh')
    writeFileSync(path.join(target.dir, 'mldeploy.yaml'), 'regoin: x\n')
    expect(() => planMigration(target, day)).toThrow(/mldeploy\.yaml:1: unknown setting "regoin"/)
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
    expect(text).toContain('wrote  repository: churn/model-a  (from ECR_NAME, line 5)')
    expect(text).toContain('wrote  platform: linux/amd64  (from --opt platform=linux/amd64, line 46)')
    expect(text).toContain('not translated (1)')
    expect(text).toContain('line 67: $BACKEND tag')
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
      "modelA/V1 holds an ecr.sh that disagrees with mldeploy: repository detector in ecr.sh, modela/v1 here (derived from modelA/V1); backend docker in ecr.sh, podman here (default). Run mldeploy migrate modelA/V1 to carry its settings into the target's mldeploy.yaml.",
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
