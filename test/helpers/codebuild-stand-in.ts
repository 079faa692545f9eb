import {randomUUID} from 'node:crypto'

import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs'
import {PutObjectCommand, S3Client} from '@aws-sdk/client-s3'

import {startStandIn, type StandIn} from './stand-in.js'

/**
 * A scripted stand-in for the CodeBuild API, written for the tests: moto's CodeBuild cannot play
 * builds (no UpdateProject, buildspecOverride ignored, SUCCEEDED at once, never FAILED or
 * TIMED_OUT). It speaks CodeBuild's JSON 1.1 protocol on loopback, records every request, and walks
 * each started build through the test's script, one poll (BatchGetBuilds) per entry: it writes the
 * entry's log lines to CloudWatch Logs and, at the end, the script's result JSON to S3 — both in
 * moto, where mldeploy reads them with the real SDK. It runs no buildspec (the agent test does).
 */
export interface ScriptEntry {
  phase: string
  log?: string[]
  /** The build's status after this poll; the last entry's must not be IN_PROGRESS. */
  status?: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'FAULT' | 'TIMED_OUT' | 'STOPPED'
  /** For a failed phase: CodeBuild's own message. */
  message?: string
}

export interface BuildScript {
  entries: ScriptEntry[]
  /** What the remote mldeploy "wrote" to S3 at the end; none: it never ran. */
  result?: Record<string, unknown>
}

export interface RecordedRequest {
  operation: string
  body: Record<string, unknown>
}

/**
 * Plays a build for real instead of a script (the agent test): runs the buildspec on the source
 * and reports phases and log lines as it goes; resolves with the build's final status.
 */
export type BuildAgent = (
  start: {id: string; sourceLocation: string; buildspec: string},
  report: {phase(name: string): void; line(text: string): void},
) => Promise<'SUCCEEDED' | 'FAILED'>

export interface CodeBuildStandIn {
  url: string
  requests: RecordedRequest[]
  /** The script the next StartBuild plays. */
  script: BuildScript
  /** When set, StartBuild runs this agent instead of the script. */
  agent: BuildAgent | undefined
  operations(): string[]
  close(): Promise<void>
}

interface Build {
  id: string
  project: string
  stream: string
  played: number
  status: string
  phase: string
  phases: Array<{phaseType: string; phaseStatus: string; contexts: Array<{message: string}>}>
  script: BuildScript
  sourceLocation: string
  /** Lines an agent reported that are not in CloudWatch Logs yet. */
  pending: string[]
  agentStatus?: string
}

export async function startCodeBuildStandIn(motoUrl: string, bucket: string): Promise<CodeBuildStandIn> {
  const config = {
    region: 'us-east-1',
    endpoint: motoUrl,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  }
  const logs = new CloudWatchLogsClient(config)
  const s3 = new S3Client({...config, forcePathStyle: true})
  const projects = new Map<string, Record<string, unknown>>()
  const builds = new Map<string, Build>()
  const requests: RecordedRequest[] = []
  const state = {
    script: {entries: [{phase: 'COMPLETED', status: 'SUCCEEDED'}]} as BuildScript,
    agent: undefined as BuildAgent | undefined,
  }

  const flush = async (build: Build): Promise<void> => {
    const lines = build.pending.splice(0)
    if (lines.length > 0)
      await logs.send(
        new PutLogEventsCommand({
          logGroupName: `/aws/codebuild/${build.project}`,
          logStreamName: build.stream,
          logEvents: lines.map((message, index) => ({message, timestamp: Date.now() + index})),
        }),
      )
  }

  const play = async (build: Build): Promise<void> => {
    if (build.status !== 'IN_PROGRESS') return
    if (state.agent !== undefined) {
      // Read before the flush: an agent that ends meanwhile has all its lines in this flush.
      const final = build.agentStatus
      await flush(build)
      if (final !== undefined) build.status = final
      return
    }
    const entry = build.script.entries[Math.min(build.played, build.script.entries.length - 1)]!
    build.played++
    if (entry.log !== undefined && entry.log.length > 0)
      await logs.send(
        new PutLogEventsCommand({
          logGroupName: `/aws/codebuild/${build.project}`,
          logStreamName: build.stream,
          logEvents: entry.log.map((message, index) => ({message, timestamp: Date.now() + index})),
        }),
      )
    build.phase = entry.phase
    const status = entry.status ?? 'IN_PROGRESS'
    build.phases.push({
      phaseType: entry.phase,
      phaseStatus: status === 'IN_PROGRESS' || status === 'SUCCEEDED' ? 'SUCCEEDED' : status,
      contexts: entry.message === undefined ? [] : [{message: entry.message}],
    })
    if (status === 'IN_PROGRESS') return
    if (build.script.result !== undefined)
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `mldeploy/results/${build.id}.json`,
          Body: JSON.stringify(build.script.result),
          ContentType: 'application/json',
        }),
      )
    build.status = status
  }

  const view = (build: Build) => ({
    id: build.id,
    buildStatus: build.status,
    currentPhase: build.phase,
    phases: build.phases,
    logs: {
      groupName: `/aws/codebuild/${build.project}`,
      streamName: build.stream,
      deepLink: `https://console.example/${build.id}`,
    },
  })

  const handle = async (operation: string, body: Record<string, unknown>): Promise<unknown> => {
    switch (operation) {
      case 'BatchGetProjects': {
        const names = body.names as string[]
        return {
          projects: names.filter((name) => projects.has(name)).map((name) => projects.get(name)),
          projectsNotFound: names.filter((name) => !projects.has(name)),
        }
      }
      case 'CreateProject':
      case 'UpdateProject':
        projects.set(String(body.name), body)
        return {project: body}
      case 'StartBuild': {
        const project = String(body.projectName)
        const id = `${project}:${randomUUID()}`
        const stream = randomUUID()
        await logs
          .send(new CreateLogGroupCommand({logGroupName: `/aws/codebuild/${project}`}))
          .catch(() => undefined)
        await logs.send(
          new CreateLogStreamCommand({logGroupName: `/aws/codebuild/${project}`, logStreamName: stream}),
        )
        const build: Build = {
          id,
          project,
          stream,
          played: 0,
          status: 'IN_PROGRESS',
          phase: 'SUBMITTED',
          phases: [],
          script: state.script,
          sourceLocation: String(body.sourceLocationOverride),
          pending: [],
        }
        builds.set(id, build)
        const agent = state.agent
        if (agent !== undefined)
          void agent(
            {id, sourceLocation: build.sourceLocation, buildspec: String(body.buildspecOverride)},
            {
              phase: (name) => {
                if (build.phase !== 'SUBMITTED')
                  build.phases.push({phaseType: build.phase, phaseStatus: 'SUCCEEDED', contexts: []})
                build.phase = name
              },
              line: (text) => build.pending.push(text),
            },
          ).then(
            (status) => {
              build.phases.push({phaseType: build.phase, phaseStatus: status, contexts: []})
              build.agentStatus = status
            },
            (error: unknown) => {
              build.pending.push(`agent error: ${String(error)}`)
              build.agentStatus = 'FAULT'
            },
          )
        return {build: view(build)}
      }
      case 'BatchGetBuilds': {
        const found = (body.ids as string[]).flatMap((id) => builds.get(id) ?? [])
        for (const build of found) await play(build)
        return {builds: found.map(view)}
      }
      case 'StopBuild': {
        const build = builds.get(String(body.id))
        if (build !== undefined) build.status = 'STOPPED'
        return {build: build && view(build)}
      }
      default:
        throw new Error(`The CodeBuild stand-in does not know ${operation}`)
    }
  }

  const server: StandIn = await startStandIn((request, response, text) => {
    const operation = String(request.headers['x-amz-target'] ?? '').replace(/^CodeBuild_20161006\./, '')
    const body = (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>
    requests.push({operation, body})
    handle(operation, body).then(
      (answer) => {
        response.writeHead(200, {'content-type': 'application/x-amz-json-1.1'})
        response.end(JSON.stringify(answer ?? {}))
      },
      (error: unknown) => {
        response.writeHead(400, {'content-type': 'application/x-amz-json-1.1'})
        response.end(JSON.stringify({__type: 'InvalidInputException', message: String(error)}))
      },
    )
  })

  return {
    url: server.url,
    requests,
    get script() {
      return state.script
    },
    get agent() {
      return state.agent
    },
    set agent(agent: BuildAgent | undefined) {
      state.agent = agent
    },
    set script(script: BuildScript) {
      state.script = script
    },
    operations: () => requests.map((each) => each.operation),
    close: async () => {
      logs.destroy()
      s3.destroy()
      await server.close()
    },
  }
}
