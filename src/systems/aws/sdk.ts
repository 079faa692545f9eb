/**
 * The AWS SDK's modules, each loaded the first time a call needs it (a dry run or `--help` never
 * loads them). They are CommonJS: bundled and split into their own chunk (scripts/bundle.mjs),
 * such a module is imported as its `default` export only, while Node's own import also names
 * every export. Taking the exports from `default` when there is one works for both.
 */
const exportsOf = <T>(module: T): T => (module as {default?: T}).default ?? module

export const ecrModule = (): Promise<typeof import('@aws-sdk/client-ecr')> =>
  import('@aws-sdk/client-ecr').then(exportsOf)

export const stsModule = (): Promise<typeof import('@aws-sdk/client-sts')> =>
  import('@aws-sdk/client-sts').then(exportsOf)

export const credentialProviderModule = (): Promise<typeof import('@aws-sdk/credential-provider-node')> =>
  import('@aws-sdk/credential-provider-node').then(exportsOf)

// The remote builder's services (issue 13), loaded only with --builder codebuild or builder setup.
export const codebuildModule = (): Promise<typeof import('@aws-sdk/client-codebuild')> =>
  import('@aws-sdk/client-codebuild').then(exportsOf)

export const s3Module = (): Promise<typeof import('@aws-sdk/client-s3')> =>
  import('@aws-sdk/client-s3').then(exportsOf)

export const logsModule = (): Promise<typeof import('@aws-sdk/client-cloudwatch-logs')> =>
  import('@aws-sdk/client-cloudwatch-logs').then(exportsOf)

// `mldeploy deploy` (issue 24): loaded only when a deploy talks to SageMaker and IAM.
export const sagemakerModule = (): Promise<typeof import('@aws-sdk/client-sagemaker')> =>
  import('@aws-sdk/client-sagemaker').then(exportsOf)

export const iamModule = (): Promise<typeof import('@aws-sdk/client-iam')> =>
  import('@aws-sdk/client-iam').then(exportsOf)
