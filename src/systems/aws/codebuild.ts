import type {CodeBuildClient} from '@aws-sdk/client-codebuild'

import {AwsError} from '../../errors.js'
import type {AwsClients} from './clients.js'
import {codebuildModule} from './sdk.js'

/** What `mldeploy builder setup codebuild` makes: one project, built for `push --builder codebuild`. */
export interface ProjectSpec {
  name: string
  roleArn: string
  image: string
  computeType: string
  vpc?: VpcConfig
  /** The bucket and prefix the sources come from (said in the description; each build names its own key). */
  sourceLocation: string
}

export interface VpcConfig {
  vpcId: string
  subnets: string[]
  securityGroupIds: string[]
}

export interface BuildStart {
  project: string
  /** `<bucket>/<key>` of the source zip. */
  sourceLocation: string
  buildspec: string
  environment?: Record<string, string>
}

export type BuildStatus = 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'FAULT' | 'TIMED_OUT' | 'STOPPED'

export interface BuildFacts {
  id: string
  status: BuildStatus
  /** The phase the build is in or ended in (INSTALL, BUILD, ...). */
  phase: string | undefined
  /** Phases that did not succeed, with CodeBuild's own reason. */
  failedPhases: Array<{phase: string; status: string; message: string}>
  logGroup: string | undefined
  logStream: string | undefined
  /** The console link to the log, when CodeBuild gives one. */
  logLink: string | undefined
}

/** The project as mldeploy creates it; the sources of each build override the placeholder source. */
export function projectInput(spec: ProjectSpec) {
  return {
    name: spec.name,
    description: `mldeploy push --builder codebuild (sources from s3://${spec.sourceLocation})`,
    // Every build brings its own source (S3 zip) and buildspec: the project holds neither.
    source: {
      type: 'NO_SOURCE' as const,
      buildspec:
        'version: 0.2\nphases:\n  build:\n    commands:\n      - echo "Started by mldeploy push --builder codebuild, which gives the buildspec."\n',
    },
    artifacts: {type: 'NO_ARTIFACTS' as const},
    environment: {
      type: 'LINUX_CONTAINER' as const,
      image: spec.image,
      computeType: spec.computeType as never,
      // The docker daemon inside the build needs it.
      privilegedMode: true,
      imagePullCredentialsType: 'CODEBUILD' as const,
    },
    cache: {type: 'LOCAL' as const, modes: ['LOCAL_DOCKER_LAYER_CACHE', 'LOCAL_SOURCE_CACHE'] as never},
    logsConfig: {cloudWatchLogs: {status: 'ENABLED' as const}},
    serviceRole: spec.roleArn,
    ...(spec.vpc === undefined ? {} : {vpcConfig: spec.vpc}),
  }
}

/** CodeBuild projects and builds; the SDK module is loaded on first use only. */
export class CodeBuild {
  private client?: Promise<CodeBuildClient>

  constructor(private readonly aws: AwsClients) {}

  private codebuild(): Promise<CodeBuildClient> {
    this.client ??= codebuildModule().then(({CodeBuildClient}) =>
      this.aws.serviceClient('codebuild', (config) => new CodeBuildClient(config)),
    )
    return this.client
  }

  /** Whether the project exists (BatchGetProjects lists the missing ones instead of failing). */
  async projectExists(name: string, signal?: AbortSignal): Promise<boolean> {
    const {BatchGetProjectsCommand} = await codebuildModule()
    const client = await this.codebuild()
    try {
      const out = await client.send(
        new BatchGetProjectsCommand({names: [name]}),
        this.aws.callOptions(signal),
      )
      return (out.projects ?? []).some((project) => project.name === name)
    } catch (error) {
      throw this.aws.failure(error, 'codebuild:BatchGetProjects', `Looking up CodeBuild project ${name}`)
    }
  }

  async createProject(spec: ProjectSpec, signal?: AbortSignal): Promise<void> {
    const {CreateProjectCommand} = await codebuildModule()
    const client = await this.codebuild()
    try {
      await client.send(new CreateProjectCommand(projectInput(spec)), this.aws.callOptions(signal))
    } catch (error) {
      throw this.aws.failure(error, 'codebuild:CreateProject', `Creating CodeBuild project ${spec.name}`)
    }
  }

  async updateProject(spec: ProjectSpec, signal?: AbortSignal): Promise<void> {
    const {UpdateProjectCommand} = await codebuildModule()
    const client = await this.codebuild()
    try {
      await client.send(new UpdateProjectCommand(projectInput(spec)), this.aws.callOptions(signal))
    } catch (error) {
      throw this.aws.failure(error, 'codebuild:UpdateProject', `Updating CodeBuild project ${spec.name}`)
    }
  }

  /** Starts a build with this run's source zip and buildspec; returns its id. */
  async startBuild(start: BuildStart, signal?: AbortSignal): Promise<string> {
    const {StartBuildCommand} = await codebuildModule()
    const client = await this.codebuild()
    let id: string | undefined
    try {
      const out = await client.send(
        new StartBuildCommand({
          projectName: start.project,
          sourceTypeOverride: 'S3',
          sourceLocationOverride: start.sourceLocation,
          buildspecOverride: start.buildspec,
          environmentVariablesOverride: Object.entries(start.environment ?? {}).map(([name, value]) => ({
            name,
            value,
            type: 'PLAINTEXT' as const,
          })),
        }),
        this.aws.callOptions(signal),
      )
      id = out.build?.id
    } catch (error) {
      throw this.aws.failure(
        error,
        'codebuild:StartBuild',
        `Starting a build of CodeBuild project ${start.project}`,
      )
    }
    if (id === undefined)
      throw new AwsError(
        'malformed',
        'codebuild:StartBuild',
        'CodeBuild started a build but returned no build id.',
      )
    return id
  }

  async build(id: string, signal?: AbortSignal): Promise<BuildFacts> {
    const {BatchGetBuildsCommand} = await codebuildModule()
    const client = await this.codebuild()
    let build
    try {
      const out = await client.send(new BatchGetBuildsCommand({ids: [id]}), this.aws.callOptions(signal))
      build = out.builds?.[0]
    } catch (error) {
      throw this.aws.failure(error, 'codebuild:BatchGetBuilds', `Reading build ${id}`)
    }
    if (build === undefined)
      throw new AwsError('not-found', 'codebuild:BatchGetBuilds', `CodeBuild knows no build ${id}.`)
    return {
      id,
      status: (build.buildStatus ?? 'IN_PROGRESS') as BuildStatus,
      phase: build.currentPhase,
      failedPhases: (build.phases ?? [])
        .filter((phase) => phase.phaseStatus !== undefined && phase.phaseStatus !== 'SUCCEEDED')
        .map((phase) => ({
          phase: phase.phaseType ?? '?',
          status: phase.phaseStatus ?? '?',
          message: (phase.contexts ?? [])
            .map((context) => context.message ?? '')
            .join(' ')
            .trim(),
        })),
      logGroup: build.logs?.groupName,
      logStream: build.logs?.streamName,
      logLink: build.logs?.deepLink,
    }
  }

  async stopBuild(id: string, signal?: AbortSignal): Promise<void> {
    const {StopBuildCommand} = await codebuildModule()
    const client = await this.codebuild()
    try {
      await client.send(new StopBuildCommand({id}), this.aws.callOptions(signal))
    } catch (error) {
      throw this.aws.failure(error, 'codebuild:StopBuild', `Stopping build ${id}`)
    }
  }
}
