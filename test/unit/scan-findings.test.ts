import {describe, expect, it} from 'vitest'

import {parseAllowlist} from '../../src/config/scan-allowlist.js'
import {UsageError} from '../../src/errors.js'
import {blocks, type Finding, judge, severityOf} from '../../src/scan-findings.js'
import {basicFinding, enhancedFinding} from '../../src/systems/aws/index.js'

const finding = (id: string, severity: Finding['severity']): Finding => ({
  id,
  severity,
  package: null,
  version: null,
  fixedIn: null,
  scanning: 'basic',
})

describe('severity comparison', () => {
  it('a finding at or above the threshold blocks; NONE blocks everything', () => {
    expect(blocks('CRITICAL', 'HIGH')).toBe(true)
    expect(blocks('HIGH', 'HIGH')).toBe(true)
    expect(blocks('MEDIUM', 'HIGH')).toBe(false)
    expect(blocks('LOW', 'LOW')).toBe(true)
    expect(blocks('INFORMATIONAL', 'LOW')).toBe(false)
    expect(blocks('UNDEFINED', 'LOW')).toBe(false)
    expect(blocks('INFORMATIONAL', 'NONE')).toBe(true)
    expect(blocks('UNDEFINED', 'NONE')).toBe(true)
  })

  it('reads any case; anything unknown (UNTRIAGED, missing) is UNDEFINED', () => {
    expect(severityOf('high')).toBe('HIGH')
    expect(severityOf('UNTRIAGED')).toBe('UNDEFINED')
    expect(severityOf(undefined)).toBe('UNDEFINED')
  })
})

describe('the parsers of both answers', () => {
  it('basic: name, severity and the package from attributes; no fixed version', () => {
    expect(
      basicFinding({
        name: 'CVE-1',
        severity: 'HIGH',
        attributes: [
          {key: 'package_version', value: '1.0'},
          {key: 'package_name', value: 'zlib'},
        ],
      }),
    ).toEqual({
      id: 'CVE-1',
      severity: 'HIGH',
      package: 'zlib',
      version: '1.0',
      fixedIn: null,
      scanning: 'basic',
    })
  })

  it('enhanced: vulnerabilityId, the first package and its fix; only ACTIVE counts', () => {
    expect(
      enhancedFinding({
        severity: 'CRITICAL',
        status: 'ACTIVE',
        packageVulnerabilityDetails: {
          vulnerabilityId: 'CVE-2',
          vulnerablePackages: [{name: 'xz', version: '5.6.0', fixedInVersion: '5.6.1'}],
        },
      }),
    ).toEqual({
      id: 'CVE-2',
      severity: 'CRITICAL',
      package: 'xz',
      version: '5.6.0',
      fixedIn: '5.6.1',
      scanning: 'enhanced',
    })
    expect(
      enhancedFinding({
        severity: 'LOW',
        packageVulnerabilityDetails: {
          vulnerabilityId: 'CVE-3',
          vulnerablePackages: [{fixedInVersion: 'NotAvailable'}],
        },
      })?.fixedIn,
    ).toBeNull()
    expect(enhancedFinding({severity: 'HIGH', status: 'SUPPRESSED'})).toBeUndefined()
    expect(enhancedFinding({severity: 'HIGH', status: 'CLOSED'})).toBeUndefined()
  })
})

describe('the verdict with an allow-list', () => {
  const entry = (id: string, expires: string) => ({id, reason: 'r', expires, where: 'f:1'})

  it('an entry counts through its date, and no longer the day after', () => {
    const findings = [finding('CVE-1', 'HIGH')]
    expect(judge(findings, 'HIGH', [entry('CVE-1', '2026-03-01')], '2026-03-01', 'COMPLETE').verdict).toBe(
      'passed',
    )
    const after = judge(findings, 'HIGH', [entry('CVE-1', '2026-03-01')], '2026-03-02', 'COMPLETE')
    expect(after.verdict).toBe('failed')
    expect(after.expired).toEqual([{id: 'CVE-1', expires: '2026-03-01', where: 'f:1', matched: true}])
  })

  it('counts every finding, lists the blocking ones highest first, below the threshold passes', () => {
    const report = judge(
      [finding('a', 'LOW'), finding('b', 'HIGH'), finding('c', 'CRITICAL'), finding('d', 'MEDIUM')],
      'MEDIUM',
      [],
      '2026-01-01',
      'COMPLETE',
    )
    expect(report.top.map((each) => each.id)).toEqual(['c', 'b', 'd'])
    expect(report.counts).toMatchObject({CRITICAL: 1, HIGH: 1, MEDIUM: 1, LOW: 1})
    expect(judge([finding('a', 'LOW')], 'MEDIUM', [], '2026-01-01', 'COMPLETE').verdict).toBe('passed')
  })
})

describe('scan-allowlist.yaml', () => {
  it('reads entries with their lines', () => {
    expect(
      parseAllowlist('# risks\n- id: CVE-1\n  reason: not reachable\n  expires: 2026-06-30\n', 'a.yaml'),
    ).toEqual([{id: 'CVE-1', reason: 'not reachable', expires: '2026-06-30', where: 'a.yaml:2'}])
    expect(parseAllowlist('', 'a.yaml')).toEqual([])
  })

  it.each([
    ['- id: CVE-1\n  expires: 2026-06-30\n', 'a.yaml:1: the entry for CVE-1 has no reason.'],
    [
      '- id: CVE-1\n  reason: x\n  expires: 2026-02-30\n',
      'a.yaml:1: expires "2026-02-30" (for CVE-1) is not a date.',
    ],
    [
      '- id: CVE-1\n  reason: x\n  expires: 30/06/2026\n',
      'a.yaml:1: expires "30/06/2026" (for CVE-1) is not a date.',
    ],
    [
      '- id: CVE-1\n  reason: x\n  expires: 2026-06-30\n  owner: me\n',
      'a.yaml:4: "owner" is not a key of an entry.',
    ],
    ['- id: CVE-1\n  reason: ""\n  expires: 2026-06-30\n', 'a.yaml:2: reason is empty.'],
    ['id: CVE-1\n', 'a.yaml is not a list of accepted findings.'],
  ])('bad input names the file and line: %j', (text, message) => {
    let caught: unknown
    try {
      parseAllowlist(text, 'a.yaml')
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(UsageError)
    expect((caught as UsageError).message).toBe(message)
  })
})
