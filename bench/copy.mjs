#!/usr/bin/env node
// The copy of `mldeploy promote --to-registry` (issue 25 §2) beside `skopeo copy`, on loopback, the
// same image, in one run: `node bench/copy.mjs` after `npm run build`. See bench/README.md.
//
// Sets up, in a temp folder removed at the end: moto (ECR and STS; the destination account is
// reached through STS AssumeRole, as the integration test does), two Debian docker-registry
// instances with their own htpasswd (each the password of one account's ECR token), and an OCI
// image of BENCH_COPY_MIB MiB of random layers pushed to the source with plain HTTP. Then, for
// BENCH_COPY_RUNS rounds, interleaved: mldeploy promote --to-registry and skopeo copy, each into a
// fresh destination repository (every blob missing). Prints a markdown report on stdout.
import {spawn, spawnSync} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {fileURLToPath} from 'node:url'

import {CreateRepositoryCommand, ECRClient} from '@aws-sdk/client-ecr'

import {fmtSeconds, median} from './lib/stats.mjs'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const REPO = path.dirname(BENCH)
const env0 = process.env
const CLI = env0.BENCH_CLI ?? path.join(REPO, 'bin', 'run.cjs')
const CACHE = path.resolve(env0.MLDEPLOY_CACHE ?? path.join(REPO, '.cache'))
const MIB = 1024 * 1024
const TOTAL_MIB = Number(env0.BENCH_COPY_MIB ?? 256)
const LAYER_MIB = Number(env0.BENCH_COPY_LAYER_MIB ?? 32)
const RUNS = Number(env0.BENCH_COPY_RUNS ?? 3)
const SOURCE_ACCOUNT = '123456789012'
const DEST_ACCOUNT = '210987654321'
const ROLE = `arn:aws:iam::${DEST_ACCOUNT}:role/promote`

const log = (message) => process.stderr.write(`[bench copy] ${message}\n`)
const out = (line = '') => process.stdout.write(`${line}\n`)

function sh(command, args, options = {}) {
  const result = spawnSync(command, args, {encoding: 'utf8', ...options})
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`)
  return result
}

const has = (tool) => spawnSync('which', [tool]).status === 0

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function waitFor(what, probe, child) {
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited early`)
    if (await probe().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`${what} did not start within 30 s`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const children = []

async function startMoto() {
  const venv = path.join(CACHE, 'venv', 'bin', 'moto_server')
  const binary = existsSync(venv) ? venv : 'moto_server'
  const port = await freePort()
  const child = spawn(binary, ['-H', '127.0.0.1', '-p', String(port)], {stdio: 'ignore'})
  children.push(child)
  const url = `http://127.0.0.1:${port}`
  await waitFor('moto_server', async () => (await fetch(`${url}/moto-api/`)).status < 500, child)
  return url
}

async function startRegistry(dir, password) {
  mkdirSync(path.join(dir, 'data'), {recursive: true})
  const port = await freePort()
  writeFileSync(path.join(dir, 'htpasswd'), sh('htpasswd', ['-Bbn', 'AWS', password]).stdout)
  const config = path.join(dir, 'config.yml')
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: bench\nauth:\n  htpasswd:\n    realm: bench\n    path: ${dir}/htpasswd\n`,
  )
  // distribution reads any REGISTRY_* variable as configuration: give it none.
  const child = spawn('docker-registry', ['serve', config], {stdio: 'ignore', env: {PATH: env0.PATH}})
  children.push(child)
  const host = `127.0.0.1:${port}`
  await waitFor('docker-registry', async () => (await fetch(`http://${host}/v2/`)).status === 401, child)
  return {host, password, child}
}

async function stopChild(child) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.on('close', resolve))
  }
}

const auth = (password) => `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}`
const sha256 = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

async function pushBlob(registry, repository, bytes) {
  const digest = sha256(bytes)
  const started = await fetch(`http://${registry.host}/v2/${repository}/blobs/uploads/`, {
    method: 'POST',
    headers: {authorization: auth(registry.password)},
  })
  const location = new URL(started.headers.get('location'), `http://${registry.host}`)
  location.searchParams.set('digest', digest)
  const put = await fetch(location, {
    method: 'PUT',
    headers: {authorization: auth(registry.password)},
    body: bytes,
  })
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status}`)
  return digest
}

async function pushImage(registry, repository) {
  const config = Buffer.from(
    JSON.stringify({architecture: 'amd64', os: 'linux', rootfs: {type: 'layers', diff_ids: []}}),
  )
  const layers = []
  for (let left = TOTAL_MIB; left > 0; left -= LAYER_MIB) {
    const size = Math.min(left, LAYER_MIB) * MIB
    layers.push({
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: await pushBlob(registry, repository, randomBytes(size)),
      size,
    })
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: await pushBlob(registry, repository, config),
      size: config.length,
    },
    layers,
  })
  const put = await fetch(`http://${registry.host}/v2/${repository}/manifests/candidate`, {
    method: 'PUT',
    headers: {
      authorization: auth(registry.password),
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
    },
    body: manifest,
  })
  if (put.status !== 201) throw new Error(`manifest: HTTP ${put.status}`)
  return {
    digest: put.headers.get('docker-content-digest'),
    bytes: layers.reduce((sum, layer) => sum + layer.size, config.length),
  }
}

function timed(command, args, options) {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe'], ...options})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      const ms = performance.now() - started
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`))
      else resolve({ms, stdout})
    })
  })
}

async function main() {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`)
  for (const tool of ['docker-registry', 'htpasswd'])
    if (!has(tool)) throw new Error(`${tool} is missing: run scripts/setup-system.sh apt`)
  if (!has('skopeo')) {
    log("installing Debian's skopeo")
    sh('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'skopeo'], {
      env: {...env0, DEBIAN_FRONTEND: 'noninteractive'},
      stdio: 'inherit',
    })
  }
  const work = mkdtempSync(path.join(os.tmpdir(), 'mldeploy-bench-copy-'))
  try {
    const load = os
      .loadavg()
      .map((each) => each.toFixed(2))
      .join(' ')
    const motoUrl = await startMoto()
    const source = await startRegistry(path.join(work, 'source'), `${SOURCE_ACCOUNT}-auth-token`)
    const base = {
      region: 'us-east-1',
      endpoint: motoUrl,
      credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
    }
    const ecr = new ECRClient(base)
    await ecr.send(new CreateRepositoryCommand({repositoryName: 'modela/v1'}))
    ecr.destroy()
    log(`pushing a ${TOTAL_MIB} MiB image (${LAYER_MIB} MiB layers) to ${source.host}`)
    const image = await pushImage(source, 'modela/v1')
    const project = path.join(work, 'project')
    mkdirSync(path.join(project, 'deploy', 'modelA', 'V1'), {recursive: true})
    for (const file of ['create_bento_model.py', 'service.py'])
      writeFileSync(path.join(project, 'deploy', 'modelA', 'V1', file), 'import bentoml\n')
    const cliEnv = {
      PATH: env0.PATH,
      HOME: work,
      TMPDIR: os.tmpdir(),
      AWS_ENDPOINT_URL: motoUrl,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      MLDEPLOY_CACHE_DIR: path.join(work, 'code-cache'),
    }
    const rows = {mldeploy: [], copyStep: [], skopeo: []}
    // One warm-up of each (the CLI's code cache, skopeo's first start), not counted.
    for (let round = -1; round < RUNS; round++) {
      // A fresh destination each round: nothing there, nothing either tool could mount or skip.
      const dir = path.join(work, `destination-${round + 1}`)
      const destination = await startRegistry(dir, `${DEST_ACCOUNT}-auth-token`)
      // skopeo's blob-info cache (under HOME) would otherwise remember the last round's blobs.
      const skopeoHome = mkdtempSync(path.join(work, 'skopeo-home-'))
      const mine = await timed(
        process.execPath,
        [
          CLI,
          'promote',
          'modelA/V1',
          '--registry',
          source.host,
          '--to-registry',
          `${destination.host}/mldeploy/r${round + 1}`,
          '--to-role-arn',
          ROLE,
          '--from',
          'candidate',
          '--to',
          'production',
          '--json',
        ],
        {cwd: project, env: cliEnv},
      )
      const json = JSON.parse(mine.stdout)
      if (json.copy.uploadedBytes !== image.bytes || json.digest !== image.digest)
        throw new Error(`mldeploy copied ${json.copy.uploadedBytes} bytes, expected ${image.bytes}`)
      const theirs = await timed(
        'skopeo',
        [
          'copy',
          '--quiet',
          '--preserve-digests',
          '--src-tls-verify=false',
          '--dest-tls-verify=false',
          '--src-creds',
          `AWS:${source.password}`,
          '--dest-creds',
          `AWS:${destination.password}`,
          `docker://${source.host}/modela/v1:candidate`,
          `docker://${destination.host}/skopeo/r${round + 1}:production`,
        ],
        {env: {PATH: env0.PATH, HOME: skopeoHome, TMPDIR: os.tmpdir()}},
      )
      await stopChild(destination.child)
      rmSync(dir, {recursive: true, force: true})
      rmSync(skopeoHome, {recursive: true, force: true})
      if (round < 0) continue
      rows.mldeploy.push(mine.ms)
      rows.copyStep.push(json.steps.find((step) => step.id === 'copy').durationMs)
      rows.skopeo.push(theirs.ms)
    }
    const mbps = (values) => (image.bytes / 1e6 / (median(values) / 1000)).toFixed(0)
    const end = os
      .loadavg()
      .map((each) => each.toFixed(2))
      .join(' ')
    out(`### Copy into another registry: \`mldeploy promote --to-registry\` vs \`skopeo copy\``)
    out()
    out(
      `${(image.bytes / MIB).toFixed(0)} MiB OCI image (${Math.ceil(TOTAL_MIB / LAYER_MIB)} random layers and a config), between two Debian docker-registry instances on loopback (different htpasswd), a fresh destination registry each round (nothing to skip or mount; skopeo with an empty blob-info cache); ${RUNS} interleaved rounds after a warm-up. skopeo ${sh(
        'skopeo',
        ['--version'],
      )
        .stdout.trim()
        .replace(/^skopeo version /, '')} (\`--preserve-digests\`).`,
    )
    out()
    out('| | wall | throughput (MB/s, 10^6 bytes) |')
    out('|---|---|---|')
    out(
      `| \`mldeploy promote --to-registry\` (whole command: start-up, STS AssumeRole, both identities and tokens, HEADs, copy, tag, verify) | ${fmtSeconds(rows.mldeploy)} | ${mbps(rows.mldeploy)} |`,
    )
    out(
      `| its copy step alone (blobs and manifest) | ${fmtSeconds(rows.copyStep)} | ${mbps(rows.copyStep)} |`,
    )
    out(`| \`skopeo copy\` (whole command) | ${fmtSeconds(rows.skopeo)} | ${mbps(rows.skopeo)} |`)
    out()
    out(`- Load average at the start: ${load}; at the end: ${end} (${os.cpus().length} CPUs).`)
  } finally {
    await Promise.all(children.map(stopChild))
    rmSync(work, {recursive: true, force: true})
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`)
  process.exitCode = 1
})
