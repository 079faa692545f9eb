import {AwsError, CheckError} from '../../errors.js'
import type {CodeBuildState} from '../../pipeline/codebuild-state.js'
import {note, type Step} from '../../pipeline/step.js'

/**
 * What can be checked from here before anything is uploaded: the identity, the repository and its
 * tags, the bucket and the project. The executables, the disk and the VPN belong to the build and
 * are checked there, by the remote mldeploy's own preflight.
 */
export const codebuildPreflightStep: Step<CodeBuildState> = {
  id: 'preflight',
  title: 'Preflight (from here): AWS identity, repository, tags, CodeBuild project and bucket',
  failure: 'preflight',
  describe: (state) => ({
    actions: [
      {text: 'STS GetCallerIdentity', calls: ['aws:sts:GetCallerIdentity']},
      {text: `ECR DescribeRepositories ${state.repository}`, calls: ['aws:ecr:DescribeRepositories']},
      {
        text: `ECR DescribeImages for tags ${state.config.tags.value.join(', ')}`,
        calls: ['aws:ecr:DescribeImages'],
      },
      {text: `S3 HeadBucket ${state.bucketName}`, calls: ['aws:s3:HeadBucket']},
      {text: `CodeBuild BatchGetProjects ${state.project}`, calls: ['aws:codebuild:BatchGetProjects']},
      note(
        'Executables, disk space and the VPN are checked inside the build (they belong to it, not to this machine).',
      ),
    ],
    commands: [],
  }),
  async run(state, io) {
    const identity = await state.aws.identity(io.signal)
    if (state.account !== undefined && state.account.value !== identity.account)
      throw new CheckError(
        'wrong-account',
        `The credentials belong to account ${identity.account}, not ${state.account.value} (from ${state.account.source}).`,
        {hint: 'Use the credentials of that account (--profile), or fix --account-id.'},
      )
    state.account = {value: identity.account, source: 'STS GetCallerIdentity'}
    io.output(`account ${identity.account}`)
    await checkRepository(state, identity.account, io)
    if (!(await state.bucket.exists(io.signal)))
      throw new CheckError('bucket-missing', `S3 bucket ${state.bucketName} does not exist.`, {
        hint: 'Create it with mldeploy builder setup codebuild, or name another with --bucket.',
      })
    if (!(await state.codebuild.projectExists(state.project, io.signal)))
      throw new CheckError(
        'project-missing',
        `CodeBuild project ${state.project} does not exist in ${state.region.value}.`,
        {
          hint: 'Create it with mldeploy builder setup codebuild --role-arn <arn>, or name another with --project.',
        },
      )
    io.output(`project ${state.project}, bucket ${state.bucketName}`)
    io.output('executables, disk and VPN: checked inside the build')
  },
}

async function checkRepository(
  state: CodeBuildState,
  account: string,
  io: {output(text: string): void; signal: AbortSignal},
) {
  let mutability: string
  try {
    mutability = (await state.aws.repository(state.repository, account, undefined, io.signal)).mutability
  } catch (error) {
    // A missing repository the build will create is fine; anything else is not.
    if (
      state.config.createRepository !== undefined &&
      error instanceof AwsError &&
      error.reason === 'not-found'
    ) {
      io.output(`repository ${state.repository}: missing, the build creates it (--create-repository)`)
      return
    }
    throw error
  }
  const taken = await state.aws.imagesByTag(state.repository, state.config.tags.value, io.signal)
  if (mutability === 'IMMUTABLE' && taken.size > 0)
    throw new CheckError(
      'tag-taken',
      `Tag ${[...taken.keys()].join(', ')} already exists in the immutable repository ${state.repository}.`,
      {hint: 'Use another --tag, or make the repository mutable.'},
    )
  io.output(`repository ${state.repository} (${mutability})`)
}
