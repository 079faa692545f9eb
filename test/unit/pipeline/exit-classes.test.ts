import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {
  AwsError,
  CheckError,
  ChildError,
  EnvironmentError,
  ExitCode,
  exitClassOf,
  InterruptedError,
  type InterruptSignal,
  RegistryError,
  type RegistryFailure,
  UsageError,
  type AwsFailure,
  type ChildFailure,
} from '../../../src/errors.js'
import {PUSH_PLAN} from '../../../src/pipeline/plan.js'

const README = readFileSync(path.resolve(import.meta.dirname, '../../../README.md'), 'utf8')

/** One error for each `domain:reason` a row of the README's table names. */
function errorsFor(reason: string): unknown[] {
  const [domain, name] = reason.split(':') as [string, string]
  switch (domain) {
    case 'usage':
      return [new UsageError('bad')]
    case 'environment':
      return [new EnvironmentError('temp-missing', 'no temp')]
    case 'interrupted':
      return [new InterruptedError(name as InterruptSignal, 'stop')]
    case 'registry':
      return [new RegistryError(name as RegistryFailure, 'registry')]
    case 'aws':
      return [new AwsError(name as AwsFailure, 'ecr:PutImage', 'aws')]
    case 'child':
      return [new ChildError(name as ChildFailure, 'child')]
    case 'check':
      return [new CheckError('vpn-off', 'check'), new CheckError('tag-taken', 'check')]
    case 'internal':
      return [new Error('a bug')]
    default:
      throw new Error(`unknown domain in the README table: ${reason}`)
  }
}

function tableRows(): Array<{reasons: string[]; codes: number[]; steps: string[]}> {
  const block = /<!-- exit-classes:start -->\n([\s\S]*?)<!-- exit-classes:end -->/.exec(README)?.[1]
  expect(block, 'the README has the exit-classes table').toBeDefined()
  const lines = block!.trim().split('\n')
  const steps = lines[0]!
    .split('|')
    .slice(2, -1)
    .map((cell) => cell.trim())
  return lines.slice(2).map((line) => {
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim())
    const reasons = [...cells[0]!.matchAll(/`([a-z]+:[A-Za-z*-]+)`/g)].map((match) => match[1]!)
    return {reasons, codes: cells.slice(1).map(Number), steps}
  })
}

describe("the README's table of exit codes (failure x step)", () => {
  const rows = tableRows()

  it('has a column per step of the push plan, in order', () => {
    expect(rows[0]!.steps).toEqual(PUSH_PLAN.map((step) => step.id))
  })

  it.each(rows.flatMap((row) => row.reasons.map((reason) => [reason, row.codes] as const)))(
    '%s gives the codes the table says, in every step',
    (reason, codes) => {
      for (const error of errorsFor(reason.replace('*', 'any'))) {
        const got = PUSH_PLAN.map((step) => ExitCode[exitClassOf(error, step.failure)])
        expect(got).toEqual(codes)
      }
    },
  )
})
