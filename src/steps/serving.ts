import {readFile} from 'node:fs/promises'

import {CheckError, errorMessage} from '../errors.js'
import type {DeployState} from '../pipeline/state.js'
import {note, type PlannedCommand, type Step, type StepIO} from '../pipeline/step.js'
import {formatDuration} from '../duration.js'
import {
  containerLogsArgs,
  containerStateArgs,
  execArgs,
  pullArgs,
  removeContainerArgs,
  runServingArgs,
  SERVING_LABEL,
} from '../systems/serving.js'
import {backendAuthEnv, loginCommand, runLogin} from './login.js'
import {backendCommand} from './engine-command.js'
import {runPlanned} from './run-command.js'

/**
 * Issue 24 §2: the local contract run. After the pushed image's check and before the scan and the
 * tags (a broken image never gets `latest`): the pushed image runs as SageMaker runs it (`serve`,
 * no network, a memory limit), a probe inside it (the image's python, through `exec -i`: no
 * published port, the same on Linux, Docker Desktop and podman machine) waits for GET /ping and
 * posts the sample input to /invocations. The container is removed on every ending.
 */

/** How long the container may take to go away after the run (it is killed by then). */
const REMOVE_TIMEOUT_MS = 30_000
/** The container log lines a failure shows. */
const LOG_LINES = 40

/** The image that runs: the local one the push uploaded, or (reused from the repository) pulled by digest. */
export function servingImage(state: DeployState): string {
  if (state.reuse?.source === 'repository')
    return `${state.registry.value}/${state.config.repository.value}@${state.reuse.digest}`
  return state.uploadImage
}

function pulls(state: DeployState): boolean {
  return state.reuse?.source === 'repository'
}

export function servingCommands(state: DeployState): {
  pull: PlannedCommand
  run: PlannedCommand
  ping: PlannedCommand
  invoke: PlannedCommand
  state: PlannedCommand
  logs: PlannedCommand
  remove: PlannedCommand
} {
  const serving = state.config.sagemaker?.serving
  const name = state.servingName
  // The probe gives up 5 s before the step's limit, so its own verdict (not a kill) is what fails.
  const timeoutSeconds = Math.max(1, Math.floor(state.config.timeouts.serving / 1000) - 5)
  const contentType = serving?.sampleInput.contentType ?? '<content-type>'
  return {
    pull: backendCommand(state, pullArgs(servingImage(state)), backendAuthEnv(state)),
    run: backendCommand(
      state,
      runServingArgs({
        name,
        image: servingImage(state),
        memory: serving?.memory.value ?? '<serving-memory>',
      }),
      // `podman run` stats REGISTRY_AUTH_FILE even when it pulls nothing (exit 125 on a missing
      // file, as a CI's not-yet-written one): the run's own auth file, written by the login.
      state.config.backend.value === 'podman' ? backendAuthEnv(state) : undefined,
    ),
    ping: backendCommand(state, execArgs(name, ['ping', String(timeoutSeconds)])),
    invoke: {
      ...backendCommand(state, execArgs(name, ['invoke', contentType])),
      stdinDescription: `the sample input ${serving?.sampleInput.file ?? '<sample-input>'}`,
    },
    state: backendCommand(state, containerStateArgs(name)),
    logs: backendCommand(state, containerLogsArgs(name, LOG_LINES)),
    remove: backendCommand(state, removeContainerArgs(name)),
  }
}

export const servingStep: Step<DeployState> = {
  id: 'serving',
  title: 'Run the image as SageMaker does',
  failure: 'serving',
  describe(state) {
    const serving = state.config.sagemaker?.serving
    if (serving === undefined)
      return {actions: [note('Skipped: --check-serving was not asked for')], commands: []}
    const commands = servingCommands(state)
    const failed = 'the container did not answer as SageMaker asks'
    return {
      actions: [
        note(
          `Run ${servingImage(state)} with \`serve\`, no network, memory ${serving.memory.value}, label ${SERVING_LABEL}; inside it, wait up to ${formatDuration(state.config.timeouts.serving)} for GET /ping to answer 200, then POST ${serving.sampleInput.file} (${serving.sampleInput.contentType}) to /invocations and require a 2xx answer; the container is removed on every ending`,
        ),
      ],
      commands: [
        ...(pulls(state)
          ? [
              {...loginCommand(state), when: 'the image was reused from the repository (it is pulled)'},
              {...commands.pull, when: 'the image was reused from the repository'},
            ]
          : []),
        commands.run,
        commands.ping,
        commands.invoke,
        {...commands.state, when: failed},
        {...commands.logs, when: failed},
        commands.remove,
      ],
    }
  },
  async run(state, io) {
    const serving = state.config.sagemaker?.serving
    if (serving === undefined) {
      io.skip?.('--check-serving was not asked for')
      return
    }
    const commands = servingCommands(state)
    if (pulls(state)) {
      await runLogin(state, io)
      await runPlanned(state, io, commands.pull, {step: 'serving', doing: `Pulling ${servingImage(state)}`})
    }
    const sample = await readFile(serving.sampleInput.file)
    const started = performance.now()
    let created = false
    try {
      await runPlanned(state, io, commands.run, {
        step: 'serving',
        doing: `Starting ${servingImage(state)} with serve`,
      })
      created = true
      await probe(
        state,
        io,
        commands.ping,
        'ping',
        (lines) => lines.at(-1) ?? 'GET /ping never answered 200.',
      )
      const answer: string[] = []
      await probe(
        state,
        io,
        commands.invoke,
        'invoke',
        (lines) => `POST /invocations answered ${lines.join(' ').slice(0, 300)}`,
        sample,
        answer,
      )
      const status = /^HTTP (\d{3}) (.*)$/.exec(answer[0] ?? '')
      state.serving = {
        image: servingImage(state),
        secondsToAnswer: Math.round((performance.now() - started) / 100) / 10,
        status: status === null ? null : Number(status[1]),
        contentType: status === null || status[2] === 'None' ? null : status[2]!,
        body: answer.slice(1).join('\n').slice(0, 4096),
      }
      io.output(
        `/invocations answered ${state.serving.status} in ${state.serving.secondsToAnswer} s from serve.`,
      )
    } catch (error) {
      if (io.signal.aborted || !created) throw error
      throw await withContainerState(state, io, error)
    } finally {
      // Whatever ended the run (a failure, an interrupt), the container goes: under a signal of its own.
      await removeContainer(state, io, commands.remove, created)
    }
  },
}

/** One probe inside the container; its last lines say what failed. */
async function probe(
  state: DeployState,
  io: StepIO,
  command: PlannedCommand,
  what: 'ping' | 'invoke',
  failure: (lines: string[]) => string,
  input?: Buffer,
  lines: string[] = [],
): Promise<void> {
  try {
    await runPlanned(state, io, command, {
      step: 'serving',
      doing: what === 'ping' ? 'Waiting for GET /ping' : 'POST /invocations',
      ...(input === undefined ? {} : {input: input.toString('utf8')}),
      onLine: (line) => lines.push(line),
    })
  } catch (error) {
    if (io.signal.aborted) throw error
    const status = (error as {exitCode?: number}).exitCode
    // The probe's own verdicts (3: /ping never ready, 4: not 2xx); anything else: the exec failed.
    if (status === 3 || status === 4)
      throw new CheckError(`serving-${what}`, failure(lines), {detail: lines.join('\n'), cause: error})
    throw error
  }
}

/** The failure with the container's state (exited, with its code) and its last log lines. */
async function withContainerState(state: DeployState, io: StepIO, error: unknown): Promise<CheckError> {
  const commands = servingCommands(state)
  const status: string[] = []
  const logs: string[] = []
  try {
    await runPlanned(state, io, commands.state, {
      step: 'serving',
      doing: 'Reading the container state',
      onLine: (line) => status.push(line.trim()),
    })
    io.output(`--- the container's last ${LOG_LINES} log lines ---`)
    await runPlanned(state, io, commands.logs, {
      step: 'serving',
      doing: 'Reading the container log',
      onLine: (line) => logs.push(line),
    })
  } catch (more) {
    if (io.signal.aborted) throw more
  }
  const [running, exitCode] = (status.at(-1) ?? '').split(' ')
  const exited = running !== undefined && running !== 'running' && running !== ''
  const message = exited
    ? `The container exited (${running}, code ${exitCode}) before it answered: ${errorMessage(error)}`
    : errorMessage(error)
  return new CheckError('serving', `The local contract run failed: ${message}`, {
    hint: exited
      ? 'See the container log above: the model server did not start in serve mode (memory, a missing file, a crash).'
      : 'See the container log above; without the SageMaker adapter (--no-sagemaker-adapter) the service itself must serve /ping and /invocations on 8080.',
    detail: logs.slice(-LOG_LINES).join('\n'),
    cause: error,
  })
}

async function removeContainer(
  state: DeployState,
  io: StepIO,
  command: PlannedCommand,
  created: boolean,
): Promise<void> {
  const own: StepIO = {
    output: (output) => io.output(output),
    outputReady: () => io.outputReady(),
    signal: AbortSignal.timeout(REMOVE_TIMEOUT_MS),
  }
  try {
    await runPlanned(state, own, command, {step: 'serving', doing: `Removing ${state.servingName}`})
  } catch (error) {
    // A `run` that failed may have made no container: nothing to remove then.
    if (!created) return
    state.warn(
      `The contract run's container ${state.servingName} could not be removed: ${errorMessage(error)} Remove it with \`${state.config.backend.value} rm --force ${state.servingName}\` (containers labelled ${SERVING_LABEL}).`,
    )
  }
}
