import type {DeployTarget, ImageFormat} from './config/image-settings.js'
import {configDigest, type ImageFacts, imageFacts, isIndex, parseManifest, platformOf} from './image-facts.js'
import type {ImageManifest, ImageSource} from './systems/image-source.js'
import {
  ADAPTER_API_LABEL,
  ADAPTER_DIR,
  ADAPTER_FILE,
  ADAPTER_LABEL,
  ADAPTER_ROUTE_LABEL,
  SAGEMAKER_PORT,
} from './systems/sagemaker-adapter.js'

/**
 * Where an image is meant to run, and whether what was pushed can run there. Each rule names its
 * source; the README's "Deploy targets" section lists them. `any` has no rules.
 */
export interface RuleResult {
  rule: string
  /** `format`: what the registry holds (manifest type, platform); `contract`: what the container does. */
  kind: 'format' | 'contract'
  ok: boolean
  message: string
  fix?: string
}

/** What the bento says about its HTTP surface (from `bentoml get <tag> -o json`), when known. */
export interface BentoApis {
  /** Every route the service serves, e.g. `/predict`, and mounted apps' paths. */
  routes: string[]
  /** The service's configured `http.port`, when it sets one. */
  port?: number
}

/** BentoML's default HTTP port (`BENTOML_PORT`), what the 1.4 Dockerfile template EXPOSEs. */
const BENTOML_DEFAULT_PORT = 3000
/** The 1.4 template's ENTRYPOINT: turns `serve` into `bentoml serve $BENTO_PATH`, honours `PORT`. */
const BENTOML_ENTRYPOINT = /\/env\/docker\/entrypoint\.sh$/

function isBentoImage(facts: ImageFacts): boolean {
  return (facts.entrypoint ?? []).some((part) => BENTOML_ENTRYPOINT.test(part)) || 'BENTO_PATH' in facts.env
}

/** Issue 24: mldeploy's SageMaker adapter layer, as its label and its ENTRYPOINT say. */
function adapterOf(facts: ImageFacts): {sha: string; api: string; route: string} | undefined {
  const sha = facts.labels[ADAPTER_LABEL]
  const runsIt = (facts.entrypoint ?? []).some((part) => part === `${ADAPTER_DIR}/${ADAPTER_FILE}`)
  if (sha === undefined || !runsIt) return undefined
  return {sha, api: facts.labels[ADAPTER_API_LABEL] ?? '?', route: facts.labels[ADAPTER_ROUTE_LABEL] ?? '?'}
}

/** What a failed contract rule's fix says first for a BentoML image: the adapter does it. */
const ADAPTER_FIX =
  'Push with --deploy-target sagemaker and without --no-sagemaker-adapter: mldeploy adds its SageMaker adapter layer (serve, port 8080, /ping, /invocations, root). Or by hand:'

/** The port the container listens on when SageMaker starts it, as far as the image tells. */
function servingPort(facts: ImageFacts, apis: BentoApis | undefined): number | undefined {
  const fromEnv = (name: string): number | undefined => {
    const value = facts.env[name]
    return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined
  }
  if (isBentoImage(facts)) {
    // entrypoint.sh: PORT overrides BENTOML_PORT; otherwise the service config, else 3000.
    return fromEnv('PORT') ?? fromEnv('BENTOML_PORT') ?? apis?.port ?? BENTOML_DEFAULT_PORT
  }
  const exposed = facts.exposedPorts.map((port) => Number.parseInt(port, 10)).filter(Number.isFinite)
  return exposed.length === 1 ? exposed[0] : exposed.includes(SAGEMAKER_PORT) ? SAGEMAKER_PORT : undefined
}

/**
 * SageMaker real-time inference. Sources:
 * - Docker V2 schema 2 only: CreateModel refuses `application/vnd.oci.image.manifest.v1+json`
 *   (aws/amazon-sagemaker-feedback#180) and OCI indexes (mlflow/mlflow#13834; BuildKit's
 *   attestation indexes: docker/buildx#1533).
 * - linux/amd64: SageMaker's hosting instances (ml.* x86) run amd64 images; Graviton (ml.*g)
 *   instances need arm64, which mldeploy does not target.
 * - The contract, https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html:
 *   `docker run <image> serve`, an HTTP server on port 8080 answering `GET /ping` and
 *   `POST /invocations`, containers run as root.
 */
export function checkSageMaker(facts: ImageFacts, bentoApis?: BentoApis): RuleResult[] {
  const results: RuleResult[] = []
  const index = isIndex(facts.kind)
  results.push(
    facts.kind === 'docker-v2'
      ? {rule: 'docker-v2-manifest', kind: 'format', ok: true, message: 'Docker V2 schema 2 manifest.'}
      : {
          rule: 'docker-v2-manifest',
          kind: 'format',
          ok: false,
          message: index
            ? `The image is an index (${facts.mediaType}${(facts.manifests ?? []).some((m) => m.attestation) ? ', with attestation manifests' : ''}): SageMaker accepts a single Docker V2 schema 2 manifest only.`
            : `The manifest is ${facts.mediaType}: SageMaker refuses it ("Unsupported manifest media type").`,
          fix: index
            ? 'Push a single-platform image without attestations (mldeploy passes provenance=false, sbom=false to buildx).'
            : 'Push with --image-format docker (the default).',
        },
  )
  const platform = platformOf(facts)
  results.push(
    platform === 'linux/amd64'
      ? {rule: 'linux-amd64', kind: 'format', ok: true, message: 'Platform linux/amd64.'}
      : {
          rule: 'linux-amd64',
          kind: 'format',
          ok: false,
          message:
            platform === null
              ? 'The platform is unknown (an index, or a config without os/architecture): SageMaker runs linux/amd64 images.'
              : `The platform is ${platform}: SageMaker runs linux/amd64 images.`,
          fix: 'Build with --platform linux/amd64.',
        },
  )
  if (index) return results

  const bento = isBentoImage(facts)
  const entrypoint = facts.entrypoint ?? []
  const adapter = adapterOf(facts)
  if (adapter !== undefined) return [...results, ...adapterRules(facts, adapter)]
  results.push(
    bento
      ? {
          rule: 'starts-with-serve',
          kind: 'contract',
          ok: true,
          message: "`docker run <image> serve` runs BentoML's entrypoint, which starts `bentoml serve`.",
        }
      : entrypoint.length > 0
        ? {
            rule: 'starts-with-serve',
            kind: 'contract',
            ok: true,
            message: `\`serve\` is passed to the entrypoint ${JSON.stringify(entrypoint)}.`,
          }
        : {
            rule: 'starts-with-serve',
            kind: 'contract',
            ok: false,
            message:
              'The image has no ENTRYPOINT: SageMaker runs `serve` as the command, which only works if a `serve` executable is on PATH.',
            fix: 'Give the image an exec-form ENTRYPOINT that starts the server when passed `serve`.',
          },
  )

  const port = servingPort(facts, bentoApis)
  results.push(
    port === SAGEMAKER_PORT
      ? {rule: 'port-8080', kind: 'contract', ok: true, message: 'The server listens on port 8080.'}
      : {
          rule: 'port-8080',
          kind: 'contract',
          ok: false,
          message:
            port === undefined
              ? `The image does not say which port it serves on (exposed: ${facts.exposedPorts.join(', ') || 'none'}); SageMaker sends requests to port 8080.`
              : `The server listens on port ${port}${bento && port === BENTOML_DEFAULT_PORT ? " (BentoML's default)" : ''}; SageMaker sends requests to port 8080.`,
          fix: bento
            ? `${ADAPTER_FIX} set the service's port to 8080 (@bentoml.service(http={'port': 8080})), or PORT=8080 in the image's environment (bentoml.images.Image(...).env / bentofile docker.env).`
            : 'Make the server listen on 8080.',
        },
  )

  const routes = bentoApis?.routes
  const hasPing = routes?.includes('/ping') ?? false
  const hasInvocations = routes?.includes('/invocations') ?? false
  const missing = [
    hasPing ? undefined : 'GET /ping',
    hasInvocations ? undefined : 'POST /invocations',
  ].filter((route): route is string => route !== undefined)
  results.push(
    missing.length === 0
      ? {
          rule: 'ping-and-invocations',
          kind: 'contract',
          ok: true,
          message: 'The service has /ping and /invocations.',
        }
      : {
          rule: 'ping-and-invocations',
          kind: 'contract',
          ok: false,
          message:
            routes === undefined
              ? `The routes are unknown (the bento's APIs were not read)${bento ? ': a BentoML service serves /livez, /readyz and its own APIs, no /ping or /invocations unless it defines them' : ''}; SageMaker calls GET /ping and POST /invocations.`
              : `The service serves ${routes.join(', ') || 'no routes'}, not ${missing.join(' and ')}; SageMaker calls GET /ping and POST /invocations.`,
          fix: bento
            ? `${ADAPTER_FIX} add @bentoml.api(route='/invocations') for predictions and a GET /ping (e.g. a FastAPI app mounted with @bentoml.asgi_app) that answers 200.`
            : 'Serve GET /ping (200 when healthy) and POST /invocations.',
        },
  )

  const root = facts.user === null || facts.user === 'root' || facts.user === '0' || /^0:/.test(facts.user)
  results.push(
    root
      ? {rule: 'runs-as-root', kind: 'contract', ok: true, message: 'The container runs as root.'}
      : {
          rule: 'runs-as-root',
          kind: 'contract',
          ok: false,
          message: `The container runs as user ${facts.user}; SageMaker expects containers to run as root (other users can hit permission problems).`,
          fix: bento
            ? `${ADAPTER_FIX} BentoML images run as the bentoml user: rebuild with a final USER root (e.g. a custom Dockerfile template).`
            : 'Run as root (no USER, or USER root).',
        },
  )
  return results
}

/** The contract rules of an image with the adapter, each from the fact it rests on. */
function adapterRules(facts: ImageFacts, adapter: {sha: string; api: string; route: string}): RuleResult[] {
  const short = adapter.sha.replace(/^sha256:/, '').slice(0, 12)
  const exposes = facts.exposedPorts.some((port) => Number.parseInt(port, 10) === SAGEMAKER_PORT)
  const root = facts.user === null || facts.user === 'root' || facts.user === '0' || /^0:/.test(facts.user)
  return [
    {
      rule: 'starts-with-serve',
      kind: 'contract',
      ok: true,
      message: `\`serve\` runs mldeploy's SageMaker adapter (${short}), which starts BentoML's entrypoint with \`serve\`.`,
    },
    exposes
      ? {rule: 'port-8080', kind: 'contract', ok: true, message: 'The adapter listens on port 8080.'}
      : {
          rule: 'port-8080',
          kind: 'contract',
          ok: false,
          message: `The adapter's image does not expose 8080 (exposed: ${facts.exposedPorts.join(', ') || 'none'}).`,
          fix: 'Push again with --rebuild: the adapter layer EXPOSEs 8080.',
        },
    {
      rule: 'ping-and-invocations',
      kind: 'contract',
      ok: true,
      message: `The adapter answers GET /ping (200 once BentoML's /readyz does) and POST /invocations (to API ${adapter.api}, ${adapter.route}).`,
    },
    root
      ? {rule: 'runs-as-root', kind: 'contract', ok: true, message: 'The container runs as root.'}
      : {
          rule: 'runs-as-root',
          kind: 'contract',
          ok: false,
          message: `The container runs as user ${facts.user}; SageMaker expects containers to run as root.`,
          fix: 'Push again with --rebuild: the adapter layer sets USER root.',
        },
  ]
}

export function checkDeployTarget(
  target: DeployTarget,
  facts: ImageFacts,
  bentoApis?: BentoApis,
): RuleResult[] {
  return target === 'sagemaker' ? checkSageMaker(facts, bentoApis) : []
}

/** The requested format against what the registry holds: podman/docker may not do what was asked. */
export function checkRequestedFormat(format: ImageFormat, facts: ImageFacts): RuleResult {
  const expected = format === 'docker' ? 'docker-v2' : 'oci-manifest'
  return facts.kind === expected
    ? {rule: 'requested-format', kind: 'format', ok: true, message: `${facts.mediaType}, as requested.`}
    : {
        rule: 'requested-format',
        kind: 'format',
        ok: false,
        message: `--image-format ${format} was asked for, but the registry holds ${facts.mediaType}.`,
        fix:
          format === 'docker'
            ? 'With docker and BuildKit, check that provenance/SBOM are off and the image store is the classic one.'
            : 'Use --backend podman for OCI.',
      }
}

/**
 * The post-push check, ready for a pipeline step after the upload and before the tag step: reads the
 * manifest and config (no pull), returns the facts for the result and the rules that failed. A
 * non-empty `violations` fails the step (exit class push, 8).
 */
export async function checkPushedImage(
  source: ImageSource,
  reference: string,
  deployTarget: DeployTarget,
  options: {imageFormat?: ImageFormat; bentoApis?: BentoApis; signal?: AbortSignal} = {},
): Promise<{facts: ImageFacts; results: RuleResult[]; violations: RuleResult[]}> {
  const facts = await readImageFacts(source, reference, options.signal)
  const results = [
    ...(options.imageFormat === undefined ? [] : [checkRequestedFormat(options.imageFormat, facts)]),
    ...checkDeployTarget(deployTarget, facts, options.bentoApis),
  ]
  return {facts, results, violations: results.filter((result) => !result.ok)}
}

/** Manifest, then (for an image, not an index) its config blob. */
export async function readImageFacts(
  source: ImageSource,
  reference: string,
  signal?: AbortSignal,
  /** The manifest an earlier step read (push's check, for push --deploy): not read again when it is the reference's. */
  known?: ImageManifest,
): Promise<ImageFacts & {digest: string}> {
  const manifest =
    known !== undefined && known.digest === reference ? known : await source.manifest(reference, signal)
  const kind = imageFacts(manifest.mediaType, manifest.raw).kind
  const config = isIndex(kind) ? undefined : configDigest(parseManifest(manifest.raw))
  const configRaw = config === undefined ? undefined : await source.blob(config, signal)
  return {...imageFacts(manifest.mediaType, manifest.raw, configRaw), digest: manifest.digest}
}
