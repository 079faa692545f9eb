import {existsSync, readFileSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {modelTagsOfBentoYaml} from '../content-digest.js'
import {CheckError} from '../errors.js'
import {type ChildResult, runChild} from '../process.js'
import {
  type BentoInfo,
  jsonFromOutput,
  mlflowFromModel,
  parseBentoInfo,
  provenanceLabels,
} from '../provenance.js'
import {SecretRegistry} from '../secrets.js'
import {bentoGetArgs, bentomlEnv, modelGetArgs} from './bentoml.js'
import {gitRemoteUrl, gitRevision} from './git-provenance.js'
import type {PythonCommand} from './python.js'

/**
 * Read-only lookups in the local BentoML store (`bentoml get`, `bentoml models get`, JSON output),
 * and the gathering of every provenance label input. Run in the target folder with the project's
 * Python, as import/build/containerize are.
 */

/** One bentoml command in the target folder with the project's Python: its exit and printed lines. */
async function runBentoml(
  python: PythonCommand,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<ChildResult & {lines: string[]}> {
  const lines: string[] = []
  const result = await runChild({
    command: python.command,
    args: [...python.prefix, ...args],
    cwd,
    baseEnv: env,
    env: {...python.env, ...bentomlEnv()},
    secrets: new SecretRegistry(),
    onLine: (line) => lines.push(line),
    timeoutMs: 120_000,
    ...(signal === undefined ? {} : {signal}),
  })
  return {...result, lines}
}

async function bentomlJson(
  python: PythonCommand,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<unknown> {
  const {lines, ...result} = await runBentoml(python, args, cwd, env, signal)
  if (result.exitCode !== 0)
    throw new CheckError('bentoml-store', `bentoml ${args.slice(2, 4).join(' ')} failed.`, {
      detail: result.tail.join('\n'),
    })
  try {
    return jsonFromOutput(lines)
  } catch (error) {
    throw new CheckError('bentoml-store', `bentoml ${args.slice(2, 4).join(' ')} printed no JSON.`, {
      detail: `${(error as Error).message}\n${result.tail.join('\n')}`,
    })
  }
}

export async function readBentoInfo(
  python: PythonCommand,
  bentoTag: string,
  cwd: string,
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<BentoInfo> {
  return parseBentoInfo(await bentomlJson(python, bentoGetArgs(bentoTag), cwd, env, signal))
}

export async function readModelMlflow(
  python: PythonCommand,
  modelTag: string,
  cwd: string,
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<{runId?: string; modelUri?: string}> {
  return mlflowFromModel(await bentomlJson(python, modelGetArgs(modelTag), cwd, env, signal))
}

/**
 * Every label for `bentoml containerize --opt label=K=V`, ready for `containerizeOptions`. For the
 * containerize step, after build (the bento tag is known). Also returns the bento's info, which the
 * SageMaker rules use (routes, port).
 */
export async function collectProvenance(options: {
  python: PythonCommand
  bentoTag: string
  target: {name: string; dir: string}
  env: Record<string, string>
  mldeployVersion: string
  now?: Date
  signal?: AbortSignal
}): Promise<{labels: Record<string, string>; bento: BentoInfo; problems: string[]}> {
  const {python, bentoTag, target, env, signal} = options
  // Each source is best effort: a store that cannot be read still leaves the git labels.
  const problems: string[] = []
  let bento: BentoInfo
  try {
    bento = await readBentoInfo(python, bentoTag, target.dir, env, signal)
  } catch (error) {
    problems.push((error as Error).message)
    bento = {tag: bentoTag, models: [], routes: []}
  }
  const origins = []
  for (const model of bento.models)
    origins.push(await readModelMlflow(python, model, target.dir, env, signal))
  const revision = await gitRevision(target.dir, env, signal)
  const source = await gitRemoteUrl(target.dir, env, signal)
  const labels = provenanceLabels({
    created: options.now ?? new Date(),
    ...(revision === undefined ? {} : {revision}),
    ...(source === undefined ? {} : {source}),
    bentoTag,
    target: target.name,
    models: bento.models,
    mlflow: {
      runIds: origins.map((origin) => origin.runId ?? ''),
      modelUris: origins.map((origin) => origin.modelUri ?? ''),
    },
    mldeployVersion: options.mldeployVersion,
  })
  return {labels, bento, problems}
}

/** Replaced by the bundle (scripts/bundle.mjs) with package.json's version; absent under tsc. */
declare const MLDEPLOY_BUNDLED_VERSION: string | undefined

/**
 * mldeploy's own version: baked into the bundle, else package.json two folders up from
 * src/systems and dist-tsc/systems (from the bundle's dist/ that is outside the package).
 */
export function mldeployVersion(): string {
  if (typeof MLDEPLOY_BUNDLED_VERSION === 'string') return MLDEPLOY_BUNDLED_VERSION
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string
    }
    return pkg.version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

// --- content digest (issue 12) ---

/** `bentoml get <tag> -o path`: the bento's folder in the store (read-only). */
export function bentoPathArgs(bentoTag: string): string[] {
  return ['-m', 'bentoml', 'get', bentoTag, '-o', 'path']
}

/**
 * The bento's folder and its models' folders in the BentoML store: `bentoml get -o path` names the
 * bento's (`<home>/bentos/<name>/<version>`); the models sit in the same store,
 * `<home>/models/<name>/<version>`, as bento.yaml names them.
 */
export async function locateBento(options: {
  python: PythonCommand
  bentoTag: string
  cwd: string
  env: Record<string, string>
  signal?: AbortSignal
}): Promise<{bentoDir: string; models: Array<{tag: string; dir: string}>}> {
  const {python, bentoTag, cwd, env, signal} = options
  const {lines, ...result} = await runBentoml(python, bentoPathArgs(bentoTag), cwd, env, signal)
  const bentoDir = lines.map((line) => line.trim()).findLast((line) => path.isAbsolute(line))
  if (result.exitCode !== 0 || bentoDir === undefined || !existsSync(path.join(bentoDir, 'bento.yaml')))
    throw new CheckError('bentoml-store', `bentoml get ${bentoTag} -o path named no bento folder.`, {
      detail: result.tail.join('\n'),
    })
  const home = path.dirname(path.dirname(path.dirname(bentoDir)))
  const yaml = await readFile(path.join(bentoDir, 'bento.yaml'), 'utf8')
  const models = modelTagsOfBentoYaml(yaml).map((tag) => {
    const [name = '', version = ''] = tag.split(':')
    return {tag, dir: path.join(home, 'models', name, version)}
  })
  for (const model of models)
    if (!existsSync(path.join(model.dir, 'model.yaml')))
      throw new CheckError(
        'bentoml-store',
        `Model ${model.tag} of bento ${bentoTag} is not in the BentoML store (${model.dir}).`,
        {hint: 'Import the model again (run without --bento-version, or check BENTOML_HOME).'},
      )
  return {bentoDir, models}
}
