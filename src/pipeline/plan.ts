import {buildStep} from '../steps/build.js'
import {containerizeStep} from '../steps/containerize.js'
import {importStep} from '../steps/import-model.js'
import {loginStep} from '../steps/login.js'
import {preflightStep} from '../steps/preflight.js'
import {pushStep} from '../steps/push.js'
import {tagStep, verifyStep} from '../steps/tag.js'
import {formatCommand} from '../process.js'
import type {DeployState, StepId} from './state.js'
import type {Step} from './step.js'

/** The push pipeline, in order. A dry run describes these steps; a real run executes them. */
export const PUSH_PLAN: readonly Step[] = [
  preflightStep,
  importStep,
  buildStep,
  containerizeStep,
  loginStep,
  pushStep,
  tagStep,
  verifyStep,
]

export interface PlannedStep {
  id: StepId
  title: string
  actions: string[]
  commands: Array<{command: string; cwd: string; stdin?: string}>
}

/** The plan as data (for --json and for the dry run's text): secrets redacted. */
export function describePlan(plan: readonly Step[], state: DeployState): PlannedStep[] {
  return plan.map((step) => {
    const {actions, commands} = step.describe(state)
    return {
      id: step.id,
      title: step.title,
      actions,
      commands: commands.map((command) => ({
        command: formatCommand(command, state.secrets),
        cwd: command.cwd,
        ...(command.stdinDescription === undefined ? {} : {stdin: command.stdinDescription}),
      })),
    }
  })
}
