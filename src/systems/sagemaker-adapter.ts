import {writeFile} from 'node:fs/promises'
import path from 'node:path'

import {usageError} from '../errors.js'
import type {BentoApi} from '../provenance.js'
import {sha256Hex} from '../sha256.js'
import type {Backend} from './backend.js'

/**
 * Issue 24 §1: SageMaker's serving contract (`docker run <image> serve`, port 8080, `GET /ping`,
 * `POST /invocations`, root) in front of an unchanged BentoML image, as a thin layer built FROM it.
 * The adapter is one Python file, standard library only, run by the image's own python; it starts
 * the image's original entrypoint with `serve` and BentoML on a loopback port, and forwards.
 */

/** Where the layer puts the adapter and its configuration. */
export const ADAPTER_DIR = '/opt/mldeploy'
export const ADAPTER_FILE = 'sagemaker_adapter.py'
export const ADAPTER_CONFIG_FILE = 'sagemaker.json'
export const ADAPTER_LABEL = 'io.mldeploy.sagemaker.adapter'
export const ADAPTER_API_LABEL = 'io.mldeploy.sagemaker.api'
export const ADAPTER_ROUTE_LABEL = 'io.mldeploy.sagemaker.route'
export const SAGEMAKER_PORT = 8080
/** BentoML's own port inside the container, on loopback only: the adapter alone faces the network. */
export const UPSTREAM_PORT = 3000

/**
 * The adapter. Kept free of backticks and `${` (it lives in a template literal); the unit tests
 * compile it with `python3 -m py_compile` and run it against a stand-in upstream.
 */
export const ADAPTER_SOURCE = String.raw`"""mldeploy's SageMaker adapter (issue 24): SageMaker's serving contract in front of a BentoML image.

'serve': starts the image's original entrypoint with 'serve' (BentoML on a loopback port), listens on
0.0.0.0:8080, answers GET /ping (200 once BentoML's /readyz does, else 503) and forwards
POST /invocations to one API of the service. Any other arguments go to the original entrypoint
unchanged. Standard library only; the configuration is sagemaker.json beside this file.
"""

import csv
import http.client
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
# SageMaker's own limits for real-time endpoints: 6 MB payloads, 60 s per invocation.
MAX_BODY = 6 * 1024 * 1024
INVOCATION_TIMEOUT = 60
PING_TIMEOUT = 2


def load_config():
    with open(os.path.join(HERE, "sagemaker.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    config.setdefault("port", 8080)
    config.setdefault("upstream_port", 3000)
    if not config.get("entrypoint"):
        # BentoML 1.4's Dockerfile template: ENTRYPOINT ["$BENTO_PATH/env/docker/entrypoint.sh"].
        config["entrypoint"] = [os.path.join(os.environ.get("BENTO_PATH", "/home/bentoml/bento"), "env/docker/entrypoint.sh")]
    return config


def number_or_text(value):
    if value == "":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def csv_to_json(body, field):
    """text/csv for an API whose one input is a DataFrame: the records as JSON (BentoML reads JSON)."""
    rows = csv.DictReader(io.StringIO(body.decode("utf-8-sig")))
    records = [{key: number_or_text(value) for key, value in row.items()} for row in rows]
    return json.dumps({field: records}).encode("utf-8")


class Handler(http.server.BaseHTTPRequestHandler):
    config = {}
    # A client that stops sending is dropped rather than holding a thread.
    timeout = INVOCATION_TIMEOUT
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        if not self.path.startswith("/ping"):
            sys.stderr.write("mldeploy-adapter: %s\n" % (format % args))

    def answer(self, status, body=b"", content_type="text/plain; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def upstream(self, timeout):
        return http.client.HTTPConnection("127.0.0.1", self.config["upstream_port"], timeout=timeout)

    def do_GET(self):
        if self.path.split("?")[0] != "/ping":
            return self.answer(404, b"not found\n")
        try:
            connection = self.upstream(PING_TIMEOUT)
            connection.request("GET", "/readyz")
            ready = connection.getresponse().status == 200
            connection.close()
        except (OSError, http.client.HTTPException):
            ready = False
        self.answer(200 if ready else 503, b"" if ready else b"not ready\n")

    def do_POST(self):
        if self.path.split("?")[0] != "/invocations":
            return self.answer(404, b"not found\n")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            return self.answer(411, b"Content-Length required\n")
        if int(length) > MAX_BODY:
            return self.answer(413, b"payload over 6 MB\n")
        body = self.rfile.read(int(length))
        content_type = self.headers.get("Content-Type", "application/json")
        field = self.config.get("csv_field")
        if field and content_type.split(";")[0].strip().lower() == "text/csv":
            try:
                body, content_type = csv_to_json(body, field), "application/json"
            except (UnicodeDecodeError, csv.Error) as error:
                return self.answer(400, ("bad CSV: %s\n" % error).encode("utf-8"))
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        if self.headers.get("Accept"):
            headers["Accept"] = self.headers["Accept"]
        try:
            connection = self.upstream(INVOCATION_TIMEOUT)
            connection.request("POST", self.config["route"], body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            connection.close()
        except (OSError, http.client.HTTPException) as error:
            return self.answer(502, ("the model server did not answer: %s\n" % error).encode("utf-8"))
        self.answer(response.status, answer, response.getheader("Content-Type", "application/octet-stream"))


def serve(config, args):
    env = dict(os.environ)
    # entrypoint.sh lets PORT override BENTOML_PORT: only the adapter's port faces the network.
    env.pop("PORT", None)
    env["BENTOML_HOST"] = "127.0.0.1"
    env["BENTOML_PORT"] = str(config["upstream_port"])
    child = subprocess.Popen(config["entrypoint"] + ["serve"] + args, env=env)

    def forward(signum, frame):
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    Handler.config = config
    server = http.server.ThreadingHTTPServer(("0.0.0.0", config["port"]), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    status = child.wait()
    server.shutdown()
    return 128 - status if status < 0 else status


def main(argv):
    config = load_config()
    if argv[:1] == ["serve"]:
        return serve(config, argv[1:])
    os.execvp(config["entrypoint"][0], config["entrypoint"] + argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
`

/** `sha256:<hex>` of the adapter's source: its label, and part of the content digest. */
export const ADAPTER_SHA = `sha256:${sha256Hex(ADAPTER_SOURCE)}`

export type ServiceApi = BentoApi

/** The API `/invocations` goes to: the named one, else the only one; bad input otherwise. */
export function chooseApi(
  apis: readonly ServiceApi[],
  configured: {value: string; source: string} | undefined,
): ServiceApi {
  const names = apis.map((api) => api.name)
  const choices = names.length === 0 ? 'none' : names.join(', ')
  if (configured !== undefined) {
    const found = apis.find((api) => api.name === configured.value)
    if (found === undefined)
      throw usageError(
        `SageMaker API ${JSON.stringify(configured.value.slice(0, 60))} (from ${configured.source}) is not an API of the service; its APIs: ${choices}.`,
        `Pass --sagemaker-api with one of: ${choices}.`,
      )
    return found
  }
  if (apis.length === 1) return apis[0]!
  if (apis.length === 0)
    throw usageError(
      'The service has no API for SageMaker to call (the bento lists none).',
      'Add a @bentoml.api to service.py, or pass --no-sagemaker-adapter if the service meets the contract itself.',
    )
  throw usageError(
    `The service has ${apis.length} APIs (${choices}): which one answers /invocations?`,
    `Pass --sagemaker-api with one of: ${choices}.`,
  )
}

export interface AdapterLayer {
  /** The local image containerize made (the layer's FROM). */
  from: string
  /** The names the adapted image gets (the registry references the push uploads). */
  images: readonly string[]
  api: ServiceApi
  /** Labels the layer sets itself (the content digest: only adapted images carry it). */
  labels: Record<string, string>
}

export function adapterLabels(api: ServiceApi): Record<string, string> {
  return {[ADAPTER_LABEL]: ADAPTER_SHA, [ADAPTER_API_LABEL]: api.name, [ADAPTER_ROUTE_LABEL]: api.route}
}

/** The Containerfile of the layer: root, the adapter, port 8080, an exec-form ENTRYPOINT. */
export function adapterContainerfile(layer: AdapterLayer): string {
  const labels = {...layer.labels, ...adapterLabels(layer.api)}
  return [
    `FROM ${layer.from}`,
    // SageMaker runs containers as root; BentoML images end with USER bentoml.
    'USER root',
    `COPY ${ADAPTER_FILE} ${ADAPTER_CONFIG_FILE} ${ADAPTER_DIR}/`,
    `EXPOSE ${SAGEMAKER_PORT}`,
    // python3 from the image's PATH: BentoML puts its venv's first.
    `ENTRYPOINT ${JSON.stringify(['python3', `${ADAPTER_DIR}/${ADAPTER_FILE}`])}`,
    'CMD []',
    ...Object.entries(labels).map(([key, value]) => `LABEL ${key}=${JSON.stringify(value)}`),
    '',
  ].join('\n')
}

export function adapterConfig(api: ServiceApi): string {
  return `${JSON.stringify(
    {
      route: api.route,
      api: api.name,
      ...(api.csvField === undefined ? {} : {csv_field: api.csvField}),
      port: SAGEMAKER_PORT,
      upstream_port: UPSTREAM_PORT,
    },
    null,
    2,
  )}\n`
}

/** Writes the build context (Containerfile, adapter, its configuration) into a private folder. */
export async function writeAdapterContext(dir: string, layer: AdapterLayer): Promise<void> {
  await writeFile(path.join(dir, 'Containerfile'), adapterContainerfile(layer))
  await writeFile(path.join(dir, ADAPTER_FILE), ADAPTER_SOURCE)
  await writeFile(path.join(dir, ADAPTER_CONFIG_FILE), adapterConfig(layer.api))
}

/**
 * The layer's build: never a pull (the FROM image is the one containerize just made), Docker V2
 * (podman's default is OCI), the platform containerize got, no attestations with buildx.
 */
export function adapterBuildArgs(
  backend: Backend,
  options: {contextDir: string; images: readonly string[]; platform?: string; dockerBuildx?: boolean},
): string[] {
  const args = ['build']
  if (backend === 'podman') args.push('--pull=never', '--format', 'docker')
  if (options.platform !== undefined) args.push('--platform', options.platform)
  if (backend === 'docker' && options.dockerBuildx === true) args.push('--provenance=false', '--sbom=false')
  for (const image of options.images) args.push('-t', image)
  args.push('-f', path.join(options.contextDir, 'Containerfile'), options.contextDir)
  return args
}

/** The local name containerize gives the bento image when the adapter goes on top. */
export function bentoImageName(repository: string, version: string): string {
  return `localhost/mldeploy-bento/${repository}:${version}`
}
