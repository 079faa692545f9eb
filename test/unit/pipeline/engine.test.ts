import {setTimeout as sleep} from 'node:timers/promises'

import {describe, expect, it, vi} from 'vitest'

import {AwsError, CheckError, DeployError, UsageError} from '../../../src/errors.js'
import {describePlan, describeStep, firstFailure, newRun, runPlans} from '../../../src/pipeline/engine.js'
import {recordAction} from '../../../src/ledger.js'
import type {EngineState, Step} from '../../../src/pipeline/step.js'
import {runChild} from '../../../src/process.js'
import {SecretRegistry} from '../../../src/secrets.js'
import {RecordingHost} from '../../helpers/recording-host.js'

/** The smallest state the engine walks, with a log of what the steps saw. */
class Toy implements EngineState {
  readonly secrets = new SecretRegistry()
  readonly log: string[] = []
  value = 0
}

type Body = (
  state: Toy,
  io: {output(text: string): void; skip?(reason: string): void; signal: AbortSignal},
) => Promise<void>

function step(id: string, body: Body = async () => {}, failure: Step<Toy>['failure'] = 'build'): Step<Toy> {
  return {
    id,
    title: `Step ${id}`,
    failure,
    describe: (state) => {
      state.log.push(`describe ${id} value=${state.value}`)
      return {
        actions: [{text: `${id} with value ${state.value}`, calls: [`aws:ecr:${id}`], when: 'always'}],
        commands: [
          {command: 'echo', args: [id], cwd: '/tmp', env: {K: 'v'}, stdinDescription: 'nothing', when: 'now'},
        ],
      }
    },
    run: async (state, io) => {
      state.log.push(`run ${id}`)
      await body(state, io)
    },
  }
}

const never = new AbortController().signal

describe('the engine', () => {
  it('a step that says it skipped its work ends skipped with its reason (redacted), the next ones still run', async () => {
    const state = new Toy()
    state.secrets.add('hunter2-secret')
    const plan = [
      step('a', async (_state, io) => io.skip?.('reused image hunter2-secret (same content)')),
      step('b'),
    ]
    const run = newRun(plan, state)
    const host = new RecordingHost()
    await runPlans(plan, [run], {host, signal: never})
    expect(run.steps.map((record) => [record.status, record.reason])).toEqual([
      ['skipped', 'reused image ******** (same content)'],
      ['done', undefined],
    ])
    expect(host.ends).toEqual([
      ['a', 'skipped'],
      ['b', 'done'],
    ])
    const ended = host.events.find((event) => event.type === 'stepEnded' && event.step.id === 'a')
    expect(ended).toMatchObject({reason: 'reused image ******** (same content)'})
    expect(run.failure).toBeUndefined()
  })

  it('describes each step immediately before running it, with what earlier steps learned', async () => {
    const plan = [
      step('a', async (state) => {
        state.value = 7
      }),
      step('b'),
    ]
    const state = new Toy()
    const run = newRun(plan, state)
    expect(run.steps.map((record) => record.status)).toEqual(['pending', 'pending'])
    const host = new RecordingHost()
    await runPlans(plan, [run], {host, signal: never})
    expect(state.log).toEqual(['describe a value=0', 'run a', 'describe b value=7', 'run b'])
    expect(run.steps[1]!.described).toEqual({
      id: 'b',
      title: 'Step b',
      actions: [{text: 'b with value 7', calls: ['aws:ecr:b'], when: 'always'}],
      commands: [{command: 'K=v echo b', cwd: '/tmp', stdin: 'nothing', when: 'now'}],
    })
    expect(run.steps.map((record) => record.status)).toEqual(['done', 'done'])
    expect(run.failure).toBeUndefined()
    expect(host.sequence).toEqual([
      'runStarted',
      'stepStarted:a',
      'stepEnded:a',
      'stepStarted:b',
      'stepEnded:b',
      'runEnded',
    ])
    expect(host.ends).toEqual([
      ['a', 'done'],
      ['b', 'done'],
    ])
    expect(run.steps.every((record) => typeof record.durationMs === 'number')).toBe(true)
  })

  it('records what ran from the ledger: spawns, AWS, HTTP and TCP calls, per step', async () => {
    const plan = [
      step('a', async (state) => {
        recordAction({kind: 'aws', call: 'aws:ecr:DescribeImages'})
        recordAction({kind: 'http', call: 'http:HEAD /v2/x/manifests'})
        await sleep(5)
        recordAction({kind: 'tcp', call: 'tcp:mlflow:443'})
        await runChild({
          command: process.execPath,
          args: ['-e', ''],
          cwd: '/',
          baseEnv: {},
          secrets: state.secrets,
        })
      }),
      step('b', async () => {
        recordAction({kind: 'aws', call: 'aws:ecr:PutImage'})
      }),
    ]
    const run = newRun(plan, new Toy())
    await runPlans(plan, [run], {host: new RecordingHost(), signal: never})
    expect(run.steps[0]!.ran).toEqual([
      'aws:ecr:DescribeImages',
      'http:HEAD /v2/x/manifests',
      'tcp:mlflow:443',
      `${process.execPath} -e ''`,
    ])
    expect(run.steps[1]!.ran).toEqual(['aws:ecr:PutImage'])
  })

  it('redacts secrets in descriptions, output and what ran', async () => {
    const state = new Toy()
    state.secrets.add('hunter2-secret')
    const secretStep: Step<Toy> = {
      id: 's',
      title: 'Secret',
      failure: 'auth',
      describe: () => ({
        actions: [{text: 'token hunter2-secret', calls: []}],
        commands: [{command: 'login', args: ['hunter2-secret'], cwd: '/'}],
      }),
      run: async (_, io) => {
        io.output('password hunter2-secret')
        recordAction({kind: 'http', call: 'http:GET /hunter2-secret'})
      },
    }
    const host = new RecordingHost()
    const run = newRun([secretStep], state)
    await runPlans([secretStep], [run], {host, signal: never})
    const everything = JSON.stringify([run.steps, host.events])
    expect(everything).not.toContain('hunter2-secret')
    expect(host.outputOf('s')).toEqual(['password ********'])
    expect(describePlan([secretStep], state)[0]!.commands[0]!.command).toBe('login ********')
  })

  it("passes a child's output on as the runner cleaned it: redacted once, not again", async () => {
    const state = new Toy()
    state.secrets.add('hunter2-secret')
    const redact = vi.spyOn(state.secrets, 'redact')
    const childStep: Step<Toy> = {
      id: 'c',
      title: 'Child',
      failure: 'build',
      describe: () => ({actions: [], commands: []}),
      run: async (current, io) => {
        io.output('a check: hunter2-secret')
        await runChild({
          command: process.execPath,
          args: [
            '-e',
            'console.log("plain 1\\nplain 2"); setTimeout(() => console.log("the hunter2-secret"), 100)',
          ],
          cwd: '/',
          baseEnv: {},
          secrets: current.secrets,
          onBlock: (block) => io.output(block),
        })
      },
    }
    const host = new RecordingHost()
    await runPlans([childStep], [newRun([childStep], state)], {host, signal: never})
    expect(host.outputOf('c')).toEqual(['a check: ********', 'plain 1', 'plain 2', 'the ********'])
    // The step's own text once by the engine, the child's block with the secret once by the
    // runner, its plain block never; no text is redacted twice.
    const redacted = redact.mock.calls
      .map(([text]) => text)
      .filter((text) => !text.startsWith(process.execPath))
    expect(redacted.filter((text) => text.includes('plain'))).toEqual([])
    expect(redacted.filter((text) => text.includes('hunter2-secret'))).toEqual([
      'a check: hunter2-secret',
      'the hunter2-secret',
    ])
    expect(redacted.filter((text) => text.includes('********'))).toEqual([])
  })

  it("a failure takes the failing step's class; the steps after it are skipped", async () => {
    const plan = [
      step('a'),
      step(
        'b',
        async () => {
          throw new AwsError('access-denied', 'ecr:PutImage', 'denied')
        },
        'push',
      ),
      step('c'),
    ]
    const state = new Toy()
    const host = new RecordingHost()
    const run = newRun(plan, state)
    await runPlans(plan, [run], {host, signal: never})
    expect(run.failure).toBeInstanceOf(DeployError)
    expect(run.failure).toMatchObject({kind: 'push', exitCode: 8, reason: 'aws:access-denied', step: 'b'})
    expect(run.steps.map((record) => record.status)).toEqual(['done', 'failed', 'skipped'])
    expect(state.log).not.toContain('run c')
    expect(run.steps[2]!.described).toBeUndefined()
    const ended = host.events.find((event) => event.type === 'stepEnded' && event.step.id === 'b')
    expect(ended).toMatchObject({end: 'failed', error: run.failure})
    expect(host.ends).toEqual([
      ['a', 'done'],
      ['b', 'failed'],
      ['c', 'skipped'],
    ])
  })

  it("a bug inside a step is internal:unexpected, of the step's class, prefixed with its title", async () => {
    const plan = [step('a', async () => Promise.reject(new TypeError('x is undefined')), 'containerize')]
    const run = newRun(plan, new Toy())
    await runPlans(plan, [run], {host: new RecordingHost(), signal: never})
    expect(run.failure).toMatchObject({
      kind: 'containerize',
      reason: 'internal:unexpected',
      message: 'Step a failed: x is undefined',
    })
  })

  it('bad input is class usage (2) whichever step raises it', async () => {
    const plan = [step('a', async () => Promise.reject(new UsageError('bad tag')), 'push')]
    const run = newRun(plan, new Toy())
    await runPlans(plan, [run], {host: new RecordingHost(), signal: never})
    expect(run.failure).toMatchObject({kind: 'usage', exitCode: 2})
  })

  it("an interrupt during a step: interrupted with the signal's class, the rest skipped", async () => {
    const controller = new AbortController()
    const plan = [
      step('a', async (_, io) => {
        controller.abort('SIGTERM')
        // A step that ignores the signal and returns: the engine still reports the interrupt.
        expect(io.signal.aborted).toBe(true)
      }),
      step('b'),
    ]
    const state = new Toy()
    const run = newRun(plan, state)
    const host = new RecordingHost()
    await runPlans(plan, [run], {host, signal: controller.signal})
    expect(run.failure).toMatchObject({
      kind: 'interruptedSigterm',
      exitCode: 143,
      reason: 'interrupted:SIGTERM',
      message: 'Interrupted by SIGTERM during a.',
    })
    expect(run.steps.map((record) => record.status)).toEqual(['interrupted', 'skipped'])
    expect(host.ends).toEqual([
      ['a', 'interrupted'],
      ['b', 'skipped'],
    ])
  })

  it('an error thrown because of the interrupt is reported as the interrupt', async () => {
    const controller = new AbortController()
    const plan = [
      step('a', async () => {
        controller.abort('SIGHUP')
        throw new CheckError('vpn-off', 'aborted probe')
      }),
    ]
    const run = newRun(plan, new Toy())
    await runPlans(plan, [run], {host: new RecordingHost(), signal: controller.signal})
    expect(run.failure).toMatchObject({kind: 'interruptedSighup', exitCode: 129})
  })

  it('an abort without a signal name counts as SIGINT', async () => {
    const controller = new AbortController()
    const plan = [step('a', async () => controller.abort())]
    const run = newRun(plan, new Toy())
    await runPlans(plan, [run], {host: new RecordingHost(), signal: controller.signal})
    expect(run.failure).toMatchObject({kind: 'interruptedSigint', exitCode: 130})
  })

  it('an interrupt before a run starts skips every step', async () => {
    const controller = new AbortController()
    controller.abort('SIGINT')
    const state = new Toy()
    const run = newRun([step('a'), step('b')], state)
    await runPlans([step('a'), step('b')], [run], {host: new RecordingHost(), signal: controller.signal})
    expect(run.steps.map((record) => record.status)).toEqual(['skipped', 'skipped'])
    expect(state.log).toEqual([])
  })

  describe('several targets', () => {
    /** Each target's step waits, so the runs overlap when concurrency allows it. */
    function slowPlan(active: {now: number; max: number}): Step<Toy>[] {
      return [
        step('work', async () => {
          active.now++
          active.max = Math.max(active.max, active.now)
          await sleep(40)
          active.now--
        }),
      ]
    }

    it('runs at most `concurrency` at once', async () => {
      for (const [concurrency, expected] of [
        [undefined, 1],
        [2, 2],
        [10, 3],
      ] as const) {
        const active = {now: 0, max: 0}
        const plan = slowPlan(active)
        const runs = ['x', 'y', 'z'].map((label) => newRun(plan, new Toy(), label))
        await runPlans(plan, runs, {
          host: new RecordingHost(),
          signal: never,
          ...(concurrency ? {concurrency} : {}),
        })
        expect(active.max, `concurrency ${concurrency}`).toBe(expected)
        expect(runs.every((run) => run.steps[0]!.status === 'done')).toBe(true)
      }
    })

    it('a failed target leaves the others running; its ledger is its own', async () => {
      const plan = [
        step('a', async (state) => {
          recordAction({kind: 'aws', call: `aws:ecr:Call${state.value}`})
          await sleep(10)
          if (state.value === 2) throw new CheckError('tag-taken', 'taken')
          recordAction({kind: 'aws', call: `aws:ecr:After${state.value}`})
        }),
        step('b'),
      ]
      const runs = [1, 2, 3].map((value) => {
        const state = new Toy()
        state.value = value
        return newRun(plan, state, `t${value}`)
      })
      const host = new RecordingHost()
      await runPlans(plan, runs, {host, signal: never, concurrency: 3})
      expect(runs.map((run) => run.steps.map((record) => record.status))).toEqual([
        ['done', 'done'],
        ['failed', 'skipped'],
        ['done', 'done'],
      ])
      expect(runs.map((run) => run.steps[0]!.ran)).toEqual([
        ['aws:ecr:Call1', 'aws:ecr:After1'],
        ['aws:ecr:Call2'],
        ['aws:ecr:Call3', 'aws:ecr:After3'],
      ])
      const started = host.events[0]
      expect(started).toMatchObject({
        type: 'runStarted',
        targets: [
          {target: 't1', steps: [{target: 't1', id: 'a', title: 'Step a'}, {id: 'b'}]},
          {target: 't2'},
          {target: 't3'},
        ],
      })
      expect(host.ends.filter(([, end]) => end === 'failed')).toEqual([['t2/a', 'failed']])
      expect(firstFailure(runs)).toEqual({run: runs[1], failure: runs[1]!.failure})
    })

    it('firstFailure is the first failed target in the order given, not in time', () => {
      const runs = ['a', 'b', 'c'].map((label) => newRun([step('s')], new Toy(), label))
      expect(firstFailure(runs)).toBeUndefined()
      runs[2]!.failure = new DeployError('push', 'late')
      runs[1]!.failure = new DeployError('build', 'early')
      expect(firstFailure(runs)?.run.label).toBe('b')
      expect(firstFailure(runs)?.failure.kind).toBe('build')
    })

    it('the host hears the run end even when there are no targets', async () => {
      const host = new RecordingHost()
      await runPlans([step('a')], [], {host, signal: never, concurrency: 4})
      expect(host.sequence).toEqual(['runStarted', 'runEnded'])
    })
  })

  it('describeStep leaves out what a description does not set', () => {
    const bare: Step<Toy> = {
      id: 'bare',
      title: 'Bare',
      failure: 'build',
      describe: () => ({actions: [{text: 't', calls: []}], commands: [{command: 'c', args: [], cwd: '/'}]}),
      run: async () => {},
    }
    const state = new Toy()
    expect(describeStep(bare, bare.describe(state), state.secrets)).toEqual({
      id: 'bare',
      title: 'Bare',
      actions: [{text: 't', calls: []}],
      commands: [{command: 'c', cwd: '/'}],
    })
  })

  it('a step with startsAfter runs beside the steps between, under its own ledger, shown and recorded at its turn', async () => {
    const order: string[] = []
    const slow = step('slow', async () => {
      order.push('slow start')
      await sleep(50)
      order.push('slow end')
    })
    const early: Step<Toy> = {
      ...step('early', async (_state, io) => {
        order.push('early start')
        recordAction({kind: 'aws', call: 'aws:ecr:early'})
        io.output('from early')
      }),
      startsAfter: 'a',
    }
    const plan = [step('a'), slow, early]
    const state = new Toy()
    const run = newRun(plan, state)
    const host = new RecordingHost()
    await runPlans(plan, [run], {host, signal: never})
    // It started as soon as a ended, before slow's turn, but the host saw the steps one after another.
    expect(order).toEqual(['early start', 'slow start', 'slow end'])
    expect(host.sequence.filter((event) => !event.startsWith('run'))).toEqual([
      'stepStarted:a',
      'stepEnded:a',
      'stepStarted:slow',
      'stepEnded:slow',
      'stepStarted:early',
      'stepOutput:early',
      'stepEnded:early',
    ])
    expect(run.steps[2]).toMatchObject({status: 'done', ran: ['aws:ecr:early']})
    expect(run.steps[1]!.ran).toEqual([])
  })

  it('a step started ahead of its turn that fails after an earlier failure: recorded failed, the first failure decides', async () => {
    const plan = [
      step('a'),
      step('b', async () => {
        await sleep(20)
        throw new CheckError('first', 'b failed')
      }),
      {
        ...step(
          'early',
          async () => {
            throw new AwsError('access-denied', 'ecr:GetAuthorizationToken', 'early failed')
          },
          'auth',
        ),
        startsAfter: 'a',
      },
      step('d'),
    ]
    const run = newRun(plan, new Toy())
    const host = new RecordingHost()
    await runPlans(plan, [run], {host, signal: never})
    expect(run.steps.map((record) => record.status)).toEqual(['done', 'failed', 'failed', 'skipped'])
    expect(run.failure?.message).toBe('b failed')
    expect(run.failure?.step).toBe('b')
  })

  it('a step that would start after a failed step does not start early', async () => {
    const plan = [
      step('a', async () => {
        throw new CheckError('first', 'a failed')
      }),
      step('b'),
      {...step('early'), startsAfter: 'a'},
    ]
    const state = new Toy()
    const run = newRun(plan, state)
    await runPlans(plan, [run], {host: new RecordingHost(), signal: never})
    expect(run.steps.map((record) => record.status)).toEqual(['failed', 'skipped', 'skipped'])
    expect(state.log).not.toContain('run early')
  })
})
