import {appendFileSync} from 'node:fs'

/**
 * GitHub Actions integration: step outputs (GITHUB_OUTPUT), the job summary (GITHUB_STEP_SUMMARY)
 * and `::error` annotations. Pure formatters plus two small file writers; everything written
 * passes through the caller's `redact` (the run's SecretRegistry), so no secret reaches a file.
 */
export interface GithubEnv {
  GITHUB_OUTPUT?: string | undefined
  GITHUB_STEP_SUMMARY?: string | undefined
  GITHUB_ACTIONS?: string | undefined
}

export type Redact = (text: string) => string

/** The fields of a push or promote result (success or failure) that CI wants. */
export interface ActionsResult {
  status: string
  target: string
  images?: readonly string[]
  /** What reached the registry; a failed result's summary lists these instead of `images`. */
  pushed?: readonly string[]
  digest?: string | null
  imageByDigest?: string | null
  bentoTag?: string | null
  steps?: ReadonlyArray<{id: string; status: string; durationMs?: number}>
  error?: {kind: string; message: string; hint?: string}
  /** Everything the run warned about, as --json lists it. */
  warnings?: readonly string[]
  /** push --deploy, promote --deploy: the endpoint (its outputs are deploy's). */
  deploy?: {
    status: string
    endpoint: {name: string; arn: string | null; status: string | null}
    endpointConfig: {name: string}
    image: {reference: string; digest: string | null}
    changed: boolean
  } | null
  /** Issue 25: the scan gate's verdict. */
  scan?: {
    verdict: string
    threshold: string | null
    status: string | null
    counts: Readonly<Record<string, number>>
    top: ReadonlyArray<{id: string; severity: string; package: string | null; fixedIn: string | null}>
    allowed: readonly unknown[]
    expired: readonly unknown[]
  }
}

/** `::error` data: %, CR and LF escaped as GitHub's toolkit does (actions/toolkit command.ts). */
export function escapeData(value: string): string {
  return value.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

/** Property values (title=...) also escape ':' and ','. */
export function escapeProperty(value: string): string {
  return escapeData(value).replace(/:/g, '%3A').replace(/,/g, '%2C')
}

/** The step an error kind belongs to (exit-code classes, see errors.ts). */
const STEP_OF_KIND: Record<string, string> = {
  usage: 'usage',
  preflight: 'preflight',
  import: 'import',
  build: 'build',
  containerize: 'containerize',
  auth: 'login',
  push: 'push',
  scan: 'scan',
  interruptedSighup: 'interrupted',
  interruptedSigint: 'interrupted',
  interruptedSigterm: 'interrupted',
  internal: 'internal error',
}

/**
 * `::error title=mldeploy <step>::<message>` for an error (a DeployError or a result's `error`).
 * `step` overrides the step named after the error's kind (e.g. the result's failed step).
 */
export function annotationFor(
  error: {kind?: string; message: string; hint?: string | undefined},
  step?: string,
): string {
  const where = step ?? STEP_OF_KIND[error.kind ?? 'internal'] ?? error.kind ?? 'error'
  const message = error.hint === undefined ? error.message : `${error.message} ${error.hint}`
  return `::error title=${escapeProperty(`mldeploy ${where}`)}::${escapeData(message)}`
}

/** The step outputs of one result: `name` → value (absent values left out). */
export function stepOutputs(result: ActionsResult): Array<[string, string]> {
  const outputs: Array<[string, string]> = []
  const images = result.images ?? []
  if (images[0] !== undefined) outputs.push(['image', images[0]])
  if (result.imageByDigest) outputs.push(['image-by-digest', result.imageByDigest])
  if (result.digest) outputs.push(['digest', result.digest])
  if (result.bentoTag) outputs.push(['bento-tag', result.bentoTag])
  outputs.push(['images', JSON.stringify(images)])
  outputs.push(['status', result.status])
  const {deploy} = result
  if (deploy !== undefined && deploy !== null)
    outputs.push(...endpointOutputs(deploy), ['deploy-status', deploy.status])
  return outputs
}

/** What a deploy did, as a result's `deploy` block (push --deploy, promote --deploy) or deploy's own result. */
export type EndpointBlock = NonNullable<ActionsResult['deploy']>

/** The endpoint's step outputs, the same for `mldeploy deploy` and push/promote --deploy. */
export function endpointOutputs(deploy: EndpointBlock): Array<[string, string]> {
  return [
    ['endpoint-name', deploy.endpoint.name],
    ['endpoint-arn', deploy.endpoint.arn ?? ''],
    ['endpoint-status', deploy.endpoint.status ?? ''],
    ['endpoint-config', deploy.endpointConfig.name],
    ['changed', String(deploy.changed)],
  ]
}

/** The endpoint's entry of the job summary: `<endpoint> (<status>) <- <image>`. */
export function endpointEntry(
  target: string,
  deploy: EndpointBlock,
  steps: ActionsResult['steps'],
): ActionsResult {
  return {
    status: deploy.status,
    target,
    images: [`${deploy.endpoint.name} (${deploy.endpoint.status ?? '?'}) <- ${deploy.image.reference}`],
    digest: deploy.image.digest,
    ...(steps === undefined ? {} : {steps}),
  }
}

/**
 * GITHUB_OUTPUT file syntax: `name=value`, or `name<<DELIM` … `DELIM` for a value with a line
 * break, with a random delimiter that the value cannot contain (as actions/toolkit does).
 */
export function formatOutputs(
  outputs: ReadonlyArray<[string, string]>,
  delimiter = randomDelimiter(),
): string {
  return outputs
    .map(([name, value]) => {
      if (!/[\r\n]/.test(value)) return `${name}=${value}\n`
      if (value.includes(delimiter)) throw new Error(`The value of output ${name} contains its delimiter.`)
      return `${name}<<${delimiter}\n${value}\n${delimiter}\n`
    })
    .join('')
}

function randomDelimiter(): string {
  // The global Web Crypto: node:crypto itself costs ~20 ms of start-up to every command.
  return `ghadelimiter_${globalThis.crypto.randomUUID()}`
}

/** Append the result's outputs to $GITHUB_OUTPUT when it is set; returns whether it wrote. */
export function writeStepOutputs(env: GithubEnv, result: ActionsResult, redact: Redact): boolean {
  return writeOutputs(env, stepOutputs(result), redact)
}

/** Append any outputs to $GITHUB_OUTPUT when it is set; returns whether it wrote. */
export function writeOutputs(
  env: GithubEnv,
  outputs: ReadonlyArray<[string, string]>,
  redact: Redact,
): boolean {
  const file = env.GITHUB_OUTPUT
  if (file === undefined || file === '') return false
  const redacted = outputs.map(([name, value]): [string, string] => [name, redact(value)])
  appendFileSync(file, formatOutputs(redacted))
  return true
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`
}

/** Inside a Markdown table cell: no pipes or line breaks. */
function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|')
}

/** Inside `code`: a backtick would close it. */
function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``
}

/** A short Markdown summary: one section per target (images, digest, step times; the error if it failed). */
export function formatStepSummary(results: readonly ActionsResult[], command = 'push'): string {
  const lines: string[] = []
  const failed = results.filter((result) => result.status === 'failed').length
  lines.push(
    `### mldeploy ${command}: ${results.length - failed} of ${results.length} target${results.length === 1 ? '' : 's'} ok${failed > 0 ? `, ${failed} failed` : ''}`,
    '',
  )
  for (const result of results) {
    const ok = result.status !== 'failed'
    lines.push(`#### ${ok ? '✅' : '❌'} ${cell(result.target)} (${cell(result.status)})`, '')
    if (!ok && result.error !== undefined) {
      const step =
        result.steps?.find((each) => each.status === 'failed')?.id ?? STEP_OF_KIND[result.error.kind]
      const message =
        result.error.hint === undefined
          ? result.error.message
          : `${result.error.message} ${result.error.hint}`
      lines.push(`> **${cell(step ?? result.error.kind)}**: ${cell(message)}`, '')
    }
    const rows: Array<[string, string]> = []
    // A failed run's planned references may hold placeholders (<bento-version>): show what it did push.
    const images = ok ? (result.images ?? []) : (result.pushed ?? [])
    for (const image of images) rows.push([ok ? 'image' : 'pushed', code(image)])
    if (result.imageByDigest) rows.push(['by digest', code(result.imageByDigest)])
    if (result.digest) rows.push(['digest', code(result.digest)])
    if (result.bentoTag) rows.push(['bento', code(result.bentoTag)])
    if (rows.length > 0) {
      lines.push('| | |', '|---|---|')
      for (const [key, value] of rows) lines.push(`| ${key} | ${cell(value)} |`)
      lines.push('')
    }
    lines.push(...scanSummary(result.scan))
    const steps = result.steps ?? []
    if (steps.length > 0) {
      lines.push(
        `Steps: ${steps.map((step) => `${step.id} ${step.status === 'done' ? seconds(step.durationMs) : step.status}`).join(' · ')}`,
        '',
      )
    }
    const warnings = result.warnings ?? []
    if (warnings.length > 0) {
      lines.push('Warnings:', '')
      for (const warning of warnings) lines.push(`- ⚠️ ${warning.replace(/\r?\n/g, ' ')}`)
      lines.push('')
    }
  }
  return `${lines.join('\n')}\n`
}

/** Issue 25: the scan gate's verdict, the counts per severity and the findings that failed it. */
function scanSummary(scan: ActionsResult['scan']): string[] {
  if (scan === undefined || scan.verdict === 'skipped') return []
  const counts = Object.entries(scan.counts)
    .filter(([, count]) => count > 0)
    .map(([severity, count]) => `${severity} ${count}`)
  const countsText = counts.length === 0 ? 'no findings' : counts.join(', ')
  if (scan.verdict === 'reported') return [`Scan ${scan.status ?? ''}: ${countsText} (no gate)`, '']
  const icon = scan.verdict === 'passed' ? '✅' : '❌'
  const lines = [
    `Scan gate ${icon} **${scan.verdict}** (max severity ${scan.threshold ?? '-'}): ${countsText}; ${scan.allowed.length} allowed, ${scan.expired.length} expired allow-list entr${scan.expired.length === 1 ? 'y' : 'ies'}`,
    '',
  ]
  if (scan.top.length > 0) {
    lines.push('| finding | severity | package | fixed in |', '|---|---|---|---|')
    for (const each of scan.top)
      lines.push(
        `| ${cell(each.id)} | ${each.severity} | ${cell(each.package ?? '-')} | ${cell(each.fixedIn ?? '-')} |`,
      )
    lines.push('')
  }
  return lines
}

/** Append the summary to $GITHUB_STEP_SUMMARY when it is set; returns whether it wrote. */
export function appendStepSummary(
  env: GithubEnv,
  results: readonly ActionsResult[],
  redact: Redact,
  command = 'push',
): boolean {
  const file = env.GITHUB_STEP_SUMMARY
  if (file === undefined || file === '') return false
  appendFileSync(file, redact(formatStepSummary(results, command)))
  return true
}

/** Whether `::error` annotations should be printed. */
export function inGithubActions(env: GithubEnv): boolean {
  return env.GITHUB_ACTIONS === 'true'
}

/** push --deploy, promote --deploy: the endpoint's entry of the job summary, as mldeploy deploy writes its own. */
export function endpointSummary(result: ActionsResult): ActionsResult[] {
  const {deploy} = result
  if (deploy === undefined || deploy === null) return []
  return [
    endpointEntry(
      result.target,
      deploy,
      (result.steps ?? []).filter((step) => step.id.startsWith('deploy-')),
    ),
  ]
}
