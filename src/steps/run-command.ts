import type {MldeployError} from '../errors.js'
import type {DeployState, StepId} from '../pipeline/state.js'
import type {PlannedCommand, StepIO} from '../pipeline/step.js'
import {type ChildResult, formatCommand, type OutputBlock, runChild} from '../process.js'
import {withoutAwsCredentials} from '../systems/aws/index.js'
import {checkChild} from '../systems/child.js'

export {lastMeaningfulLine} from '../systems/child.js'

export interface RunPlannedOptions {
  /** What the command does, for messages: "Importing the model". */
  doing: string
  input?: string
  onLine?: (line: string) => void
  /** Each chunk of output as one block of whole lines (see `ChildRun.onBlock`). */
  onBlock?: (block: OutputBlock) => void
  /** Turns a failed child's output into a clearer error, when its text is recognised. */
  explain?: (tail: string[], result: ChildResult) => MldeployError | undefined
  /** The step whose time limit applies. */
  step: StepId
  /**
   * Give the child the AWS credentials of the target. Only the import needs them
   * (create_bento_model.py may read MLflow artifacts from S3); bentoml build, containerize and
   * the registry login and push do not, so they never see them.
   */
  awsCredentials?: boolean
}

/** Run one planned command with live output; a failure becomes a ChildError with the output's tail. */
export async function runPlanned(
  state: DeployState,
  io: StepIO,
  command: PlannedCommand,
  options: RunPlannedOptions,
): Promise<ChildResult> {
  io.output(`$ ${formatCommand(command, state.secrets)}`)
  const result = await runChild({
    ...command,
    baseEnv: options.awsCredentials ? state.config.childEnv : withoutAwsCredentials(state.config.childEnv),
    ...(options.input === undefined ? {} : {input: options.input}),
    secrets: state.secrets,
    signal: io.signal,
    timeoutMs: state.config.timeouts[options.step],
    ...(options.onLine === undefined ? {} : {onLine: options.onLine}),
    onBlock: (block) => {
      io.output(block)
      options.onBlock?.(block)
    },
    outputReady: () => io.outputReady(),
  })
  // A recognised registry or tool message says more than the exit code does.
  if (result.exitCode !== 0 && result.spawnErrorCode === undefined && !result.canceled && !result.timedOut) {
    const explained = options.explain?.(result.tail, result)
    if (explained !== undefined) throw explained
  }
  return checkChild(result, {
    command: command.command,
    doing: options.doing,
    step: options.step,
    timeoutMs: state.config.timeouts[options.step],
  })
}
