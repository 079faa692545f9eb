import type {Sourced} from '../config/env-layers.js'
import {
  CODEBUILD_IMAGE,
  CODEBUILD_PREFIX,
  defaultBucket,
  type VpcConfig,
} from '../config/codebuild-settings.js'
import {PLACEHOLDER} from '../images.js'
import {SecretRegistry} from '../secrets.js'
import type {AwsClients} from '../systems/aws/index.js'
import {CodeBuild, type ProjectSpec} from '../systems/aws/codebuild.js'
import {SourceBucket} from '../systems/aws/s3.js'

/**
 * What `builder setup` resolved and what its steps learn: apart from the plan
 * (`codebuild-setup.ts`), as `state.ts` is for a push, so the steps import it and the plan them.
 */
export interface SetupConfig {
  project: Sourced<string>
  bucket: Sourced<string> | undefined
  roleArn: Sourced<string>
  computeType: Sourced<string>
  vpc: Sourced<VpcConfig> | undefined
  region: Sourced<string> | undefined
  profile: Sourced<string> | undefined
  dryRun: boolean
  env: Record<string, string>
}

/** What the setup steps read and learn. */
export class SetupState {
  readonly secrets = new SecretRegistry()
  readonly codebuild: CodeBuild
  account: string | undefined
  bucketExisted: boolean | undefined
  projectExisted: boolean | undefined

  constructor(
    readonly config: SetupConfig,
    readonly region: Sourced<string>,
    readonly aws: AwsClients,
  ) {
    this.codebuild = new CodeBuild(aws)
  }

  get bucketName(): string {
    return this.config.bucket?.value ?? defaultBucket(this.account ?? PLACEHOLDER.account, this.region.value)
  }

  get bucket(): SourceBucket {
    return new SourceBucket(this.aws, this.bucketName)
  }

  get spec(): ProjectSpec {
    const {config} = this
    return {
      name: config.project.value,
      roleArn: config.roleArn.value,
      image: CODEBUILD_IMAGE,
      computeType: config.computeType.value,
      ...(config.vpc === undefined ? {} : {vpc: config.vpc.value}),
      sourceLocation: `${this.bucketName}/${CODEBUILD_PREFIX}`,
    }
  }
}
