import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {parse} from 'yaml'

/**
 * A composite action's metadata (action.yml), as far as this repository's actions use it.
 */
export interface CompositeAction {
  name: string
  description: string
  inputs: Record<string, {description: string; required?: boolean; default?: string}>
  outputs: Record<string, {description: string; value: string}>
  runs: {using: string; steps: CompositeStep[]}
}

export interface CompositeStep {
  id?: string
  name?: string
  shell?: string
  run?: string
  uses?: string
  env?: Record<string, string>
  'working-directory'?: string
}

export function readAction(file: string): CompositeAction {
  return parse(readFileSync(file, 'utf8')) as CompositeAction
}

/** Every `${{ … }}` expression in a text. */
export function expressionsIn(text: string): string[] {
  return [...text.matchAll(/\$\{\{\s*(.*?)\s*\}\}/g)].map((match) => match[1]!)
}

interface Context {
  inputs: Record<string, string>
  steps: Record<string, Record<string, string>>
  actionPath: string
}

/**
 * `${{ … }}` as GitHub evaluates it, for the three forms an action here may use: `inputs.<name>`,
 * `steps.<id>.outputs.<name>` (an unset output is empty, as on GitHub) and `github.action_path`.
 * Anything else throws: the action would need more than this stand-in proves.
 */
function substitute(text: string, context: Context): string {
  return text.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expression: string) => {
    const input = /^inputs\.([\w-]+)$/.exec(expression)
    if (input) {
      const value = context.inputs[input[1]!]
      if (value === undefined) throw new Error(`Unknown input in \${{ ${expression} }}`)
      return value
    }
    const output = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression)
    if (output) return context.steps[output[1]!]?.[output[2]!] ?? ''
    if (expression === 'github.action_path') return context.actionPath
    throw new Error(`Unsupported expression \${{ ${expression} }}`)
  })
}

/** A GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` … `DELIMITER` blocks. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!
    if (line === '') continue
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, index + 1)
      if (end < 0) throw new Error(`Output ${heredoc[1]} has no closing ${heredoc[2]}`)
      outputs[heredoc[1]!] = lines.slice(index + 1, end).join('\n')
      index = end
      continue
    }
    const equals = line.indexOf('=')
    if (equals < 0) throw new Error(`Not an output line: ${line}`)
    outputs[line.slice(0, equals)] = line.slice(equals + 1)
  }
  return outputs
}

export interface ActionRun {
  /** The step that failed (its id), if one did: the later ones did not run. */
  failedStep?: string
  exitCode: number
  stdout: string
  stderr: string
  /** Each step's outputs, by step id. */
  steps: Record<string, Record<string, string>>
  /** The action's outputs, mapped from the steps' as action.yml says. */
  outputs: Record<string, string>
  /** What the steps added to PATH (GITHUB_PATH), for the job's later steps. */
  path: string[]
}

/**
 * Run a composite action's `run:` steps here as the runner would: each step's script in bash
 * (`bash --noprofile --norc -eo pipefail`, GitHub's default), its `env:` and `working-directory`
 * with the inputs substituted (defaults filled in), a fresh GITHUB_OUTPUT per step, GITHUB_PATH
 * and GITHUB_ENV carried to the next steps, GITHUB_ACTION_PATH, GITHUB_STEP_SUMMARY, RUNNER_TEMP,
 * GITHUB_ACTIONS and CI set. `preset` stands for steps left out with `skip` (their outputs).
 */
export async function runCompositeAction(options: {
  actionFile: string
  inputs: Record<string, string>
  env: Record<string, string>
  /** The job's workspace: a relative working-directory is taken from here. */
  workspace: string
  runnerTemp: string
  skip?: string[]
  preset?: Record<string, Record<string, string>>
}): Promise<ActionRun> {
  const action = readAction(options.actionFile)
  const actionPath = path.dirname(options.actionFile)
  // GitHub only warns about a required input left out (the step gets an empty string): the
  // scripts must refuse it themselves.
  const inputs: Record<string, string> = {}
  for (const [name, input] of Object.entries(action.inputs))
    inputs[name] = options.inputs[name] ?? input.default ?? ''
  const unknown = Object.keys(options.inputs).filter((name) => !(name in action.inputs))
  if (unknown.length > 0) throw new Error(`Unexpected inputs: ${unknown.join(', ')}`)

  const context: Context = {inputs, steps: {...options.preset}, actionPath}
  const run: ActionRun = {exitCode: 0, stdout: '', stderr: '', steps: context.steps, outputs: {}, path: []}
  const jobEnv: Record<string, string> = {}
  const githubPath = path.join(options.runnerTemp, 'github-path')
  const githubEnv = path.join(options.runnerTemp, 'github-env')
  const summary = path.join(options.runnerTemp, 'github-step-summary')
  for (const file of [githubPath, githubEnv, summary]) writeFileSync(file, '')
  for (const [index, step] of action.runs.steps.entries()) {
    const id = step.id ?? `__run_${index}`
    if (options.skip?.includes(id)) continue
    if (step.run === undefined || step.shell !== 'bash')
      throw new Error(`Step ${id}: only run: steps with shell: bash are played here`)
    const script = path.join(options.runnerTemp, `step-${id}.sh`)
    writeFileSync(script, step.run)
    const outputFile = path.join(options.runnerTemp, `github-output-${id}`)
    writeFileSync(outputFile, '')
    const stepEnv = Object.fromEntries(
      Object.entries(step.env ?? {}).map(([name, value]) => [name, substitute(String(value), context)]),
    )
    const basePath = options.env.PATH ?? process.env.PATH ?? '/usr/bin:/bin'
    const result = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], {
      cwd: path.resolve(options.workspace, substitute(step['working-directory'] ?? '.', context)),
      env: {
        ...options.env,
        ...jobEnv,
        ...stepEnv,
        PATH: [...run.path.slice().reverse(), basePath].join(':'),
        GITHUB_ACTION_PATH: actionPath,
        GITHUB_OUTPUT: outputFile,
        GITHUB_PATH: githubPath,
        GITHUB_ENV: githubEnv,
        GITHUB_STEP_SUMMARY: summary,
        GITHUB_ACTIONS: 'true',
        CI: 'true',
        RUNNER_TEMP: options.runnerTemp,
      },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    })
    run.stdout += String(result.stdout)
    run.stderr += String(result.stderr)
    context.steps[id] = parseOutputFile(readFileSync(outputFile, 'utf8'))
    run.path = readFileSync(githubPath, 'utf8').split('\n').filter(Boolean)
    Object.assign(jobEnv, parseOutputFile(readFileSync(githubEnv, 'utf8')))
    if (result.exitCode !== 0) {
      run.failedStep = id
      run.exitCode = result.exitCode ?? -1
      return run
    }
  }
  for (const [name, output] of Object.entries(action.outputs))
    run.outputs[name] = substitute(output.value, context)
  return run
}
