import type {EnhancedImageScanFinding, ImageScanFinding} from '@aws-sdk/client-ecr'

import {type Finding, severityOf} from '../../scan-findings.js'
import {errorName} from './errors.js'
import {type EcrApi} from './session.js'
import {ecrModule} from './sdk.js'

/**
 * Issue 25 §1: an image's scan findings (DescribeImageScanFindings) and starting a scan
 * (StartImageScan). ECR answers both kinds of scanning through the same call: basic scanning's
 * `findings` (Clair's CVEs, the package in `attributes`) and, when the registry uses enhanced
 * scanning (Amazon Inspector), `enhancedFindings` (the package and its fixed version in
 * `packageVulnerabilityDetails`).
 */
export interface ScanFindings {
  /** COMPLETE, ACTIVE (enhanced: scanned continuously), IN_PROGRESS, PENDING, FAILED, UNSUPPORTED_IMAGE... */
  status: string
  description: string | null
  findings: Finding[]
}

/** A basic scanning finding: `name` is the CVE, the package in `attributes`. */
export function basicFinding(finding: ImageScanFinding): Finding {
  const attribute = (key: string): string | null =>
    finding.attributes?.find((each) => each.key === key)?.value ?? null
  return {
    id: finding.name ?? '(unnamed)',
    severity: severityOf(finding.severity),
    package: attribute('package_name'),
    version: attribute('package_version'),
    fixedIn: null,
    scanning: 'basic',
  }
}

/**
 * An enhanced scanning finding: the vulnerability and its first vulnerable package. Only ACTIVE
 * ones count (Inspector's SUPPRESSED and CLOSED do not): undefined for the others.
 */
export function enhancedFinding(finding: EnhancedImageScanFinding): Finding | undefined {
  if (finding.status !== undefined && finding.status.toUpperCase() !== 'ACTIVE') return undefined
  const details = finding.packageVulnerabilityDetails
  const pkg = details?.vulnerablePackages?.[0]
  return {
    id: details?.vulnerabilityId ?? finding.title ?? finding.findingArn ?? '(unnamed)',
    severity: severityOf(finding.severity),
    package: pkg?.name ?? null,
    version: pkg?.version ?? null,
    fixedIn:
      pkg?.fixedInVersion === undefined || pkg.fixedInVersion === 'NotAvailable' ? null : pkg.fixedInVersion,
    scanning: 'enhanced',
  }
}

/** Every page of the image's findings; undefined when no scan exists (ScanNotFoundException). */
export async function scanFindings(
  api: EcrApi,
  repository: string,
  digest: string,
  registryId: string | undefined,
  signal?: AbortSignal,
): Promise<ScanFindings | undefined> {
  const {DescribeImageScanFindingsCommand} = await ecrModule()
  const client = await api.client()
  const findings: Finding[] = []
  let status = 'UNKNOWN'
  let description: string | null = null
  let nextToken: string | undefined
  do {
    let out
    try {
      out = await client.send(
        new DescribeImageScanFindingsCommand({
          repositoryName: repository,
          imageId: {imageDigest: digest},
          ...(registryId === undefined ? {} : {registryId}),
          ...(nextToken === undefined ? {} : {nextToken}),
          maxResults: 1000,
        }),
        api.options(signal),
      )
    } catch (error) {
      if (errorName(error) === 'ScanNotFoundException') return undefined
      throw api.fail(
        error,
        'ecr:DescribeImageScanFindings',
        `Reading the scan findings of ${repository}@${digest} (DescribeImageScanFindings)`,
      )
    }
    status = out.imageScanStatus?.status ?? status
    description = out.imageScanStatus?.description ?? description
    const page = out.imageScanFindings
    for (const each of page?.findings ?? []) findings.push(basicFinding(each))
    for (const each of page?.enhancedFindings ?? []) {
      const finding = enhancedFinding(each)
      if (finding !== undefined) findings.push(finding)
    }
    nextToken = out.nextToken
  } while (nextToken !== undefined && nextToken !== '')
  return {status, description, findings}
}

/** Ask ECR to scan the image (basic scanning without scan on push); its status as answered. */
export async function startScan(
  api: EcrApi,
  repository: string,
  digest: string,
  registryId: string | undefined,
  signal?: AbortSignal,
): Promise<string> {
  const {StartImageScanCommand} = await ecrModule()
  const client = await api.client()
  try {
    const out = await client.send(
      new StartImageScanCommand({
        repositoryName: repository,
        imageId: {imageDigest: digest},
        ...(registryId === undefined ? {} : {registryId}),
      }),
      api.options(signal),
    )
    return out.imageScanStatus?.status ?? 'IN_PROGRESS'
  } catch (error) {
    // A type of image ECR does not scan: the same answer as the scan's own status.
    if (errorName(error) === 'UnsupportedImageTypeException') return 'UNSUPPORTED_IMAGE'
    throw api.fail(error, 'ecr:StartImageScan', `Starting a scan of ${repository}@${digest} (StartImageScan)`)
  }
}
