import {chmod, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {Listr, ListrLogger, type ListrTask, PRESET_TIMESTAMP, ProcessOutput} from 'listr2'

import type {RendererChoice} from '../cli/renderer.js'
import {classify} from '../errors.js'
import type {DeployState} from './state.js'
import type {Step} from './step.js'

export interface ExecuteOptions {
  renderer: RendererChoice
  signal: AbortSignal
}

type Renderer = 'default' | 'verbose' | 'silent'

/** The listr2 instance: progress on stderr, animated or one timestamped line per event. */
function createListr(
  tasks: ListrTask[],
  renderer: RendererChoice,
  concurrent: number | false,
): Listr<unknown, Renderer, 'verbose'> {
  const logger = new ListrLogger({
    useIcons: renderer === 'default',
    processOutput: new ProcessOutput(process.stderr, process.stderr),
  })
  const lineRenderer = {logger, timestamp: PRESET_TIMESTAMP, logTitleChange: false}
  return new Listr<unknown, Renderer, 'verbose'>(tasks, {
    concurrent,
    renderer: renderer === 'default' ? 'default' : renderer === 'silent' ? 'silent' : 'verbose',
    rendererOptions: renderer === 'default' ? {logger} : lineRenderer,
    // listr2 also falls back by itself when there is no TTY: same line renderer, same stderr.
    fallbackRenderer: 'verbose',
    fallbackRendererOptions: lineRenderer,
    registerSignalListeners: false,
    // One target's failure stops its own steps, never another target's.
    exitOnError: concurrent === false,
    collectErrors: false,
  })
}

/**
 * One listr task per step, recording each step's status and duration in the state (the summary
 * and --json report them, including on failure). With a label (several targets at once), titles
 * and output lines say which target they belong to.
 */
function stepTasks(
  plan: readonly Step[],
  state: DeployState,
  signal: AbortSignal,
  label?: string,
): ListrTask[] {
  for (const step of plan) state.steps.push({id: step.id, title: step.title, status: 'pending'})
  const prefix = label === undefined ? '' : `[${label}] `
  return plan.map((step, index) => ({
    title: `${prefix}${step.title}`,
    task: async (_context: unknown, task: {output: string}) => {
      const record = state.steps[index]!
      record.status = 'running'
      const started = performance.now()
      try {
        await step.run(state, {output: (line) => (task.output = `${prefix}${line}`), signal})
        record.status = 'done'
      } catch (error) {
        record.status = signal.aborted ? 'interrupted' : 'failed'
        state.failure = classify(error, step.failure, {step: step.id, doing: step.title})
        throw state.failure
      } finally {
        record.durationMs = Math.round(performance.now() - started)
      }
    },
  }))
}

/** A private folder per run (auth file, digest files), mode 0700. */
async function makeWorkDir(state: DeployState): Promise<void> {
  state.workDir = await mkdtemp(path.join(tmpdir(), 'mldeploy-'))
  await chmod(state.workDir, 0o700)
}

async function cleanUp(state: DeployState): Promise<void> {
  for (const record of state.steps) if (record.status === 'pending') record.status = 'skipped'
  if (state.workDir !== undefined) await rm(state.workDir, {recursive: true, force: true})
}

/** Walk the plan for one target. */
export async function executePlan(
  plan: readonly Step[],
  state: DeployState,
  options: ExecuteOptions,
): Promise<void> {
  await makeWorkDir(state)
  try {
    await createListr(stepTasks(plan, state, options.signal), options.renderer, false).run()
  } finally {
    await cleanUp(state)
  }
}

/**
 * Walk the plan for several targets, at most `concurrency` at once, as subtasks of one task
 * list. Each target's failure stays in its state (`failure`) and never stops the others.
 */
export async function executePlans(
  plan: readonly Step[],
  states: readonly DeployState[],
  options: ExecuteOptions & {concurrency: number},
): Promise<void> {
  for (const state of states) await makeWorkDir(state)
  const tasks: ListrTask[] = states.map((state) => ({
    title: state.config.target.name,
    task: (_context: unknown, task) =>
      task.newListr(stepTasks(plan, state, options.signal, state.config.target.name), {
        concurrent: false,
        exitOnError: true,
      }),
  }))
  try {
    await createListr(tasks, options.renderer, options.concurrency).run()
  } catch {
    // Each target's failure is in its state.
  } finally {
    for (const state of states) await cleanUp(state)
  }
}
