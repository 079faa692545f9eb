import {beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository, imageTags, seedImage} from '../helpers/aws.js'
import {runCli, standInProject, type StandInProject} from '../helpers/cli.js'
import {resetMoto} from '../helpers/moto.js'

// Issue 25 §1 through the CLI: the real AWS SDK against moto, which scans for real as far as the
// API goes: DescribeImageScanFindings answers ScanNotFoundException until StartImageScan, then
// IN_PROGRESS, then COMPLETE with one fixed finding (CVE-9999-9999, HIGH, moto_fake 9.9.9).
const motoUrl = inject('motoUrl')
const ALLOWLIST = 'deploy/modelA/V1/scan-allowlist.yaml'

const day = (offset: number): string => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10)

function push(s: StandInProject, ...args: string[]) {
  return runCli(['push', 'modelA/V1', '--skip-vpn-check', '--skip-disk-check', '--json', ...args], {
    cwd: s.root,
    env: s.env,
  })
}

beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
})

describe('push --max-severity (moto)', () => {
  it('a HIGH finding fails the push with exit 9 and moves no tag beyond the upload', async () => {
    const s = standInProject(motoUrl)
    const result = await push(s, '--max-severity', 'HIGH')
    expect(result.exitCode, result.stderr).toBe(9)
    const json = JSON.parse(result.stdout)
    expect(json.error).toMatchObject({kind: 'scan', exitCode: 9, step: 'scan', reason: 'check:scan-findings'})
    expect(json.error.message).toContain('CVE-9999-9999 (HIGH, moto_fake 9.9.9)')
    expect(json.scan).toMatchObject({
      verdict: 'failed',
      threshold: 'HIGH',
      status: 'COMPLETE',
      counts: {CRITICAL: 0, HIGH: 1, MEDIUM: 0, LOW: 0},
      top: [{id: 'CVE-9999-9999', severity: 'HIGH', package: 'moto_fake', version: '9.9.9', fixedIn: null}],
      allowed: [],
      expired: [],
    })
    const steps = Object.fromEntries(
      json.steps.map((step: {id: string; status: string}) => [step.id, step.status]),
    )
    expect(steps).toMatchObject({
      push: 'done',
      check: 'done',
      scan: 'failed',
      tag: 'skipped',
      verify: 'skipped',
    })
    // No scan on push in moto's repository: the step started one, then read it again until COMPLETE.
    const ran = json.steps.find((step: {id: string}) => step.id === 'scan').ran
    expect(ran).toEqual([
      'aws:ecr:DescribeImageScanFindings',
      'aws:ecr:StartImageScan',
      'aws:ecr:DescribeImageScanFindings',
    ])
    // Only the upload's tag (the bento version) is in the registry: latest did not move.
    expect(await imageTags(motoUrl, 'modela/v1')).toEqual(['f3k2qyq5lsoaaaab'])
    expect(json.tagChanges).toEqual([])
  })

  it('an allow-listed finding (until tomorrow) lets it pass; the threshold below it passes too', async () => {
    const s = standInProject(
      motoUrl,
      {},
      {
        [ALLOWLIST]: `# accepted risks\n- id: CVE-9999-9999\n  reason: moto's own fake package, never shipped\n  expires: ${day(1)}\n`,
      },
    )
    const result = await push(s, '--max-severity', 'HIGH')
    expect(result.exitCode, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.scan).toMatchObject({
      verdict: 'passed',
      top: [],
      allowed: [
        {id: 'CVE-9999-9999', reason: "moto's own fake package, never shipped", where: `${ALLOWLIST}:2`},
      ],
    })
    expect(await imageTags(motoUrl, 'modela/v1')).toContain('latest')

    const critical = await push(standInProject(motoUrl, {MLDEPLOY_MAX_SEVERITY: 'critical'}))
    expect(critical.exitCode, critical.stderr).toBe(0)
    expect(JSON.parse(critical.stdout).scan).toMatchObject({verdict: 'passed', threshold: 'CRITICAL'})
  })

  it('an entry that expired yesterday counts again, with a warning naming the id and the date', async () => {
    const s = standInProject(
      motoUrl,
      {},
      {
        [ALLOWLIST]: `- id: CVE-9999-9999\n  reason: accepted until the base image moves\n  expires: ${day(-1)}\n`,
      },
    )
    const result = await push(s, '--max-severity', 'HIGH')
    expect(result.exitCode, result.stderr).toBe(9)
    const json = JSON.parse(result.stdout)
    expect(json.scan.expired).toEqual([
      {id: 'CVE-9999-9999', expires: day(-1), where: `${ALLOWLIST}:1`, matched: true},
    ])
    expect(json.warnings.join('\n')).toContain(`the entry for CVE-9999-9999 expired on ${day(-1)}`)
  })

  it('a bad allow-list entry is bad input (exit 2) naming the file and line, before anything runs', async () => {
    const s = standInProject(
      motoUrl,
      {},
      {
        [ALLOWLIST]: `- id: CVE-1\n  reason: fine\n  expires: 2030-01-01\n- id: CVE-2\n  expires: 2030-01-01\n`,
      },
    )
    const result = await push(s, '--max-severity', 'HIGH')
    expect(result.exitCode).toBe(2)
    expect(JSON.parse(result.stdout).error.message).toBe(`${ALLOWLIST}:4: the entry for CVE-2 has no reason.`)
    expect(s.bin.calls()).toEqual([])
  })

  it('the dry run shows the scan step, its conditional calls marked, and changes nothing', async () => {
    const s = standInProject(motoUrl)
    const result = await push(s, '--max-severity', 'MEDIUM', '--dry-run', '--offline')
    expect(result.exitCode, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout)
    const scan = json.plan.find((step: {id: string}) => step.id === 'scan')
    expect(
      scan.actions.map((action: {calls: string[]; when?: string}) => [action.calls, action.when]),
    ).toEqual([
      [['aws:ecr:DescribeImageScanFindings'], undefined],
      [['aws:ecr:StartImageScan'], 'the image has no scan yet (the repository does not scan on push)'],
      [['aws:ecr:DescribeImageScanFindings'], 'the scan is not complete yet'],
      [[], undefined],
    ])
    expect(json.plan.map((step: {id: string}) => step.id).slice(-4)).toEqual([
      'check',
      'scan',
      'tag',
      'verify',
    ])
    expect(json.scan).toMatchObject({verdict: 'skipped', threshold: 'MEDIUM'})
    expect(await imageTags(motoUrl, 'modela/v1')).toEqual([])
  })
})

describe('promote --max-severity (moto)', () => {
  it('fails before any --to tag moves, and passes with the finding accepted', async () => {
    const s = standInProject(motoUrl)
    await seedImage(motoUrl, 'modela/v1', 'candidate')
    const promote = (extra: StandInProject) =>
      runCli(
        [
          'promote',
          'modelA/V1',
          '--from',
          'candidate',
          '--to',
          'production',
          '--json',
          '--max-severity',
          'LOW',
        ],
        {
          cwd: extra.root,
          env: extra.env,
        },
      )
    const failed = await promote(s)
    expect(failed.exitCode, failed.stderr).toBe(9)
    expect(JSON.parse(failed.stdout).scan).toMatchObject({verdict: 'failed', top: [{id: 'CVE-9999-9999'}]})
    expect(await imageTags(motoUrl, 'modela/v1')).toEqual(['candidate'])

    const allowed = standInProject(
      motoUrl,
      {},
      {
        'scan-allowlist.yaml': `- id: CVE-9999-9999\n  reason: accepted project-wide\n  expires: ${day(0)}\n`,
      },
    )
    const passed = await promote(allowed)
    expect(passed.exitCode, passed.stderr).toBe(0)
    const json = JSON.parse(passed.stdout)
    expect(json.scan).toMatchObject({
      verdict: 'passed',
      allowed: [{id: 'CVE-9999-9999', where: 'scan-allowlist.yaml:1'}],
    })
    // The scan exists now: read once, nothing started.
    expect(json.steps.find((step: {id: string}) => step.id === 'scan').ran).toEqual([
      'aws:ecr:DescribeImageScanFindings',
    ])
    expect(await imageTags(motoUrl, 'modela/v1')).toEqual(['candidate', 'production'])
  })
})

describe('promote without --max-severity (moto): the findings reported, nothing gated', () => {
  it('reads once (no scan started), reports the counts, moves the tag; a finding does not fail it', async () => {
    const s = standInProject(motoUrl)
    await seedImage(motoUrl, 'modela/v1', 'candidate')
    const promote = () =>
      runCli(['promote', 'modelA/V1', '--from', 'candidate', '--to', 'production', '--json'], {
        cwd: s.root,
        env: s.env,
      })
    // moto has no scan of the seeded image yet: one read, a line saying so, no scan started.
    const first = await promote()
    expect(first.exitCode, first.stderr).toBe(0)
    const before = JSON.parse(first.stdout)
    expect(before.scan).toMatchObject({verdict: 'skipped', reason: 'the image has no scan'})
    expect(before.steps.find((step: {id: string}) => step.id === 'scan').ran).toEqual([
      'aws:ecr:DescribeImageScanFindings',
    ])
    expect(before.warnings).toEqual([])

    // Once the image was scanned (the gate starts a scan), promote reports its findings, gating nothing.
    const gated = await runCli(
      [
        'promote',
        'modelA/V1',
        '--from',
        'candidate',
        '--to',
        'staging',
        '--json',
        '--max-severity',
        'CRITICAL',
      ],
      {cwd: s.root, env: s.env},
    )
    expect(gated.exitCode, gated.stderr).toBe(0)
    const second = await promote()
    expect(second.exitCode, second.stderr).toBe(0)
    const json = JSON.parse(second.stdout)
    expect(json.scan).toMatchObject({
      verdict: 'reported',
      status: 'COMPLETE',
      counts: {HIGH: 1},
      threshold: null,
    })
    expect(second.stderr).toContain('scan COMPLETE: HIGH 1 (reported only: no --max-severity)')
    expect(await imageTags(motoUrl, 'modela/v1')).toEqual(['candidate', 'production', 'staging'])
  })
})
