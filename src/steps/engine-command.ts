import type {DeployState} from '../pipeline/state.js'
import {describeBuilder} from '../config/builder.js'
import {note, type PlannedCommand, type StepDescription} from '../pipeline/step.js'
import {withoutAwsCredentials} from '../systems/aws/index.js'
import {
  type Engine,
  type EngineBuilder,
  engineArgs,
  engineEnv,
  isRemoteEngine,
  probeArgs,
  probeEngine,
  resolveArgs,
  resolveEngine,
  unresolvedEngine,
} from '../systems/engine.js'

/**
 * The engine this run's backend children talk to (issue 13): undefined for the local one. Before
 * the preflight has resolved a docker context or podman connection, a placeholder naming it.
 */
export function runEngine(state: DeployState): Engine | undefined {
  const builder = state.config.builder.value
  if (!isRemoteEngine(builder)) return undefined
  return state.engine ?? unresolvedEngine(builder)
}

/** A backend command addressed to the run's engine: `docker --host URL <args>`, `podman --remote --url URL <args>`. */
export function backendCommand(
  state: DeployState,
  args: string[],
  env?: Record<string, string>,
): PlannedCommand {
  const engine = runEngine(state)
  return {
    command: state.config.backend.value,
    args: engine === undefined ? args : [...engineArgs(engine), ...args],
    cwd: state.config.target.dir,
    ...(env === undefined ? {} : {env}),
  }
}

/** The engine as variables, for bentoml containerize (it starts the backend CLI itself). */
export function backendEngineEnv(state: DeployState): Record<string, string> {
  const engine = runEngine(state)
  return engine === undefined ? {} : engineEnv(engine)
}

/** The engine check as the dry run shows it: the context/connection lookup, then the probe. */
export function describeEngineCheck(state: DeployState): StepDescription | undefined {
  const builder = state.config.builder.value
  if (!isRemoteEngine(builder)) return undefined
  const engine = runEngine(state)!
  const cwd = state.config.target.dir
  const commands: PlannedCommand[] = []
  if (builder.kind === 'docker-context' || builder.kind === 'podman-connection')
    commands.push({command: engine.backend, args: resolveArgs(builder), cwd})
  commands.push({command: engine.backend, args: probeArgs(engine), cwd})
  const resolve =
    'name' in builder
      ? `resolve ${describeBuilder(builder)} to its endpoint (before the login's private auth folder hides it), then `
      : ''
  return {
    actions: [note(`Engine: ${resolve}check that the ${engine.backend} engine at ${engine.url} answers`)],
    commands,
  }
}

/** Resolves the builder's engine (with the user's own configuration) and checks that it answers. */
export async function checkEngine(state: DeployState, signal: AbortSignal): Promise<string> {
  const builder = state.config.builder.value as EngineBuilder
  const context = {
    env: withoutAwsCredentials(state.config.childEnv),
    cwd: state.config.target.dir,
    signal,
    secrets: state.secrets,
  }
  state.engine ??= await resolveEngine(builder, context)
  return probeEngine(state.engine, context)
}
