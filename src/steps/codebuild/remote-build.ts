import {DeployError, errorMessage, ExitCode, type ExitCodeName} from '../../errors.js'
import type {CodeBuildState} from '../../pipeline/codebuild-state.js'
import type {Step, StepIO} from '../../pipeline/step.js'
import {LogFollower} from '../../systems/aws/logs.js'

const TAIL_LINES = 30
/** Phases before BUILD: a failure there means the remote mldeploy never ran. */
const BEFORE_MLDEPLOY = new Set([
  'SUBMITTED',
  'QUEUED',
  'PROVISIONING',
  'DOWNLOAD_SOURCE',
  'INSTALL',
  'PRE_BUILD',
])

/** Waits `ms`, or less when the signal aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, {once: true})
  })
}

/**
 * StartBuild with this run's source and buildspec, then the build followed to its end: its log
 * streamed from CloudWatch Logs into the step's output, its status read every poll. An interrupt
 * stops the build (StopBuild) before the step ends. A build that does not succeed fails here with
 * the remote mldeploy's own exit class when it wrote its JSON, else 3 (before mldeploy ran) or
 * this step's class, with the log's tail.
 */
export const remoteBuildStep: Step<CodeBuildState> = {
  id: 'remote-build',
  title: 'Build and push in AWS CodeBuild',
  failure: 'push',
  describe: (state) => ({
    actions: [
      {
        text: `CodeBuild StartBuild ${state.project}: source s3://${state.bucketName}/${state.sourceKey}, buildspec override:\n${state.buildspec}`,
        calls: ['aws:codebuild:StartBuild'],
      },
      {
        text: `CodeBuild BatchGetBuilds every ${state.pollMs / 1000} s until the build ends; CloudWatch Logs GetLogEvents streams its log`,
        calls: ['aws:codebuild:BatchGetBuilds', 'aws:cloudwatch_logs:GetLogEvents'],
      },
      {
        text: `S3 GetObject s3://${state.bucketName}/${state.resultKey}`,
        calls: ['aws:s3:GetObject'],
        when: 'the build did not succeed',
      },
      {
        text: 'CodeBuild StopBuild',
        calls: ['aws:codebuild:StopBuild'],
        when: 'interrupted (Ctrl-C, SIGTERM)',
      },
    ],
    commands: [],
  }),
  async run(state, io) {
    const id = await state.codebuild.startBuild(
      {
        project: state.project,
        sourceLocation: `${state.bucketName}/${state.sourceKey}`,
        buildspec: state.buildspec,
      },
      io.signal,
    )
    io.output(`build ${id} started`)
    state.build = {
      id,
      status: 'IN_PROGRESS',
      phase: undefined,
      failedPhases: [],
      logGroup: undefined,
      logStream: undefined,
      logLink: undefined,
    }
    let follower: LogFollower | undefined
    for (;;) {
      if (io.signal.aborted) return stop(state, id, io)
      const build = await state.codebuild.build(id, io.signal).catch((error: unknown) => {
        if (io.signal.aborted) return undefined
        throw error
      })
      if (build === undefined) return stop(state, id, io)
      state.build = build
      if (follower === undefined && build.logGroup !== undefined && build.logStream !== undefined)
        follower = new LogFollower(state.aws, build.logGroup, build.logStream)
      if (follower !== undefined) showLines(state, io, await readLog(follower, io))
      if (build.status !== 'IN_PROGRESS') break
      await pause(state.pollMs, io.signal)
    }
    const build = state.build
    if (follower !== undefined) showLines(state, io, await readLog(follower, io))
    io.output(`build ${id}: ${build.status}`)
    if (build.status === 'SUCCEEDED') return
    state.remote = await readRemoteResult(state, io.signal)
    throw buildFailure(state)
  },
}

/** The log's new lines; a failed read is said, not fatal: the build's status decides the outcome. */
async function readLog(follower: LogFollower, io: StepIO): Promise<string[]> {
  try {
    return await follower.next(io.signal)
  } catch (error) {
    if (!io.signal.aborted) io.output(`(the build log could not be read: ${errorMessage(error)})`)
    return []
  }
}

function showLines(state: CodeBuildState, io: StepIO, lines: string[]): void {
  if (lines.length === 0) return
  io.output(lines.join('\n'))
  state.logTail.push(...lines)
  state.logTail.splice(0, Math.max(0, state.logTail.length - TAIL_LINES))
}

/** An interrupt: the build is stopped too, not left running (and billing) in AWS. */
async function stop(state: CodeBuildState, id: string, io: StepIO): Promise<void> {
  await state.codebuild.stopBuild(id, AbortSignal.timeout(15_000))
  io.output(`build ${id} stopped (StopBuild)`)
}

/** The remote mldeploy's JSON, when it wrote one; undefined when the build ended before it ran. */
export async function readRemoteResult(
  state: CodeBuildState,
  signal: AbortSignal,
): Promise<Record<string, unknown> | undefined> {
  const text = await state.bucket.text(state.resultKey, signal)
  if (text === undefined || text.trim() === '') return undefined
  try {
    const parsed = JSON.parse(text) as unknown
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

const EXIT_NAMES = new Map(
  Object.entries(ExitCode).map(([name, code]) => [code as number, name as ExitCodeName]),
)

const STATUS_WORDS: Record<string, string> = {
  FAILED: 'failed',
  FAULT: 'failed inside CodeBuild (FAULT)',
  TIMED_OUT: "timed out (the project's build timeout)",
  STOPPED: 'was stopped (StopBuild from elsewhere, or the console)',
}

export function buildFailure(state: CodeBuildState): DeployError {
  const build = state.build!
  const where =
    build.logLink === undefined ? `build ${build.id}` : `build ${build.id} (log: ${build.logLink})`
  const tail = state.logTail.join('\n')
  const error = state.remote?.error as
    | {kind?: string; exitCode?: number; message?: string; hint?: string; reason?: string; step?: string}
    | undefined
  if (error !== undefined && typeof error.exitCode === 'number') {
    // The remote mldeploy ran and said why: its class is this run's.
    const kind = EXIT_NAMES.get(error.exitCode) ?? 'push'
    return new DeployError(kind, `In CodeBuild ${where}: ${error.message ?? 'mldeploy push failed'}`, {
      ...(error.hint === undefined ? {} : {hint: error.hint}),
      reason: `codebuild:remote-${error.reason ?? kind}`,
      step: `remote-build/${error.step ?? '?'}`,
      detail: tail,
    })
  }
  const phase = build.failedPhases.find((each) => each.status !== 'SUCCEEDED') ?? {
    phase: build.phase ?? '?',
    status: build.status,
    message: '',
  }
  const before = BEFORE_MLDEPLOY.has(phase.phase)
  const why = `${phase.phase}${phase.message === '' ? '' : `: ${phase.message}`}`
  const last = state.logTail
    .filter((line) => line.trim() !== '')
    .slice(-3)
    .join(' | ')
  return new DeployError(
    before ? 'preflight' : 'push',
    `CodeBuild ${where} ${STATUS_WORDS[build.status] ?? build.status} in phase ${why}${before ? ', before mldeploy ran' : ''}${last === '' ? '' : `; log: ${last}`}`,
    {
      hint: before
        ? 'The install phase (pipenv/pip, npm) failed: see the log tail above (--verbose), fix the Pipfile/requirements, and run again.'
        : 'See the build log; the remote mldeploy wrote no result.',
      reason: `codebuild:${build.status.toLowerCase()}`,
      step: 'remote-build',
      detail: tail,
    },
  )
}
