/**
 * Which listr2 renderer a run uses. The animated one only where a person watches a terminal;
 * anywhere else (a pipe, CI, --json) one timestamped line per event, so logs read in order.
 * Progress always goes to stderr: stdout is kept for the result (the plan, the summary, JSON).
 */
export type RendererChoice = 'default' | 'verbose' | 'silent'

export interface RendererEnvironment {
  stdoutIsTTY: boolean
  stderrIsTTY: boolean
  env: NodeJS.ProcessEnv
  json: boolean
  quiet?: boolean
}

export function chooseRenderer({
  stdoutIsTTY,
  stderrIsTTY,
  env,
  json,
  quiet,
}: RendererEnvironment): RendererChoice {
  if (quiet) return 'silent'
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0'
  if (json || ci || !stdoutIsTTY || !stderrIsTTY || env.TERM === 'dumb') return 'verbose'
  return 'default'
}

export function currentRendererEnvironment(json: boolean): RendererEnvironment {
  return {
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    env: process.env,
    json,
  }
}
