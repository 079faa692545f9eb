import {CODEBUILD_PREFIX} from '../../config/codebuild-settings.js'
import type {SetupState} from '../../pipeline/setup-state.js'
import type {Step} from '../../pipeline/step.js'
import {sha256Hex} from '../../sha256.js'

/** A marker under the prefix: says what the objects there are, and proves the role may write. */
export const PREFIX_MARKER = `${CODEBUILD_PREFIX}README.txt`
const MARKER_TEXT =
  'Source packages (sources/<sha256>.zip) and results (results/<build-id>.json) of mldeploy push --builder codebuild.\n'

const identityStep: Step<SetupState> = {
  id: 'identity',
  title: 'Read the AWS identity',
  failure: 'preflight',
  describe: () => ({
    actions: [
      {
        text: 'STS GetCallerIdentity: the account (it names the default bucket)',
        calls: ['aws:sts:GetCallerIdentity'],
      },
    ],
    commands: [],
  }),
  async run(state, io) {
    const identity = await state.aws.identity(io.signal)
    state.account = identity.account
    io.output(`account ${identity.account} (${identity.arn})`)
  },
}

const bucketStep: Step<SetupState> = {
  id: 'bucket',
  title: 'Create the S3 bucket and prefix for sources',
  failure: 'preflight',
  describe: (state) => ({
    actions: [
      {text: `S3 HeadBucket ${state.bucketName}`, calls: ['aws:s3:HeadBucket']},
      {
        text: `S3 CreateBucket ${state.bucketName} in ${state.region.value}`,
        calls: ['aws:s3:CreateBucket'],
        when: 'the bucket does not exist',
      },
      {text: `S3 PutObject s3://${state.bucketName}/${PREFIX_MARKER}`, calls: ['aws:s3:PutObject']},
    ],
    commands: [],
  }),
  async run(state, io) {
    const bucket = state.bucket
    state.bucketExisted = await bucket.exists(io.signal)
    if (!state.bucketExisted) {
      await bucket.create(io.signal)
      io.output(`created bucket ${state.bucketName}`)
    }
    const body = Buffer.from(MARKER_TEXT)
    await bucket.put(PREFIX_MARKER, body, sha256Hex(body), io.signal)
    io.output(`s3://${state.bucketName}/${CODEBUILD_PREFIX} ready`)
  },
}

const projectStep: Step<SetupState> = {
  id: 'project',
  title: 'Create or update the CodeBuild project',
  failure: 'preflight',
  describe: (state) => {
    const {spec} = state
    const settings = `${spec.image}, ${spec.computeType}, privileged, LOCAL_DOCKER_LAYER_CACHE + LOCAL_SOURCE_CACHE, CloudWatch Logs, role ${spec.roleArn}${spec.vpc === undefined ? '' : `, VPC ${spec.vpc.vpcId}`}`
    return {
      actions: [
        {text: `CodeBuild BatchGetProjects ${spec.name}`, calls: ['aws:codebuild:BatchGetProjects']},
        {
          text: `CodeBuild CreateProject ${spec.name} (${settings})`,
          calls: ['aws:codebuild:CreateProject'],
          when: 'the project does not exist',
        },
        {
          text: `CodeBuild UpdateProject ${spec.name} (${settings})`,
          calls: ['aws:codebuild:UpdateProject'],
          when: 'the project exists',
        },
      ],
      commands: [],
    }
  },
  async run(state, io) {
    const {spec} = state
    state.projectExisted = await state.codebuild.projectExists(spec.name, io.signal)
    if (state.projectExisted) await state.codebuild.updateProject(spec, io.signal)
    else await state.codebuild.createProject(spec, io.signal)
    io.output(`${state.projectExisted ? 'updated' : 'created'} project ${spec.name}`)
  },
}

export const SETUP_PLAN: readonly Step<SetupState>[] = [identityStep, bucketStep, projectStep]
