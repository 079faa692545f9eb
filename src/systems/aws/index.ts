/**
 * The AWS system: the only place that imports `@aws-sdk/*` and `@smithy/*`. Clients are built
 * from one target's settings (`awsSettingsFor`) and fail with `AwsError`s, never exit codes.
 */
export {
  type Authorization,
  AwsClients,
  decodeAuthorizationToken,
  type EcrManifest,
  type Identity,
  type ImageFacts,
  registryHostFromEndpoint,
  type RepositoryFacts,
  type RepositorySettings,
  type ScanFindings,
  type TagMutability,
  type TagPointers,
  targetAws,
} from './clients.js'
export {basicFinding, enhancedFinding} from './ecr-scan.js'
export {EndpointAnswerError, errorName, toAwsError} from './errors.js'
export {MAX_RESPONSE_BYTES} from './middleware.js'
export {
  type AwsOverrides,
  type AwsSettings,
  awsSettingsFor,
  endpointFor,
  FALLBACK_REGION,
  parseConfigFile,
  regionFromEnv,
  regionFromProfile,
  registerAwsSecrets,
  resolveRegion,
  type StaticCredentials,
  withoutAwsCredentials,
} from './settings.js'
export {EcrImageSource} from './ecr-image-source.js'
export {
  deploymentConfigInput,
  type DeploymentGuardrails,
  type EndpointConfigFacts,
  type EndpointFacts,
  type EndpointStatus,
  Iam,
  type ModelFacts,
  SageMaker,
  type SimulatedAction,
  type VariantSpec,
} from './sagemaker.js'
