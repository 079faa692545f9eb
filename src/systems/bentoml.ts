import {stripVTControlCharacters} from 'node:util'

/**
 * What mldeploy knows about the bentoml CLI: its arguments and how to read its output. Always run
 * as `<python> -m bentoml` so it is the bentoml of the environment that imported the model.
 */
export const MIN_BENTOML_VERSION = '1.4.25'

// Name and version each: lowercase alphanumerics with . _ - inside, at most 63 characters.
const TAG_PART = '[a-z0-9](?:[-._a-z0-9]{0,61}[a-z0-9])?'
export const BENTO_TAG = new RegExp(`^${TAG_PART}:${TAG_PART}$`)
export const BENTO_VERSION = new RegExp(`^${TAG_PART}$`)

/** What every `-o tag` line holds: output without it has no tag line (ANSI is removed first). */
export const TAG_MARK = '__tag__:'
const TAG_LINE = /^__tag__:(\S+)\s*$/
const SUCCESS = /Successfully\s*built\s*Bento\(tag="([^"]+)"\)/

/**
 * Environment for every bentoml call: a huge COLUMNS keeps rich from wrapping the tag, no
 * FORCE_COLOR keeps it in one span, and no usage-stats request (a 1 s wait on closed networks).
 */
export function bentomlEnv(): Record<string, string> {
  return {COLUMNS: '10000', BENTOML_DO_NOT_TRACK: 'true', NO_COLOR: '1', PYTHONUNBUFFERED: '1'}
}

export function buildArgs(bentoVersion?: string): string[] {
  const args = ['-m', 'bentoml', 'build', '-o', 'tag']
  if (bentoVersion !== undefined) args.push('--version', bentoVersion)
  return args
}

export function containerizeArgs(
  bentoTag: string,
  backend: string,
  images: readonly string[],
  platform?: string,
): string[] {
  const args = ['-m', 'bentoml', 'containerize', bentoTag, '--backend', backend]
  for (const image of images) args.push('-t', image)
  if (platform !== undefined) args.push('--opt', `platform=${platform}`)
  return args
}

// --- image format and labels (issue 11) ---

/**
 * Extra `bentoml containerize` options: labels (`--opt label=K=V`, which bentoml turns into the
 * backend's `--label K=V`, for podman and docker alike: its opt parser splits at the first `=`),
 * and for docker with BuildKit no provenance/SBOM attestations, so the push is a plain
 * single-platform image and never an index (docker/buildx#1533); bentoml passes unknown options
 * through as `--provenance false`. The classic builder rejects those flags, so they go only with
 * buildx.
 */
export function containerizeOptions(options: {
  labels?: Record<string, string>
  dockerBuildx?: boolean
}): string[] {
  const args: string[] = []
  for (const [key, value] of Object.entries(options.labels ?? {})) args.push('--opt', `label=${key}=${value}`)
  if (options.dockerBuildx === true) args.push('--opt', 'provenance=false', '--opt', 'sbom=false')
  return args
}

/** `bentoml get <tag> -o json` and `bentoml models get <tag> -o json` (read-only store lookups). */
export function bentoGetArgs(bentoTag: string): string[] {
  return ['-m', 'bentoml', 'get', bentoTag, '-o', 'json']
}

export function modelGetArgs(modelTag: string): string[] {
  return ['-m', 'bentoml', 'models', 'get', modelTag, '-o', 'json']
}

// --- end image format and labels ---

/** A line `__tag__:<name>:<version>` from `bentoml build -o tag`, or undefined. */
export function tagFromLine(line: string): string | undefined {
  const match = TAG_LINE.exec(stripVTControlCharacters(line).trim())
  const tag = match?.[1]
  return tag !== undefined && BENTO_TAG.test(tag) ? tag : undefined
}

/**
 * The bento tag from `bentoml build` output: the `__tag__:` line when present (the service's own
 * prints may surround it), else the `Successfully built Bento(tag="...")` line, which rich may have
 * coloured or wrapped across lines.
 */
export function parseBuildTag(output: string): string | undefined {
  const clean = stripVTControlCharacters(output)
  const lines = clean.split(/\r?\n/)
  for (let i = lines.length - 1; i >= 0; i--) {
    const tag = tagFromLine(lines[i] ?? '')
    if (tag !== undefined) return tag
  }
  // rich breaks long lines at the terminal width: join the lines back before matching.
  const joined = lines.map((line) => line.trim()).join('')
  const matches = [...joined.matchAll(new RegExp(SUCCESS, 'g'))]
  const tag = matches.at(-1)?.[1]
  return tag !== undefined && BENTO_TAG.test(tag) ? tag : undefined
}

export function splitBentoTag(tag: string): {name: string; version: string} {
  const index = tag.indexOf(':')
  return {name: tag.slice(0, index), version: tag.slice(index + 1)}
}

/** `a.b.c` comparison of dotted numeric versions (pre-release suffixes ignored). */
export function versionAtLeast(actual: string, minimum: string): boolean {
  const parts = (v: string): number[] =>
    v
      .split(/[.+-]/)
      .slice(0, 3)
      .map((p) => Number.parseInt(p, 10) || 0)
  const a = parts(actual)
  const m = parts(minimum)
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (m[i] ?? 0)) return (a[i] ?? 0) > (m[i] ?? 0)
  }
  return true
}

/** Python code that prints bentoml's installed version without importing bentoml (which is slow). */
export const BENTOML_VERSION_PROBE = 'import importlib.metadata as m; print(m.version("bentoml"))'

export type BentomlVerdict =
  {ok: true; version: string} | {ok: false; message: string; hint: string; detail?: string; version?: string}

/**
 * What the version probe's output says about bentoml in that Python: missing, too old, or fine.
 * The preflight and doctor both judge the probe with this.
 */
export function judgeBentomlProbe(
  pythonDescription: string,
  probe: {exitCode: number | undefined; tail: string[]},
): BentomlVerdict {
  const version = probe.tail.at(-1)?.trim() ?? ''
  if (probe.exitCode !== 0 || !/^\d+\.\d+/.test(version)) {
    return {
      ok: false,
      message: `bentoml is not installed in ${pythonDescription}.`,
      hint: `Install it in that environment (pip install "bentoml>=${MIN_BENTOML_VERSION}") or pick another with --python.`,
      detail: probe.tail.join('\n'),
    }
  }
  if (!versionAtLeast(version, MIN_BENTOML_VERSION)) {
    return {
      ok: false,
      message: `bentoml ${version} in ${pythonDescription} is older than ${MIN_BENTOML_VERSION}.`,
      hint: `Upgrade it (pip install -U "bentoml>=${MIN_BENTOML_VERSION}"): older versions break containerize.`,
      version,
    }
  }
  return {ok: true, version}
}
