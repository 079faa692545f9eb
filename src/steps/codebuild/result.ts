import {DeployError} from '../../errors.js'
import type {CodeBuildState} from '../../pipeline/codebuild-state.js'
import type {Step} from '../../pipeline/step.js'
import {readRemoteResult} from './remote-build.js'

/** The remote mldeploy's JSON read back from S3: this run's result. */
export const resultStep: Step<CodeBuildState> = {
  id: 'result',
  title: "Read the build's result from S3",
  failure: 'push',
  describe: (state) => ({
    actions: [
      {text: `S3 GetObject s3://${state.bucketName}/${state.resultKey}`, calls: ['aws:s3:GetObject']},
    ],
    commands: [],
  }),
  async run(state, io) {
    state.remote = await readRemoteResult(state, io.signal)
    if (state.remote === undefined)
      throw new DeployError(
        'push',
        `CodeBuild build ${state.build?.id} succeeded but wrote no result to s3://${state.bucketName}/${state.resultKey}.`,
        {
          hint: "Check the project's role may write to the bucket (s3:PutObject on the prefix), and the build log.",
          reason: 'codebuild:no-result',
          step: 'result',
        },
      )
    io.output(
      `${String(state.remote.status)}: ${((state.remote.images as string[] | undefined) ?? []).join(', ')}`,
    )
  },
}
