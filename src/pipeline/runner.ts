import {chmod, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {Listr, ListrLogger, PRESET_TIMESTAMP, ProcessOutput} from 'listr2'

import type {RendererChoice} from '../cli/renderer.js'
import {DeployError, errorMessage} from '../errors.js'
import type {DeployState} from './state.js'
import type {Step} from './step.js'

export interface ExecuteOptions {
  renderer: RendererChoice
  signal: AbortSignal
}

/**
 * Walk the plan with listr2, one task per step, recording each step's status and duration in
 * the state (the summary and --json report them, including on failure).
 */
export async function executePlan(
  plan: readonly Step[],
  state: DeployState,
  options: ExecuteOptions,
): Promise<void> {
  for (const step of plan) state.steps.push({id: step.id, title: step.title, status: 'pending'})
  state.workDir = await mkdtemp(path.join(tmpdir(), 'mldeploy-'))
  await chmod(state.workDir, 0o700)
  const logger = new ListrLogger({
    useIcons: options.renderer === 'default',
    processOutput: new ProcessOutput(process.stderr, process.stderr),
  })
  const lineRenderer = {logger, timestamp: PRESET_TIMESTAMP, logTitleChange: false}
  const tasks = new Listr<unknown, 'default' | 'verbose' | 'silent', 'verbose'>(
    plan.map((step, index) => ({
      title: step.title,
      task: async (_context: unknown, task: {output: string}) => {
        const record = state.steps[index]!
        record.status = 'running'
        const started = performance.now()
        try {
          await step.run(state, {output: (line) => (task.output = line), signal: options.signal})
          record.status = 'done'
        } catch (error) {
          record.status = options.signal.aborted ? 'interrupted' : 'failed'
          throw error instanceof DeployError
            ? error
            : new DeployError(step.failure, `${step.title} failed: ${errorMessage(error)}`, {cause: error})
        } finally {
          record.durationMs = Math.round(performance.now() - started)
        }
      },
    })),
    {
      renderer:
        options.renderer === 'default' ? 'default' : options.renderer === 'silent' ? 'silent' : 'verbose',
      rendererOptions: options.renderer === 'default' ? {logger} : lineRenderer,
      // listr2 also falls back by itself when there is no TTY: same line renderer, same stderr.
      fallbackRenderer: 'verbose',
      fallbackRendererOptions: lineRenderer,
      registerSignalListeners: false,
      exitOnError: true,
      collectErrors: false,
    },
  )
  try {
    await tasks.run()
  } finally {
    for (const record of state.steps) if (record.status === 'pending') record.status = 'skipped'
    await rm(state.workDir, {recursive: true, force: true})
  }
}
