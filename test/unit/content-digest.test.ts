import {cpSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {
  computeContentDigest,
  contentTag,
  type ImageSettingsInput,
  modelTagsOfBentoYaml,
  normalizeBentoYaml,
  normalizeModelYaml,
} from '../../src/content-digest.js'
import {REPO_ROOT, tempDir} from '../helpers/cli.js'

// Real bentos and models (test/fixtures/bento-store, captured from real `bentoml build` runs of
// the example) and variants of them made in a temp folder: a re-import and a rebuild with new
// generated versions, one changed byte in each kind of input, and each setting.
const STORE = path.join(REPO_ROOT, 'test/fixtures/bento-store')
const A = {bento: '75zt5whki6buoax4', model: '6pxafxhki63g6ax4'}
const B = {bento: 'h7jqorhkjosbwax4', model: 'gq4armxkjothwax4'}

const SETTINGS: ImageSettingsInput = {
  backend: 'podman',
  platform: undefined,
  imageFormat: 'docker',
  bentomlVersion: '1.4.40',
  buildOptions: {},
}

/** A copy of the fixture store to change. */
function store(): string {
  const dir = tempDir('store')
  cpSync(STORE, dir, {recursive: true})
  return dir
}

function digestOf(home: string, bento: string, model: string, settings = SETTINGS) {
  return computeContentDigest({
    bentoTag: `iris_v1:${bento}`,
    bentoDir: path.join(home, 'bentos/iris_v1', bento),
    models: [{tag: `iris-classifier:${model}`, dir: path.join(home, 'models/iris-classifier', model)}],
    settings,
  })
}

/** What a new `bentoml build` / model import of the same content leaves: new versions, new times. */
function rebuildWithNewVersions(home: string, from: {bento: string; model: string}) {
  const next = {bento: 'newbentoversion2', model: 'newmodelversion2'}
  const oldModel = path.join(home, 'models/iris-classifier', from.model)
  const newModel = path.join(home, 'models/iris-classifier', next.model)
  cpSync(oldModel, newModel, {recursive: true})
  const modelYaml = path.join(newModel, 'model.yaml')
  writeFileSync(
    modelYaml,
    readFileSync(modelYaml, 'utf8')
      .replace(`version: ${from.model}`, `version: ${next.model}`)
      .replace(/creation_time: .*/, "creation_time: '2027-01-01T00:00:00.000000+00:00'"),
  )
  const oldBento = path.join(home, 'bentos/iris_v1', from.bento)
  const newBento = path.join(home, 'bentos/iris_v1', next.bento)
  cpSync(oldBento, newBento, {recursive: true})
  const bentoYaml = path.join(newBento, 'bento.yaml')
  writeFileSync(
    bentoYaml,
    readFileSync(bentoYaml, 'utf8')
      .replace(`version: ${from.bento}`, `version: ${next.bento}`)
      .replace(`iris-classifier:${from.model}`, `iris-classifier:${next.model}`)
      .replaceAll(/creation_time: .*/g, "creation_time: '2027-01-01T00:00:01.000000+00:00'"),
  )
  return next
}

describe('content digest of real bentos', () => {
  it('same code, weights and settings in new bento and model versions: the same digest', async () => {
    const home = store()
    const first = await digestOf(home, A.bento, A.model)
    expect(first.digest).toMatch(/^sha256:[a-f0-9]{64}$/)
    expect(first.tag).toBe(contentTag(first.digest))
    expect(first.tag).toMatch(/^content-[a-f0-9]{12}$/)
    expect(first.files).toBe(13 + 10)
    const next = rebuildWithNewVersions(home, A)
    expect((await digestOf(home, next.bento, next.model)).digest).toBe(first.digest)
    // The same model folder under another store path (a bento moved, another BENTOML_HOME).
    const moved = tempDir('moved')
    cpSync(home, moved, {recursive: true})
    expect((await digestOf(moved, A.bento, A.model)).digest).toBe(first.digest)
  })

  it('the other real bento (same code, a model from another training run): another digest', async () => {
    const home = store()
    const a = await digestOf(home, A.bento, A.model)
    const b = await digestOf(home, B.bento, B.model)
    expect(b.digest).not.toBe(a.digest)
    // Bento B with model A's weights: B's bento.yaml differs only in versions and times.
    expect((await digestOf(home, B.bento, A.model)).digest).toBe(a.digest)
  })

  it.each([
    ['a byte of service.py', 'bentos/iris_v1/B/src/service.py'],
    ['a pinned dependency', 'bentos/iris_v1/B/env/python/requirements.txt'],
    ['the weights', 'models/iris-classifier/M/mlflow_model/model.skops'],
    ['a custom object of the model', 'models/iris-classifier/M/custom_objects.pkl'],
    ['the Dockerfile', 'bentos/iris_v1/B/env/docker/Dockerfile'],
  ])('one changed byte in %s: another digest', async (_what, file) => {
    const home = store()
    const before = await digestOf(home, A.bento, A.model)
    const target = path.join(home, file.replace('/B/', `/${A.bento}/`).replace('/M/', `/${A.model}/`))
    const bytes = readFileSync(target)
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1
    writeFileSync(target, bytes)
    expect((await digestOf(home, A.bento, A.model)).digest).not.toBe(before.digest)
  })

  it('a dependency or base image in bento.yaml, or the model metadata: another digest', async () => {
    for (const [file, from, to] of [
      [`bentos/iris_v1/${A.bento}/bento.yaml`, 'scikit-learn==1.9.1', 'scikit-learn==1.9.2'],
      [
        `bentos/iris_v1/${A.bento}/bento.yaml`,
        'localhost/mldeploy-base:bookworm',
        'localhost/other:bookworm',
      ],
      [`models/iris-classifier/${A.model}/model.yaml`, 'mlflow_run_id: 41cd', 'mlflow_run_id: 51cd'],
    ] as const) {
      const home = store()
      const before = await digestOf(home, A.bento, A.model)
      const target = path.join(home, file)
      writeFileSync(target, readFileSync(target, 'utf8').replace(from, to))
      expect((await digestOf(home, A.bento, A.model)).digest, `${file}: ${from}`).not.toBe(before.digest)
    }
  })

  it('a new file in the bento, or a renamed one: another digest', async () => {
    const home = store()
    const before = await digestOf(home, A.bento, A.model)
    const src = path.join(home, 'bentos/iris_v1', A.bento, 'src')
    writeFileSync(path.join(src, 'extra.py'), '')
    const added = await digestOf(home, A.bento, A.model)
    expect(added.digest).not.toBe(before.digest)
    renameSync(path.join(src, 'extra.py'), path.join(src, 'other.py'))
    expect((await digestOf(home, A.bento, A.model)).digest).not.toBe(added.digest)
  })

  it.each<[string, Partial<ImageSettingsInput>]>([
    ['--platform', {platform: 'linux/arm64'}],
    ['--image-format', {imageFormat: 'oci'}],
    ['--backend', {backend: 'docker'}],
    ['the bentoml version', {bentomlVersion: '1.4.41'}],
    ['a build option', {buildOptions: {DOCKER_BUILDKIT: '1'}}],
  ])('another %s: another digest', async (_what, change) => {
    const home = store()
    const before = await digestOf(home, A.bento, A.model)
    expect((await digestOf(home, A.bento, A.model, {...SETTINGS, ...change})).digest).not.toBe(before.digest)
  })
})

describe('normalisation', () => {
  it('bento.yaml loses its version, creation times and the models’ versions, nothing else', () => {
    const text = readFileSync(path.join(STORE, 'bentos/iris_v1', A.bento, 'bento.yaml'), 'utf8')
    const out = normalizeBentoYaml(text, [A.bento, A.model])
    expect(out).not.toContain(A.bento)
    expect(out).not.toContain(A.model)
    expect(out).not.toContain('creation_time')
    expect(out).toContain('  - tag: iris-classifier\n')
    expect(out).toContain('name: iris_v1')
    expect(out).toContain('bentoml_version: 1.4.40')
    expect(out).toContain('scikit-learn==1.9.1')
  })

  it('model.yaml loses its version and creation time, keeps its metadata', () => {
    const text = readFileSync(path.join(STORE, 'models/iris-classifier', A.model, 'model.yaml'), 'utf8')
    const out = normalizeModelYaml(text, [A.model])
    expect(out).not.toMatch(/^version:|^creation_time:/m)
    expect(out).toContain('mlflow_run_id: 41cd8159b8574a17a385f4d8cb30c0d1')
    expect(out).toContain('name: iris-classifier')
  })

  it('reads the packed models from bento.yaml', () => {
    const text = readFileSync(path.join(STORE, 'bentos/iris_v1', A.bento, 'bento.yaml'), 'utf8')
    expect(modelTagsOfBentoYaml(text)).toEqual([`iris-classifier:${A.model}`])
  })
})
