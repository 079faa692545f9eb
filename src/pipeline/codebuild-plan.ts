import type {DeployError} from '../errors.js'
import {packageStep, uploadStep} from '../steps/codebuild/package.js'
import {codebuildPreflightStep} from '../steps/codebuild/preflight.js'
import {remoteBuildStep} from '../steps/codebuild/remote-build.js'
import {resultStep} from '../steps/codebuild/result.js'
import type {CodeBuildState} from './codebuild-state.js'
import type {Step} from './step.js'

/** `push --builder codebuild`: import to push run in CodeBuild; this machine packages and follows. */
export const CODEBUILD_PLAN: readonly Step<CodeBuildState>[] = [
  codebuildPreflightStep,
  packageStep,
  uploadStep,
  remoteBuildStep,
  resultStep,
]

/** What a CodeBuild push reports besides the push result: where the build ran and what it was given. */
export interface RemoteBuildFacts {
  builder: 'codebuild'
  project: string
  source: string
  sourceSha256: string | null
  uploadSkipped: boolean | null
  buildspec: string
  files: string[]
  buildId: string | null
  buildStatus: string | null
  logLink: string | null
  result: string
  /** The remote mldeploy's own steps (this run's `steps` are the local ones). */
  steps: unknown
}

function remoteFacts(state: CodeBuildState): RemoteBuildFacts {
  return {
    builder: 'codebuild',
    project: state.project,
    source: `s3://${state.bucketName}/${state.sourceKey}`,
    sourceSha256: state.zip?.sha256 ?? null,
    uploadSkipped: state.uploadSkipped ?? null,
    buildspec: state.buildspec,
    files: state.listing,
    buildId: state.build?.id ?? null,
    buildStatus: state.build?.status ?? null,
    logLink: state.build?.logLink ?? null,
    result: `s3://${state.bucketName}/${state.resultKey}`,
    steps: state.remote?.steps ?? null,
  }
}

/** The dry run's extra: the buildspec and the zip's listing, pure functions of the plan. */
export function codebuildPlanned(state: CodeBuildState): {remote: RemoteBuildFacts} {
  return {remote: remoteFacts(state)}
}

/**
 * The run's result: the remote mldeploy's JSON (read back from S3) with this run's steps and
 * warnings and where the build ran; before a remote result exists, what is known here.
 */
export function codebuildResult<R extends {steps: unknown; warnings: string[]}>(
  state: CodeBuildState,
  local: R,
  failure: DeployError | undefined,
) {
  const remote = state.remote ?? {}
  const remoteWarnings = Array.isArray(remote.warnings) ? (remote.warnings as string[]) : []
  const merged = {
    ...local,
    ...remote,
    steps: local.steps,
    warnings: [...local.warnings, ...remoteWarnings],
    remote: remoteFacts(state),
  }
  if (failure === undefined) return {...merged, status: 'pushed' as const}
  return {
    ...merged,
    status: 'failed' as const,
    error: failure.toResultError(),
  }
}
