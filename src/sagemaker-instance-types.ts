/**
 * SageMaker real-time hosting instance types, `ml.<family>.<size>`: the values of the SageMaker
 * API's `ProductionVariantInstanceType` (what CreateEndpointConfig accepts for a production
 * variant), as @aws-sdk/client-sagemaker 3.1142 lists them; test/unit/sagemaker-instance-types
 * checks this table against the installed SDK. A leaf module: the settings validate with it
 * without loading the SDK. Availability still differs by region and account quota (AWS answers
 * ResourceLimitExceeded then).
 */
const SIZES_BY_FAMILY: Record<string, string> = {
  c4: 'large xlarge 2xlarge 4xlarge 8xlarge',
  c5: 'large xlarge 2xlarge 4xlarge 9xlarge 18xlarge',
  c5d: 'large xlarge 2xlarge 4xlarge 9xlarge 18xlarge',
  c6g: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  c6gd: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  c6gn: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  c6i: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge',
  c6in: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge',
  c7g: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  c7i: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge',
  c8g: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge',
  dl1: '24xlarge',
  g4dn: 'xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  g5: 'xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge',
  g6: 'xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge',
  g6e: 'xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge',
  g7: '2xlarge 4xlarge 8xlarge 12xlarge 24xlarge 48xlarge',
  g7e: '2xlarge 4xlarge 8xlarge 12xlarge 24xlarge 48xlarge',
  inf1: 'xlarge 2xlarge 6xlarge 24xlarge',
  inf2: 'xlarge 8xlarge 24xlarge 48xlarge',
  m4: 'xlarge 2xlarge 4xlarge 10xlarge 16xlarge',
  m5: 'large xlarge 2xlarge 4xlarge 12xlarge 24xlarge',
  m5d: 'large xlarge 2xlarge 4xlarge 12xlarge 24xlarge',
  m6g: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  m6gd: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  m6i: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge',
  m7i: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge',
  m8g: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge',
  p2: 'xlarge 8xlarge 16xlarge',
  p3: '2xlarge 8xlarge 16xlarge',
  p4d: '24xlarge',
  p4de: '24xlarge',
  p5: '4xlarge 48xlarge',
  p5e: '48xlarge',
  p5en: '48xlarge',
  'p6-b200': '48xlarge',
  'p6-b300': '48xlarge',
  'p6e-gb200': '36xlarge',
  r5: 'large xlarge 2xlarge 4xlarge 12xlarge 24xlarge',
  r5d: 'large xlarge 2xlarge 4xlarge 12xlarge 24xlarge',
  r6g: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  r6gd: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  r6i: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge',
  r7gd: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  r7i: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge',
  r8g: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge',
  t2: 'medium large xlarge 2xlarge',
  trn1: '2xlarge 32xlarge',
  trn1n: '32xlarge',
  trn2: '48xlarge',
}

/** Graviton (arm64) families: an amd64 image does not start there (the image check asks for amd64). */
const ARM64_FAMILIES = new Set([
  'c6g',
  'c6gd',
  'c6gn',
  'c7g',
  'c8g',
  'm6g',
  'm6gd',
  'm8g',
  'r6g',
  'r6gd',
  'r7gd',
  'r8g',
  'p6e-gb200',
])

export const INSTANCE_TYPES: readonly string[] = Object.entries(SIZES_BY_FAMILY).flatMap(([family, sizes]) =>
  sizes.split(' ').map((size) => `ml.${family}.${size}`),
)

export function isInstanceType(name: string): boolean {
  return INSTANCE_TYPES.includes(name)
}

/** Whether the instance type runs arm64 images (Graviton), by its family. */
export function isArm64InstanceType(name: string): boolean {
  return ARM64_FAMILIES.has(name.split('.')[1] ?? '')
}
