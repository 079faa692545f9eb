import {afterEach, describe, expect, it} from 'vitest'

import type {ScanGate} from '../../../src/config/push-config.js'
import {AwsError, CheckError} from '../../../src/errors.js'
import type {StepIO} from '../../../src/pipeline/step.js'
import type {AllowEntry} from '../../../src/scan-findings.js'
import {SecretRegistry} from '../../../src/secrets.js'
import {scanStep, type ScanTarget} from '../../../src/steps/scan.js'
import {AwsClients, awsSettingsFor} from '../../../src/systems/aws/index.js'
import {rejectionOf} from '../../helpers/rejection.js'
import {startStandIn, type StandIn} from '../../helpers/stand-in.js'

// The scan step with the real AWS SDK against a scripted ECR stand-in on loopback (moto answers
// only basic scanning, one fixed finding, never FAILED, UNSUPPORTED_IMAGE or a slow scan).
const DIGEST = `sha256:${'a'.repeat(64)}`

/** One answer per call of an operation, in order; the last one repeats. */
type Answer = {status?: number; body: Record<string, unknown>}
type Script = Record<string, Answer[]>

let standIn: StandIn | undefined
let clients: AwsClients[] = []
afterEach(async () => {
  for (const client of clients) client.close()
  clients = []
  await standIn?.close()
  standIn = undefined
})

async function ecrStandIn(script: Script): Promise<{aws: AwsClients; calls: string[]}> {
  const calls: string[] = []
  const played: Record<string, number> = {}
  standIn = await startStandIn((request, response) => {
    const operation = String(request.headers['x-amz-target']).split('.').pop()!
    calls.push(operation)
    const answers = script[operation] ?? [
      {status: 400, body: {__type: 'ValidationException', message: 'no script'}},
    ]
    const index = Math.min(played[operation] ?? 0, answers.length - 1)
    played[operation] = index + 1
    const answer = answers[index]!
    response.writeHead(answer.status ?? 200, {'content-type': 'application/x-amz-json-1.1'})
    response.end(JSON.stringify(answer.body))
  })
  const env = {
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_ENDPOINT_URL: standIn.url,
    AWS_MAX_ATTEMPTS: '2',
  }
  const aws = new AwsClients(awsSettingsFor(env, {region: 'us-east-1'}))
  clients.push(aws)
  return {aws, calls}
}

function target(
  aws: AwsClients,
  gate: Partial<ScanGate> = {},
  timeoutMs = 60_000,
): ScanTarget & {warnings: string[]} {
  const warnings: string[] = []
  return {
    secrets: new SecretRegistry(),
    repository: 'modela/v1',
    registryIsEcr: true,
    aws,
    digest: DIGEST,
    scanRegistryId: '123456789012',
    scanGate: {
      threshold: {value: 'HIGH', source: 'flag --max-severity'},
      allowlist: [],
      allowlistFiles: [],
      ...gate,
    },
    scanReport: false,
    scanTimeoutMs: timeoutMs,
    scan: undefined,
    warnings,
    warn: (message) => warnings.push(message),
  }
}

function io(): StepIO & {lines: string[]; polls: number} {
  const lines: string[] = []
  const recorded = {
    lines,
    polls: 0,
    output: (output: unknown) => lines.push(String(output)),
    outputReady: () => undefined,
    progress: () => {
      recorded.polls += 1
    },
    signal: new AbortController().signal,
  }
  return recorded as unknown as StepIO & {lines: string[]; polls: number}
}

const status = (value: string, findings: Record<string, unknown> = {}): Answer => ({
  body: {imageScanStatus: {status: value, description: `scan ${value}`}, imageScanFindings: findings},
})

const BASIC = {
  findings: [
    {
      name: 'CVE-2024-0001',
      severity: 'MEDIUM',
      attributes: [
        {key: 'package_name', value: 'zlib'},
        {key: 'package_version', value: '1.2.11'},
      ],
    },
    {name: 'CVE-2024-0002', severity: 'HIGH', attributes: [{key: 'package_name', value: 'openssl'}]},
  ],
}

const ENHANCED = {
  enhancedFindings: [
    {
      severity: 'CRITICAL',
      status: 'ACTIVE',
      packageVulnerabilityDetails: {
        vulnerabilityId: 'CVE-2024-3094',
        vulnerablePackages: [{name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1'}],
      },
    },
    {
      severity: 'HIGH',
      status: 'SUPPRESSED',
      packageVulnerabilityDetails: {vulnerabilityId: 'CVE-2023-9999', vulnerablePackages: [{name: 'curl'}]},
    },
    {severity: 'UNTRIAGED', status: 'ACTIVE', packageVulnerabilityDetails: {vulnerabilityId: 'GHSA-x'}},
  ],
}

describe('scan step against a scripted ECR', () => {
  it('basic scanning: waits IN_PROGRESS -> COMPLETE, then fails on a HIGH finding (package named)', async () => {
    const {aws, calls} = await ecrStandIn({
      DescribeImageScanFindings: [status('IN_PROGRESS'), status('COMPLETE', BASIC)],
    })
    const scanTarget = target(aws)
    const out = io()
    const error = await rejectionOf(scanStep().run(scanTarget, out), CheckError)
    expect(error.reason).toBe('scan-findings')
    expect(error.message).toContain('1 finding(s) at or above HIGH')
    expect(error.message).toContain('CVE-2024-0002 (HIGH, openssl)')
    expect(calls).toEqual(['DescribeImageScanFindings', 'DescribeImageScanFindings'])
    expect(out.polls).toBe(1)
    expect(scanTarget.scan).toMatchObject({verdict: 'failed', counts: {HIGH: 1, MEDIUM: 1}, blocking: 1})
  })

  it('enhanced scanning: ACTIVE findings only, the fixed version, UNTRIAGED at the lowest (NONE stops it)', async () => {
    const {aws} = await ecrStandIn({DescribeImageScanFindings: [status('ACTIVE', ENHANCED)]})
    const allowlist: AllowEntry[] = [
      {id: 'CVE-2024-3094', reason: 'patched in our base', expires: '2999-01-01', where: 'a.yaml:1'},
    ]
    const passing = target(aws, {threshold: {value: 'LOW', source: 'flag'}, allowlist})
    await scanStep().run(passing, io())
    expect(passing.scan).toMatchObject({
      verdict: 'passed',
      counts: {CRITICAL: 1, HIGH: 0, UNDEFINED: 1},
      allowed: [{id: 'CVE-2024-3094', fixedIn: '5.6.1', package: 'xz-utils', scanning: 'enhanced'}],
    })
    const none = target(aws, {threshold: {value: 'NONE', source: 'flag'}, allowlist})
    const error = await rejectionOf(scanStep().run(none, io()), CheckError)
    expect(error.message).toContain('GHSA-x (UNDEFINED)')
  })

  it('no scan yet: starts one; an image ECR cannot scan fails the gate, naming why', async () => {
    const {aws, calls} = await ecrStandIn({
      DescribeImageScanFindings: [{status: 400, body: {__type: 'ScanNotFoundException', message: 'no scan'}}],
      StartImageScan: [
        {status: 400, body: {__type: 'UnsupportedImageTypeException', message: 'unsupported'}},
      ],
    })
    const error = await rejectionOf(scanStep().run(target(aws), io()), CheckError)
    expect(error.reason).toBe('scan-unsupported')
    expect(error.hint).toContain('No tag was moved')
    expect(calls).toEqual(['DescribeImageScanFindings', 'StartImageScan'])
  })

  it('a FAILED scan has no verdict: the gate fails', async () => {
    const {aws} = await ecrStandIn({DescribeImageScanFindings: [status('FAILED')]})
    const error = await rejectionOf(scanStep().run(target(aws), io()), CheckError)
    expect(error.reason).toBe('scan-failed')
    expect(error.message).toContain('the scan is FAILED: scan FAILED')
  })

  it('a scan that never completes stops at the step limit', async () => {
    const {aws} = await ecrStandIn({DescribeImageScanFindings: [status('IN_PROGRESS')]})
    const started = performance.now()
    const error = await rejectionOf(scanStep().run(target(aws, {}, 1500), io()), CheckError)
    expect(error.reason).toBe('scan-timeout')
    expect(error.message).toContain('did not complete within')
    expect(error.message).toContain('still IN_PROGRESS')
    expect(performance.now() - started).toBeLessThan(5000)
  })

  it('a role without ecr:DescribeImageScanFindings: an error naming the permission', async () => {
    const {aws} = await ecrStandIn({
      DescribeImageScanFindings: [
        {status: 400, body: {__type: 'AccessDeniedException', message: 'not authorized'}},
      ],
    })
    const error = await rejectionOf(scanStep().run(target(aws), io()), AwsError)
    expect(error.reason).toBe('access-denied')
    expect(error.message).toContain('AWS refused ecr:DescribeImageScanFindings')
    expect(error.hint).toContain('Allow ecr:DescribeImageScanFindings')
  })

  it('throttled after the retries: a throttled failure', async () => {
    const {aws, calls} = await ecrStandIn({
      DescribeImageScanFindings: [
        {status: 400, body: {__type: 'ThrottlingException', message: 'Rate exceeded'}},
      ],
    })
    const error = await rejectionOf(scanStep().run(target(aws), io()), AwsError)
    expect(error.reason).toBe('throttled')
    expect(calls.length).toBe(2)
  })

  it('without a gate: describes it and reads nothing', async () => {
    const {aws, calls} = await ecrStandIn({})
    const plain = {...target(aws), scanGate: undefined}
    expect(
      scanStep()
        .describe(plain)
        .actions.flatMap((action) => action.calls),
    ).toEqual([])
    await scanStep().run(plain, io())
    expect(plain.scan).toMatchObject({verdict: 'skipped'})
    expect(calls).toEqual([])
  })
})

// Issue 25 §1: promote reads an ECR image's findings without a gate and reports them; what the
// gate would fail on is a warning there, and nothing fails the run.
describe('scan step without a gate, reporting (promote)', () => {
  const reporting = (aws: AwsClients): ScanTarget & {warnings: string[]} => ({
    ...target(aws),
    scanGate: undefined,
    scanReport: true,
  })

  it('describes one read and reports the counts of a complete scan, judging nothing', async () => {
    const {aws, calls} = await ecrStandIn({DescribeImageScanFindings: [status('COMPLETE', BASIC)]})
    const state = reporting(aws)
    expect(
      scanStep()
        .describe(state)
        .actions.flatMap((action) => action.calls),
    ).toEqual(['aws:ecr:DescribeImageScanFindings'])
    const recorded = io()
    await scanStep().run(state, recorded)
    expect(state.scan).toMatchObject({
      verdict: 'reported',
      threshold: null,
      status: 'COMPLETE',
      counts: {HIGH: 1, MEDIUM: 1, CRITICAL: 0},
      top: [],
    })
    expect(recorded.lines).toContain('scan COMPLETE: HIGH 1, MEDIUM 1 (reported only: no --max-severity)')
    expect(calls).toEqual(['DescribeImageScanFindings'])
    expect(state.warnings).toEqual([])
  })

  it('a role without ecr:DescribeImageScanFindings: a warning naming it, and the step passes', async () => {
    const {aws} = await ecrStandIn({
      DescribeImageScanFindings: [
        {status: 400, body: {__type: 'AccessDeniedException', message: 'not authorized'}},
      ],
    })
    const state = reporting(aws)
    await scanStep().run(state, io())
    expect(state.scan).toMatchObject({verdict: 'skipped', reason: 'ecr:DescribeImageScanFindings refused'})
    expect(state.warnings).toHaveLength(1)
    expect(state.warnings[0]).toContain('AWS refused ecr:DescribeImageScanFindings')
  })

  it('an image ECR does not scan: a warning saying so; no scan yet or one in progress: a line, no warning', async () => {
    const unsupported = await ecrStandIn({DescribeImageScanFindings: [status('UNSUPPORTED_IMAGE')]})
    const first = reporting(unsupported.aws)
    await scanStep().run(first, io())
    expect(first.scan).toMatchObject({verdict: 'skipped', status: 'UNSUPPORTED_IMAGE'})
    expect(first.warnings[0]).toContain('ECR does not scan modela/v1@sha256:')
    expect(unsupported.calls).toEqual(['DescribeImageScanFindings'])
    await standIn?.close()

    const none = await ecrStandIn({
      DescribeImageScanFindings: [{status: 400, body: {__type: 'ScanNotFoundException', message: 'no scan'}}],
    })
    const second = reporting(none.aws)
    const lines = io()
    await scanStep().run(second, lines)
    expect(second.scan).toMatchObject({verdict: 'skipped', reason: 'the image has no scan'})
    expect(lines.lines).toContain('no scan of the image (the repository does not scan on push)')
    // No scan is started without a gate.
    expect(none.calls).toEqual(['DescribeImageScanFindings'])
    expect(second.warnings).toEqual([])
    await standIn?.close()

    const running = await ecrStandIn({DescribeImageScanFindings: [status('IN_PROGRESS')]})
    const third = reporting(running.aws)
    await scanStep().run(third, io())
    expect(third.scan).toMatchObject({verdict: 'skipped', status: 'IN_PROGRESS'})
    expect(running.calls).toEqual(['DescribeImageScanFindings'])
    expect(third.warnings).toEqual([])
  })

  it('an unreachable endpoint: a warning with the cause, not a failure', async () => {
    const {aws} = await ecrStandIn({
      DescribeImageScanFindings: [{status: 500, body: {__type: 'InternalFailure', message: 'boom'}}],
    })
    const state = reporting(aws)
    await scanStep().run(state, io())
    expect(state.scan).toMatchObject({verdict: 'skipped', reason: 'the read failed'})
    expect(state.warnings[0]).toMatch(/^The scan findings of modela\/v1@sha256:a+ were not read: /)
  })
})
