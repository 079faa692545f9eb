import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {flagsFor} from '../../config/flags.js'
import type {SetupResult} from '../../pipeline/codebuild-setup.js'

export default class BuilderSetup extends BaseCommand {
  static override summary = 'Create or update what a remote builder needs (today: the AWS CodeBuild project).'

  static override description = `For --builder codebuild: creates, or updates when it exists, a CodeBuild project (Linux, ${'aws/codebuild/standard:7.0'}, privileged mode for docker, local Docker-layer and source caches, CloudWatch Logs) and the S3 bucket and prefix that carry sources and results. --dry-run shows every API call and changes nothing. See README "Remote builds".`

  static override examples = [
    {
      description: 'Create the project with the role CodeBuild builds with',
      command:
        'mldeploy builder setup codebuild --role-arn arn:aws:iam::123456789012:role/mldeploy-codebuild',
    },
    {
      description: 'Inside the VPC that reaches MLflow, on a larger machine; review first',
      command:
        'mldeploy builder setup codebuild --role-arn arn:aws:iam::123456789012:role/mldeploy-codebuild --compute-type BUILD_GENERAL1_LARGE --vpc-config vpcId=vpc-0abc1234,subnets=subnet-0abc1234,securityGroupIds=sg-0abc1234 --dry-run',
    },
  ]

  static override args = {
    builder: Args.string({description: 'The builder to set up: codebuild.', required: false}),
  }

  static override flags = flagsFor('builder setup')

  protected override annotationStep = 'builder setup'

  public async run(): Promise<SetupResult> {
    const {args, flags} = await this.parse(BuilderSetup)
    const {formatSetup, prepareSetup, resolveSetupConfig, setup} =
      await import('../../pipeline/codebuild-setup.js')
    const config = resolveSetupConfig(args.builder, flags, process.env)
    const state = await prepareSetup(config)
    this.secrets = state.secrets
    const host = await this.runHost(1)
    const {result, failure} = await this.interruptible((signal) => setup(state, {host, signal}))
    if (failure !== undefined) this.failWith(failure, result)
    if (!this.jsonEnabled()) this.print(formatSetup(result))
    return result
  }
}
