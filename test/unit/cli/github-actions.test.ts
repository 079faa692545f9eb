import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {
  annotationFor,
  appendStepSummary,
  endpointOutputs,
  endpointSummary,
  escapeData,
  escapeProperty,
  formatOutputs,
  formatStepSummary,
  inGithubActions,
  stepOutputs,
  writeStepOutputs,
} from '../../../src/cli/github-actions.js'
import {DeployError} from '../../../src/errors.js'
import {SecretRegistry} from '../../../src/secrets.js'
import {tempDir} from '../../helpers/cli.js'

const DIGEST = `sha256:${'ab'.repeat(32)}`
const REPO = '123456789012.dkr.ecr.us-east-1.amazonaws.com/modela/v1'
const pushed = {
  status: 'pushed',
  target: 'modelA/V1',
  images: [`${REPO}:latest`, `${REPO}:f3k2qyq5lsoaaaab`],
  digest: DIGEST,
  imageByDigest: `${REPO}@${DIGEST}`,
  bentoTag: 'iris_v1:f3k2qyq5lsoaaaab',
  steps: [
    {id: 'preflight', status: 'done', durationMs: 812},
    {id: 'build', status: 'done', durationMs: 12_345},
  ],
}
const identity = (text: string): string => text

describe('annotations', () => {
  it('escapes %, CR and LF in the message, and also : and , in the title', () => {
    expect(escapeData('100% done\r\nnext')).toBe('100%25 done%0D%0Anext')
    expect(escapeProperty('a: b, c%')).toBe('a%3A b%2C c%25')
  })

  it('names the step of the error kind and appends the hint', () => {
    const error = new DeployError('auth', 'Login refused:\nbad token', {hint: 'Run again.'})
    expect(annotationFor(error)).toBe('::error title=mldeploy login::Login refused:%0Abad token Run again.')
    expect(annotationFor({kind: 'build', message: '50% of 2, failed'})).toBe(
      '::error title=mldeploy build::50%25 of 2, failed',
    )
    expect(annotationFor({kind: 'push', message: 'x'}, 'promote: a,b')).toBe(
      '::error title=mldeploy promote%3A a%2Cb::x',
    )
  })

  it('prints only in GitHub Actions', () => {
    expect(inGithubActions({GITHUB_ACTIONS: 'true'})).toBe(true)
    expect(inGithubActions({})).toBe(false)
  })
})

describe('step outputs', () => {
  it('image, image-by-digest, digest, bento-tag and images as a JSON array', () => {
    expect(Object.fromEntries(stepOutputs(pushed))).toEqual({
      image: `${REPO}:latest`,
      'image-by-digest': `${REPO}@${DIGEST}`,
      digest: DIGEST,
      'bento-tag': 'iris_v1:f3k2qyq5lsoaaaab',
      images: JSON.stringify(pushed.images),
      status: 'pushed',
    })
  })

  it('leaves out what a result does not have', () => {
    const outputs = Object.fromEntries(
      stepOutputs({status: 'planned', target: 'm/v', images: [], digest: null}),
    )
    expect(outputs).toEqual({images: '[]', status: 'planned'})
  })

  it('uses name<<DELIM for values with a line break, name=value otherwise', () => {
    const text = formatOutputs(
      [
        ['a', 'one line'],
        ['b', 'two\nlines'],
      ],
      'EOF_x',
    )
    expect(text).toBe('a=one line\nb<<EOF_x\ntwo\nlines\nEOF_x\n')
    expect(() => formatOutputs([['b', 'x\nEOF_x']], 'EOF_x')).toThrow(/delimiter/)
    expect(formatOutputs([['b', 'x\ny']])).toMatch(
      /^b<<ghadelimiter_[0-9a-f-]{36}\nx\ny\nghadelimiter_[0-9a-f-]{36}\n$/,
    )
  })

  it('appends to GITHUB_OUTPUT only when it is set, redacted', () => {
    const file = path.join(tempDir('gha'), 'output')
    writeFileSync(file, 'earlier=1\n')
    const secrets = new SecretRegistry()
    secrets.add('s3cr3t-password')
    const leaky = {...pushed, bentoTag: 'iris:s3cr3t-password'}
    expect(writeStepOutputs({}, leaky, (text) => secrets.redact(text))).toBe(false)
    expect(writeStepOutputs({GITHUB_OUTPUT: file}, leaky, (text) => secrets.redact(text))).toBe(true)
    const written = readFileSync(file, 'utf8')
    expect(written.startsWith('earlier=1\nimage=')).toBe(true)
    expect(written).toContain('bento-tag=iris:********\n')
    expect(written).not.toContain('s3cr3t-password')
  })
})

describe('step summary', () => {
  it('lists each target with images, digest and step durations', () => {
    const text = formatStepSummary([pushed])
    expect(text).toContain('### mldeploy push: 1 of 1 target ok')
    expect(text).toContain('#### ✅ modelA/V1 (pushed)')
    expect(text).toContain(`| image | \`${REPO}:latest\` |`)
    expect(text).toContain(`| digest | \`${DIGEST}\` |`)
    expect(text).toContain('Steps: preflight 0.8 s · build 12.3 s')
  })

  it('shows a failed target with its failed step and the error line, table-safe', () => {
    const failed = {
      status: 'failed',
      target: 'modelB/V2',
      steps: [
        {id: 'preflight', status: 'done', durationMs: 500},
        {id: 'build', status: 'failed', durationMs: 900},
        {id: 'containerize', status: 'skipped'},
      ],
      error: {kind: 'build', message: 'bentoml build failed: a | b\nc', hint: 'See the log.'},
      images: [`${REPO}:latest`, `${REPO}:<bento-version>`],
      pushed: [],
    }
    const text = formatStepSummary([pushed, failed], 'push')
    expect(text).toContain('### mldeploy push: 1 of 2 targets ok, 1 failed')
    expect(text).toContain('#### ❌ modelB/V2 (failed)')
    expect(text).toContain('> **build**: bentoml build failed: a \\| b c See the log.')
    expect(text).toContain('Steps: preflight 0.5 s · build failed · containerize skipped')
    expect(text).not.toContain('<bento-version>')
    const partly = formatStepSummary([{...failed, pushed: [`${REPO}:v1`]}])
    expect(partly).toContain(`| pushed | \`${REPO}:v1\` |`)
  })

  it('appends to GITHUB_STEP_SUMMARY only when it is set, redacted', () => {
    const file = path.join(tempDir('gha'), 'summary')
    const redact = (text: string): string => text.replaceAll('modelA', '<hidden>')
    expect(appendStepSummary({}, [pushed], identity)).toBe(false)
    expect(appendStepSummary({GITHUB_STEP_SUMMARY: file}, [pushed], redact, 'promote')).toBe(true)
    expect(appendStepSummary({GITHUB_STEP_SUMMARY: file}, [pushed], redact, 'promote')).toBe(true)
    const written = readFileSync(file, 'utf8')
    expect(written.match(/### mldeploy promote/g)).toHaveLength(2)
    expect(written).not.toContain('modelA')
  })
})

describe('the job summary shows the scan', () => {
  const scan = {
    threshold: null,
    status: 'COMPLETE',
    counts: {CRITICAL: 0, HIGH: 2, MEDIUM: 1, LOW: 0, INFORMATIONAL: 0, UNDEFINED: 0},
    top: [{id: 'CVE-1', severity: 'HIGH', package: 'openssl', fixedIn: '3.0.2'}],
    allowed: [],
    expired: [],
  }

  it('a gate: its verdict, the counts and the findings that failed it', () => {
    const text = formatStepSummary([{...pushed, scan: {...scan, verdict: 'failed', threshold: 'HIGH'}}])
    expect(text).toContain('Scan gate ❌ **failed** (max severity HIGH): HIGH 2, MEDIUM 1; 0 allowed')
    expect(text).toContain('| CVE-1 | HIGH | openssl | 3.0.2 |')
  })

  it('reported without a gate (promote): the status and the counts, no verdict; skipped: nothing', () => {
    const text = formatStepSummary([{...pushed, scan: {...scan, verdict: 'reported', top: []}}])
    expect(text).toContain('Scan COMPLETE: HIGH 2, MEDIUM 1 (no gate)')
    expect(text).not.toContain('Scan gate')
    expect(formatStepSummary([{...pushed, scan: {...scan, verdict: 'skipped'}}])).not.toContain('Scan')
  })
})

describe('a deploy in the outputs and the summary (deploy, push/promote --deploy)', () => {
  const block = {
    status: 'deployed',
    endpoint: {
      name: 'modela-v1',
      arn: 'arn:aws:sagemaker:us-east-1:1:endpoint/modela-v1',
      status: 'InService',
    },
    endpointConfig: {name: 'modela-v1-abc-123456'},
    image: {reference: `${REPO}@${DIGEST}`, digest: DIGEST},
    changed: true,
  }

  it("the endpoint outputs, and a chained one adds deploy-status after push's own", () => {
    expect(endpointOutputs(block)).toEqual([
      ['endpoint-name', 'modela-v1'],
      ['endpoint-arn', 'arn:aws:sagemaker:us-east-1:1:endpoint/modela-v1'],
      ['endpoint-status', 'InService'],
      ['endpoint-config', 'modela-v1-abc-123456'],
      ['changed', 'true'],
    ])
    const chained = stepOutputs({...pushed, deploy: block})
    expect(chained.slice(-6)).toEqual([...endpointOutputs(block), ['deploy-status', 'deployed']])
    expect(stepOutputs({...pushed, deploy: null}).map(([name]) => name)).not.toContain('endpoint-name')
  })

  it('the summary entry names the endpoint, its status and the image; chained, only the deploy steps', () => {
    const steps = [
      {id: 'push', status: 'done', durationMs: 10},
      {id: 'deploy-wait', status: 'done', durationMs: 20},
    ]
    expect(endpointSummary({...pushed, steps, deploy: block})).toEqual([
      {
        status: 'deployed',
        target: pushed.target,
        images: [`modela-v1 (InService) <- ${REPO}@${DIGEST}`],
        digest: DIGEST,
        steps: [{id: 'deploy-wait', status: 'done', durationMs: 20}],
      },
    ])
    expect(endpointSummary(pushed)).toEqual([])
  })
})

describe('the job summary lists warnings', () => {
  it('each target its own, one per line, on one line each', () => {
    const summary = formatStepSummary([
      {
        status: 'pushed',
        target: 'modelA/V1',
        warnings: ['No content digest: no bento.\nThe image is built.'],
      },
      {status: 'pushed', target: 'modelB/V1', warnings: []},
    ])
    expect(summary).toContain('Warnings:\n\n- ⚠️ No content digest: no bento. The image is built.\n')
    expect(summary.split('Warnings:')).toHaveLength(2)
    expect(summary.indexOf('Warnings:')).toBeLessThan(summary.indexOf('modelB/V1'))
  })
})
