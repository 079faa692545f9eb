import {beforeEach, describe, expect, inject, it} from 'vitest'

import {createImmutableRepository, createRepository} from '../helpers/aws.js'
import {runCli, standInProject} from '../helpers/cli.js'
import {startFaultProxy} from '../helpers/fault-proxy.js'
import {resetMoto} from '../helpers/moto.js'

// For every AWS call a push makes, an AccessDenied the step cannot work around fails that step
// with its own exit code and says which call was refused, in text and in --json, and --json still
// lists what was already pushed. An ECR stand-in in front of moto refuses the one operation.
const motoUrl = inject('motoUrl')
const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com'

function denied(operation: string): string {
  return JSON.stringify({
    __type: 'AccessDeniedException',
    message: `User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:${operation} on resource: arn:aws:ecr:us-east-1:123456789012:repository/modela/v1`,
  })
}

beforeEach(async () => {
  await resetMoto(motoUrl)
})

interface Case {
  operation: string
  /** Calls of that operation that go through before the refusals (the stand-in upload's PutImage). */
  after?: number
  setup: 'mutable' | 'immutable' | 'missing'
  args?: string[]
  step: string
  exitCode: number
  pushed: string[]
}

// The calls a step cannot do without. (DescribeRepositories, DescribeImages and BatchGetImage
// alone are worked around for push-only roles: see the end of this file and reuse-orchestration.)
const cases: Case[] = [
  {operation: 'GetAuthorizationToken', setup: 'mutable', step: 'preflight', exitCode: 3, pushed: []},
  {
    operation: 'CreateRepository',
    setup: 'missing',
    args: ['--create-repository'],
    step: 'preflight',
    exitCode: 3,
    pushed: [],
  },
  {
    operation: 'PutImage',
    after: 1,
    setup: 'mutable',
    step: 'tag',
    exitCode: 8,
    pushed: [`${REGISTRY}/modela/v1:f3k2qyq5lsoaaaab`],
  },
]

describe('AccessDenied on each AWS call: the failing step decides the exit code', () => {
  it.each(cases)('$operation in $step gives exit $exitCode', async (each) => {
    if (each.setup === 'mutable') await createRepository(motoUrl, 'modela/v1')
    if (each.setup === 'immutable') await createImmutableRepository(motoUrl, 'modela/v1')
    const proxy = await startFaultProxy(motoUrl, [
      {
        operation: each.operation,
        after: each.after ?? 0,
        times: 100,
        status: 400,
        body: denied(each.operation),
      },
    ])
    try {
      const s = standInProject(motoUrl, {AWS_ENDPOINT_URL: proxy.url, AWS_MAX_ATTEMPTS: '1'})
      const args = ['push', 'modelA/V1', '--skip-vpn-check', ...(each.args ?? [])]
      // In GitHub Actions the failure is also an annotation titled with the step that failed.
      const text = await runCli(args, {cwd: s.root, env: {...s.env, GITHUB_ACTIONS: 'true'}})
      expect(text.exitCode).toBe(each.exitCode)
      expect(text.stderr).toMatch(new RegExp(`^::error title=mldeploy ${each.step}::`, 'm'))
      const errorLine = text.stderr.split('\n').find((line) => line.startsWith('Error: '))
      expect(errorLine).toContain(each.operation)
      expect(errorLine).toContain('AccessDenied')

      await resetMoto(motoUrl)
      if (each.setup === 'mutable') await createRepository(motoUrl, 'modela/v1')
      if (each.setup === 'immutable') await createImmutableRepository(motoUrl, 'modela/v1')
      proxy.counts.clear()
      const json = await runCli([...args, '--json'], {cwd: s.root, env: s.env})
      expect(json.exitCode).toBe(each.exitCode)
      const result = JSON.parse(json.stdout)
      expect(result.status).toBe('failed')
      expect(result.error).toMatchObject({
        exitCode: each.exitCode,
        step: each.step,
        reason: 'aws:access-denied',
      })
      expect(result.error.message).toContain(each.operation)
      expect(result.pushed).toEqual(each.pushed)
      expect(result.steps.find((step: {id: string}) => step.id === each.step).status).toBe('failed')
    } finally {
      await proxy.close()
    }
  })
})

describe('AccessDenied on a read a push-only role lacks: a warning naming the permission, the push goes on', () => {
  it.each(['DescribeRepositories', 'DescribeImages'])('%s', async (operation) => {
    await createRepository(motoUrl, 'modela/v1')
    const proxy = await startFaultProxy(motoUrl, [
      {operation, times: 100, status: 400, body: denied(operation)},
    ])
    try {
      const s = standInProject(motoUrl, {AWS_ENDPOINT_URL: proxy.url, AWS_MAX_ATTEMPTS: '1'})
      const result = await runCli(['push', 'modelA/V1', '--skip-vpn-check', '--json'], {
        cwd: s.root,
        env: s.env,
      })
      expect(result.exitCode, result.stderr).toBe(0)
      const json = JSON.parse(result.stdout)
      expect(json.status).toBe('pushed')
      expect(json.warnings.join('\n')).toContain(`ecr:${operation}`)
    } finally {
      await proxy.close()
    }
  })
})

describe('AccessDenied on PutLifecyclePolicy', () => {
  it('the repository is created and the push goes on; a warning names the permission', async () => {
    const proxy = await startFaultProxy(motoUrl, [
      {operation: 'PutLifecyclePolicy', times: 100, status: 400, body: denied('PutLifecyclePolicy')},
    ])
    try {
      const s = standInProject(motoUrl, {AWS_ENDPOINT_URL: proxy.url, AWS_MAX_ATTEMPTS: '1'})
      const args = ['push', 'modelA/V1', '--skip-vpn-check', '--create-repository', '--json']
      const result = await runCli(args, {cwd: s.root, env: s.env})
      expect(result.exitCode, result.stderr).toBe(0)
      const json = JSON.parse(result.stdout)
      expect(json.repositoryCreated).toBe(true)
      expect(json.warnings).toContainEqual(
        expect.stringMatching(
          /^modela\/v1 was created without its lifecycle policy \(ecr:PutLifecyclePolicy is denied\): it keeps every image pushed\./,
        ),
      )
    } finally {
      await proxy.close()
    }
  })
})
