import type {DeployState} from '../pipeline/state.js'
import type {PlannedCommand, Step} from '../pipeline/step.js'
import {bentomlEnv} from '../systems/bentoml.js'
import {explainPythonFailure, PythonOutputScanner} from '../systems/python-errors.js'
import {runPlanned} from './run-command.js'

/** `python create_bento_model.py` in the target folder: imports the MLflow model into BentoML's store. */
export function importCommand(state: DeployState): PlannedCommand {
  const python = state.config.python.value
  return {
    command: python.command,
    args: [...python.prefix, 'create_bento_model.py'],
    cwd: state.config.target.dir,
    env: {...python.env, BENTOML_DO_NOT_TRACK: bentomlEnv().BENTOML_DO_NOT_TRACK ?? 'true'},
  }
}

export const importStep: Step<DeployState> = {
  id: 'import',
  title: 'Import the model into BentoML',
  failure: 'import',
  describe: (state) => ({actions: [], commands: [importCommand(state)]}),
  async run(state, io) {
    const doing = 'Importing the model (create_bento_model.py)'
    // The cause (MLflow's missing model) often sits above the runner's short tail.
    const scanner = new PythonOutputScanner()
    await runPlanned(state, io, importCommand(state), {
      step: 'import',
      doing,
      awsCredentials: true,
      onBlock: scanner.pushBlock,
      explain: (_tail, result) =>
        explainPythonFailure(scanner.lines(), result, {doing, cwd: state.config.target.dir}),
    })
  },
}
