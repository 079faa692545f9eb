import {CheckError} from '../errors.js'
import type {DeployState} from '../pipeline/state.js'
import type {PlannedCommand, Step} from '../pipeline/step.js'
import {bentomlEnv, buildArgs, parseBuildTag, TAG_MARK, tagFromLine} from '../systems/bentoml.js'
import {explainPythonFailure, PythonOutputScanner} from '../systems/python-errors.js'
import {runPlanned} from './run-command.js'

export function buildCommand(state: DeployState): PlannedCommand {
  const python = state.config.python.value
  return {
    command: python.command,
    args: [...python.prefix, ...buildArgs(state.config.bentoVersion?.value)],
    cwd: state.config.target.dir,
    env: {...python.env, ...bentomlEnv()},
  }
}

export const buildStep: Step<DeployState> = {
  id: 'build',
  title: 'Build the bento',
  failure: 'build',
  describe: (state) => ({actions: [], commands: [buildCommand(state)]}),
  async run(state, io) {
    let tag: string | undefined
    // A SyntaxError or a missing module in service.py: named with its file and line.
    const scanner = new PythonOutputScanner()
    const result = await runPlanned(state, io, buildCommand(state), {
      step: 'build',
      doing: 'bentoml build',
      // The tag line is read as it streams by: the log itself is never held whole, nor split
      // into lines where no tag line can be.
      onBlock: (block) => {
        if (block.includes(TAG_MARK)) for (const line of block.lines()) tag = tagFromLine(line) ?? tag
        scanner.pushBlock(block)
      },
      explain: (_tail, result) =>
        explainPythonFailure(scanner.lines(), result, {doing: 'bentoml build', cwd: state.config.target.dir}),
    })
    tag ??= parseBuildTag(result.tail.join('\n'))
    if (tag === undefined) {
      throw new CheckError('no-bento-tag', 'bentoml build succeeded but printed no bento tag.', {
        hint: 'Check that bentoml is >= 1.0.21 and that BENTOML_VERBOSITY/-q settings are not hiding its output.',
        detail: result.tail.slice(-12).join('\n'),
      })
    }
    const expected = state.config.bentoVersion?.value
    if (expected !== undefined && !tag.endsWith(`:${expected}`)) {
      throw new CheckError('bento-version', `bentoml build made ${tag}, not version ${expected} as asked.`)
    }
    state.bentoTag = tag
    io.output(`bento ${tag}`)
  },
}
