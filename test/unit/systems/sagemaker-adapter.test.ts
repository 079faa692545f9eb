import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {afterEach, describe, expect, it} from 'vitest'

import {checkSageMaker} from '../../../src/deploy-target-rules.js'
import {settingEntries} from '../../../src/content-digest.js'
import {imageFacts} from '../../../src/image-facts.js'
import {MEDIA_TYPES} from '../../../src/systems/media-types.js'
import {
  ADAPTER_SHA,
  ADAPTER_SOURCE,
  adapterBuildArgs,
  adapterContainerfile,
  chooseApi,
} from '../../../src/systems/sagemaker-adapter.js'
import {UsageError} from '../../../src/errors.js'
import {freePort} from '../../helpers/moto.js'
import {tempDir} from '../../helpers/cli.js'

// The adapter for real: python3 runs it with a stand-in for BentoML's entrypoint (a small Python
// HTTP server on BENTOML_HOST:BENTOML_PORT that says what it received), over real HTTP. The stand-in
// fakes only BentoML's server: /readyz (not ready for its first second) and the API route.
const UPSTREAM = String.raw`import http.server, json, os, signal, sys, time
if sys.argv[1:2] != ["serve"]:
    print("passed:" + " ".join(sys.argv[1:]), flush=True)
    sys.exit(7)
if os.environ.get("STAND_IN_EXIT"):
    time.sleep(0.5)
    sys.exit(int(os.environ["STAND_IN_EXIT"]))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))
start = time.time()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200 if time.time() - start > 1 else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 500 if b"boom" in body else 200
        out = json.dumps({"path": self.path, "type": self.headers["Content-Type"], "accept": self.headers.get("Accept"), "body": body.decode(), "host": os.environ["BENTOML_HOST"], "port": "PORT" in os.environ}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
http.server.HTTPServer((os.environ["BENTOML_HOST"], int(os.environ["BENTOML_PORT"])), H).serve_forever()
`

const children: ChildProcess[] = []
afterEach(() => {
  // Each adapter leads its own process group, with the stand-in BentoML it started: both go, even
  // when the adapter has already exited (a stand-in outliving it was left running before).
  for (const child of children.splice(0)) {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // The whole group has exited already.
    }
  }
})

async function startAdapter(
  args: string[],
  env: Record<string, string> = {},
): Promise<{port: number; child: ChildProcess; exit: Promise<number | null>; output: () => string}> {
  const dir = tempDir('adapter')
  const [port, upstream] = [await freePort(), await freePort()]
  writeFileSync(path.join(dir, 'sagemaker_adapter.py'), ADAPTER_SOURCE)
  writeFileSync(path.join(dir, 'upstream.py'), UPSTREAM)
  writeFileSync(
    path.join(dir, 'sagemaker.json'),
    JSON.stringify({
      route: '/predict',
      csv_field: 'data',
      port,
      upstream_port: upstream,
      entrypoint: ['python3', path.join(dir, 'upstream.py')],
    }),
  )
  const child = spawn('python3', [path.join(dir, 'sagemaker_adapter.py'), ...args], {
    env: {...process.env, PORT: '9999', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  children.push(child)
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {port, child, exit, output: () => output}
}

async function ping(port: number): Promise<number | string> {
  return fetch(`http://127.0.0.1:${port}/ping`).then(
    (response) => response.status,
    (error: Error) => error.name,
  )
}

async function readyPing(port: number): Promise<number[]> {
  const seen: number[] = []
  for (let i = 0; i < 100 && seen.at(-1) !== 200; i++) {
    const status = await ping(port)
    if (typeof status === 'number') seen.push(status)
    await sleep(100)
  }
  return seen
}

describe('the SageMaker adapter (python3, real HTTP, a stand-in upstream)', () => {
  it('compiles as Python', () => {
    const file = path.join(tempDir('adapter'), 'sagemaker_adapter.py')
    writeFileSync(file, ADAPTER_SOURCE)
    execFileSync('python3', ['-m', 'py_compile', file])
    expect(ADAPTER_SHA).toMatch(/^sha256:[a-f0-9]{64}$/)
  })

  it('serve: /ping is 503 until BentoML is ready, then 200; /invocations forwards body and types; SIGTERM reaches the child', async () => {
    const adapter = await startAdapter(['serve'])
    const seen = await readyPing(adapter.port)
    expect(seen).toContain(503)
    expect(seen.at(-1)).toBe(200)

    const json = await fetch(`http://127.0.0.1:${adapter.port}/invocations`, {
      method: 'POST',
      headers: {'content-type': 'application/json', accept: 'application/json'},
      body: '{"data": [{"a": 1}]}',
    })
    expect(json.status).toBe(200)
    expect(json.headers.get('content-type')).toBe('application/json')
    // The chosen route, loopback only, and PORT taken away (it would move BentoML to 9999).
    expect(await json.json()).toEqual({
      path: '/predict',
      type: 'application/json',
      accept: 'application/json',
      body: '{"data": [{"a": 1}]}',
      host: '127.0.0.1',
      port: false,
    })

    const csv = await fetch(`http://127.0.0.1:${adapter.port}/invocations`, {
      method: 'POST',
      headers: {'content-type': 'text/csv'},
      body: 'a,b,c\n1,2.5,x\n3,,y\n',
    })
    const forwarded = (await csv.json()) as {type: string; body: string}
    expect(forwarded.type).toBe('application/json')
    expect(JSON.parse(forwarded.body)).toEqual({
      data: [
        {a: 1, b: 2.5, c: 'x'},
        {a: 3, b: null, c: 'y'},
      ],
    })

    // The upstream's error status and body come back as they are.
    const error = await fetch(`http://127.0.0.1:${adapter.port}/invocations`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: '"boom"',
    })
    expect(error.status).toBe(500)
    const missing = await fetch(`http://127.0.0.1:${adapter.port}/predict`, {method: 'POST', body: '{}'})
    expect(missing.status).toBe(404)

    adapter.child.kill('SIGTERM')
    // The stand-in exits 42 on SIGTERM: the adapter exits with its child's status.
    expect(await adapter.exit).toBe(42)
  })

  it('exits with the child when BentoML dies; other arguments go to the original entrypoint', async () => {
    const dying = await startAdapter(['serve'], {STAND_IN_EXIT: '3'})
    expect(await dying.exit).toBe(3)
    const passed = await startAdapter(['bash', '-c', 'x'])
    expect(await passed.exit).toBe(7)
    expect(passed.output()).toContain('passed:bash -c x')
  })

  it('refuses a body over 6 MB (413)', async () => {
    const adapter = await startAdapter(['serve'])
    await readyPing(adapter.port)
    const big = await fetch(`http://127.0.0.1:${adapter.port}/invocations`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: 'x'.repeat(6 * 1024 * 1024 + 1),
    }).then(
      (response) => response.status,
      () => 413,
    )
    expect(big).toBe(413)
  })
})

describe('the adapter layer and its API', () => {
  const apis = [
    {name: 'predict', route: '/predict', csvField: 'data'},
    {name: 'explain', route: '/explain'},
  ]

  it('chooses the only API, the named one, and refuses the rest naming the choices', () => {
    expect(chooseApi([apis[0]!], undefined).name).toBe('predict')
    expect(chooseApi(apis, {value: 'explain', source: 'flag --sagemaker-api'}).route).toBe('/explain')
    expect(() => chooseApi(apis, undefined)).toThrow(UsageError)
    expect(() => chooseApi(apis, undefined)).toThrow(/2 APIs \(predict, explain\)/)
    expect(() => chooseApi(apis, {value: 'nope', source: 'flag --sagemaker-api'})).toThrow(
      /not an API of the service; its APIs: predict, explain/,
    )
  })

  it('builds FROM the local image, never pulling, Docker V2, root, port 8080, labelled', () => {
    const file = adapterContainerfile({
      from: 'localhost/mldeploy-bento/iris:v1',
      images: ['r/iris:v1'],
      api: apis[0]!,
      labels: {'io.mldeploy.content-digest': 'sha256:1'},
    })
    expect(file).toMatch(/^FROM localhost\/mldeploy-bento\/iris:v1\nUSER root\n/)
    expect(file).toContain('EXPOSE 8080')
    expect(file).toContain('ENTRYPOINT ["python3","/opt/mldeploy/sagemaker_adapter.py"]')
    expect(file).toContain(`LABEL io.mldeploy.sagemaker.adapter="${ADAPTER_SHA}"`)
    expect(file).toContain('LABEL io.mldeploy.sagemaker.api="predict"')
    expect(
      adapterBuildArgs('podman', {contextDir: '/c', images: ['a', 'b'], platform: 'linux/amd64'}),
    ).toEqual([
      'build',
      '--pull=never',
      '--format',
      'docker',
      '--platform',
      'linux/amd64',
      '-t',
      'a',
      '-t',
      'b',
      '-f',
      '/c/Containerfile',
      '/c',
    ])
    expect(adapterBuildArgs('docker', {contextDir: '/c', images: ['a'], dockerBuildx: true})).toEqual([
      'build',
      '--provenance=false',
      '--sbom=false',
      '-t',
      'a',
      '-f',
      '/c/Containerfile',
      '/c',
    ])
  })

  it('the contract rules pass from the adapter image facts, and fail with the adapter as the fix without it', () => {
    const fixtures = path.resolve(import.meta.dirname, '../../fixtures/images')
    const manifest = readFileSync(path.join(fixtures, 'podman-v2s2.manifest.json'))
    const bento = JSON.parse(readFileSync(path.join(fixtures, 'bentoml-image.config.json'), 'utf8')) as {
      config: Record<string, unknown>
    }
    const adapted = structuredClone(bento)
    adapted.config.User = 'root'
    adapted.config.Entrypoint = ['python3', '/opt/mldeploy/sagemaker_adapter.py']
    adapted.config.ExposedPorts = {...(adapted.config.ExposedPorts as object), '8080/tcp': {}}
    adapted.config.Labels = {
      ...(adapted.config.Labels as object),
      'io.mldeploy.sagemaker.adapter': ADAPTER_SHA,
      'io.mldeploy.sagemaker.api': 'predict',
      'io.mldeploy.sagemaker.route': '/predict',
    }
    const facts = (config: unknown) =>
      imageFacts(MEDIA_TYPES.dockerManifest, manifest, Buffer.from(JSON.stringify(config)))
    const passed = checkSageMaker(facts(adapted), {routes: ['/predict']})
    expect(passed.filter((rule) => rule.kind === 'contract').every((rule) => rule.ok)).toBe(true)
    const bare = checkSageMaker(facts(bento), {routes: ['/predict']})
    for (const rule of ['port-8080', 'ping-and-invocations', 'runs-as-root'])
      expect(bare.find((each) => each.rule === rule)).toMatchObject({
        ok: false,
        fix: expect.stringMatching(/^Push with --deploy-target sagemaker/),
      })
    // A label alone (no adapter ENTRYPOINT) passes nothing.
    const labelOnly = structuredClone(bento)
    labelOnly.config.Labels = {'io.mldeploy.sagemaker.adapter': ADAPTER_SHA}
    expect(checkSageMaker(facts(labelOnly), {routes: []}).find((each) => each.rule === 'port-8080')?.ok).toBe(
      false,
    )
  })

  it('the content digest changes with the adapter and its API, and not at all without it', () => {
    const base = {
      backend: 'podman',
      platform: undefined,
      imageFormat: 'docker',
      bentomlVersion: '1.4.40',
      buildOptions: {},
    }
    const names = (settings: Parameters<typeof settingEntries>[0]) =>
      settingEntries(settings).map((e) => `${e.name}=${e.value}`)
    expect(names(base).some((name) => name.includes('sagemaker'))).toBe(false)
    const on = names({...base, sagemakerAdapter: {sha: ADAPTER_SHA, api: ''}})
    expect(on).toContain(`setting/sagemaker-adapter=${ADAPTER_SHA}`)
    expect(names({...base, sagemakerAdapter: {sha: ADAPTER_SHA, api: 'explain'}})).not.toEqual(on)
    expect(names({...base, sagemakerAdapter: {sha: 'sha256:other', api: ''}})).not.toEqual(on)
  })
})
