import {type DeployError} from '../errors.js'
import {imageReference} from '../images.js'
import {type DescribedStep, describePlan, newRun, runPlans, type StepRecord} from '../pipeline/engine.js'
import type {IoHost} from '../pipeline/io-host.js'
import {chainedEndpointBlock, type EndpointBlock, formatEndpointLine} from '../pipeline/endpoint-state.js'
import type {PromotedTag, PromoteState, TagChange} from './promote-state.js'
import {type CopyReport, failedSide} from './promote-copy.js'
import {promotePlans} from './promote-steps.js'
import {formatCounts, type ScanReport, scanResult} from '../scan-findings.js'

export {
  type PromoteConfig,
  type PromotedTag,
  type PromoteFlags,
  PromoteState,
  preparePromote,
  resolvePromoteConfig,
  type TagChange,
} from './promote-state.js'
export {PROMOTE_CHECKS, PROMOTE_COPY_CHECKS, PROMOTE_COPY_PLAN, PROMOTE_PLAN} from './promote-steps.js'
export type {CopyReport} from './promote-copy.js'

export interface PromoteResult {
  status: 'promoted' | 'unchanged' | 'planned'
  dryRun: boolean
  target: string
  account: string | null
  region: string
  registry: string
  repository: string
  from: {tag: string; reference: string; digest: string | null}
  /** The image every --to tag now points at (the --from digest). */
  digest: string | null
  imageByDigest: string | null
  /** `<registry>/<repository>:<to>` for every --to tag, in order. */
  images: string[]
  /** Always null: promote works on images, not bentos (kept for the same shape as push's result). */
  bentoTag: null
  tags: PromotedTag[]
  settings: Record<string, {value: unknown; source: string}>
  envFiles: string[]
  warnings: string[]
  steps: StepRecord[]
  /** A dry run: what the steps that change tags would do. */
  plan?: DescribedStep[]
  /**
   * With --to-registry: the destination (where `images`, `imageByDigest` and the --to tags are),
   * what it lacked and what this run sent; `registry` and `from` stay the source's.
   */
  copy?: CopyReport
  /** Issue 25: the scan gate's verdict on the --from image (`skipped` without --max-severity). */
  scan: ScanReport
  /** Issue 24 §3, promote --deploy: the endpoint the promoted image was deployed to (null without). */
  deploy: EndpointBlock | null
}

/**
 * Point every --to tag at the image --from names, with no build and no upload. A dry run walks
 * the read-only steps only (STS GetCallerIdentity, ECR DescribeRepositories and DescribeImages)
 * and describes the rest; it fails where the real run would fail before changing anything.
 */
export async function promote(
  state: PromoteState,
  options: {host: IoHost; signal: AbortSignal},
): Promise<{result: PromoteResult; failure: DeployError | undefined}> {
  const {checks, plan: whole} = promotePlans(state)
  const plan = state.config.push.dryRun ? checks : whole
  const run = newRun(plan, state)
  try {
    await runPlans(plan, [run], options)
  } finally {
    state.aws.close()
    state.copy?.aws.close()
  }
  if (state.copy !== undefined && run.failure !== undefined) state.copy.failedSide = failedSide(run.failure)
  return {result: promoteResult(state, run.steps), failure: run.failure}
}

export function promoteResult(state: PromoteState, steps: StepRecord[]): PromoteResult {
  const {push} = state.config
  const settings: PromoteResult['settings'] = {repository: push.repository, region: state.region}
  if (push.profile !== undefined) settings.profile = push.profile
  if (state.account !== undefined) settings.account = state.account
  if (push.registry !== undefined) settings.registry = push.registry
  if (push.stage !== undefined) settings.stage = {value: push.stage, source: 'flag --stage or MLDEPLOY_STAGE'}
  const host = state.registry.value
  const digest = state.digest
  // The --to tags live where the image was copied to, if it was.
  const toHost = state.copy?.registry.value ?? host
  const toRepository = state.copy?.repository ?? state.repository
  const tags = state.tags.map((each) => ({
    ...each,
    reference: imageReference(toHost, toRepository, each.tag),
  }))
  const {checks, plan} = promotePlans(state)
  return {
    status: push.dryRun
      ? 'planned'
      : tags.every((each) => each.change === 'unchanged')
        ? 'unchanged'
        : 'promoted',
    dryRun: push.dryRun,
    target: push.target.name,
    account: state.account?.value ?? null,
    region: state.region.value,
    registry: host,
    repository: state.repository,
    from: {
      tag: state.config.from,
      reference: imageReference(host, state.repository, state.config.from),
      digest: digest ?? null,
    },
    digest: digest ?? null,
    imageByDigest: digest === undefined ? null : `${toHost}/${toRepository}@${digest}`,
    images: tags.map((each) => each.reference),
    bentoTag: null,
    tags,
    settings,
    envFiles: push.envFiles,
    warnings: state.warnings,
    steps,
    scan: scanResult(state.scan, push.scanGate?.threshold.value, push.dryRun),
    deploy: state.endpointDeploy === undefined ? null : chainedEndpointBlock(state.endpointDeploy, steps),
    ...(push.dryRun ? {plan: describePlan(plan.slice(checks.length), state)} : {}),
    ...(state.copy === undefined ? {} : {copy: state.copy.report()}),
  }
}

const CHANGE_WORDS: Record<TagChange, [done: string, planned: string]> = {
  created: ['created', 'would be created'],
  moved: ['moved', 'would move'],
  unchanged: ['unchanged (already there)', 'unchanged (already there)'],
  unknown: ['?', 'unknown (see the warning)'],
}

export function formatPromote(result: PromoteResult): string {
  const short = (digest: string | null): string => digest ?? '(none)'
  const lines: string[] = []
  const head = result.dryRun
    ? `Promotion plan for ${result.target} (dry run: nothing was changed)`
    : result.status === 'unchanged'
      ? `Nothing to promote for ${result.target}: every tag already points at the image of ${result.from.tag}`
      : `Promoted ${result.target}: ${result.from.tag} -> ${result.tags.map((each) => each.tag).join(', ')}`
  lines.push(head)
  lines.push(`  from  ${result.from.reference}`)
  lines.push(`        = ${result.digest ?? '<digest unknown>'}`)
  if (result.copy !== undefined) lines.push(`  copy  ${copyLine(result.copy, result.dryRun)}`)
  const width = Math.max(...result.tags.map((each) => each.tag.length))
  for (const each of result.tags) {
    const word = CHANGE_WORDS[each.change][result.dryRun ? 1 : 0]
    const arrow =
      each.change === 'created' || each.change === 'moved'
        ? `  ${short(each.previousDigest)} -> ${result.digest ?? '?'}`
        : ''
    lines.push(`  to    ${each.tag.padEnd(width)}  ${word}${arrow}`)
  }
  if (result.imageByDigest !== null) lines.push(`  ${result.imageByDigest}`)
  if (result.scan.verdict === 'reported')
    lines.push(`  scan  ${result.scan.status}: ${formatCounts(result.scan.counts)} (no gate)`)
  else if (result.scan.verdict !== 'skipped')
    lines.push(
      `  scan gate ${result.scan.verdict} (max severity ${result.scan.threshold ?? '-'}): ${formatCounts(result.scan.counts)}`,
    )
  if (result.deploy !== null) lines.push(`  ${formatEndpointLine(result.deploy)}`)
  return lines.join('\n')
}

function mib(bytes: number | null): string {
  return bytes === null ? '?' : (bytes / 1024 ** 2).toFixed(1)
}

/** `-> <registry>/<repository>: ...` what the copy sent (or would send). */
function copyLine(copy: CopyReport, dryRun: boolean): string {
  const into = `-> ${copy.registry}/${copy.repository}`
  if (copy.blobs === null || copy.missingBlobs === null) return `${into}: what is missing there is unknown`
  if (dryRun)
    return `${into}: would send ${copy.missingBlobs} of ${copy.blobs} blob(s) (${mib(copy.missingBytes)} of ${mib(copy.bytes)} MiB), then ${copy.manifests} manifest(s)`
  return `${into}: ${copy.uploadedBlobs} of ${copy.blobs} blob(s) sent (${mib(copy.uploadedBytes)} of ${mib(copy.bytes)} MiB), ${copy.mountedBlobs} mounted, ${copy.blobs - copy.missingBlobs} already there`
}
