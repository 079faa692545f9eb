import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {
  describeLabels,
  jsonFromOutput,
  LABELS,
  mlflowFromModel,
  parseBentoInfo,
  provenanceLabels,
  stripCredentials,
} from '../../src/provenance.js'

const base = {
  created: new Date('2026-11-27T10:00:00Z'),
  bentoTag: 'iris_v1:k3ruabc',
  target: 'iris/V1',
  models: ['iris-classifier:6pxafx'],
  mldeployVersion: '0.1.0',
}

describe('provenance labels', () => {
  it('writes the OCI and mldeploy labels', () => {
    const labels = provenanceLabels({
      ...base,
      revision: {sha: '9a8b7c6d5e4f3a2b1c0d9a8b7c6d5e4f3a2b1c0d', dirty: false},
      source: 'https://github.com/team/project.git',
      mlflow: {runIds: ['1f2e3d4c5b6a'], modelUris: ['models:/iris-classifier/latest']},
    })
    expect(labels).toEqual({
      [LABELS.created]: '2026-11-27T10:00:00.000Z',
      [LABELS.revision]: '9a8b7c6d5e4f3a2b1c0d9a8b7c6d5e4f3a2b1c0d',
      [LABELS.source]: 'https://github.com/team/project.git',
      [LABELS.version]: 'k3ruabc',
      [LABELS.title]: 'iris/V1',
      [LABELS.bento]: 'iris_v1:k3ruabc',
      [LABELS.models]: 'iris-classifier:6pxafx',
      [LABELS.mlflowRunId]: '1f2e3d4c5b6a',
      [LABELS.mlflowModelUri]: 'models:/iris-classifier/latest',
      [LABELS.mldeployVersion]: '0.1.0',
    })
  })

  it('marks a dirty tree', () => {
    const labels = provenanceLabels({...base, revision: {sha: 'a'.repeat(40), dirty: true}})
    expect(labels[LABELS.revision]).toBe(`${'a'.repeat(40)}-dirty`)
  })

  it('never carries a credential from the remote URL', () => {
    const labels = provenanceLabels({
      ...base,
      source: 'https://x-access-token:ghp_SECRET123456@github.com/team/project.git?token=abc#x',
      mlflow: {runIds: [], modelUris: ['https://user:pw@mlflow.example/models/1']},
    })
    expect(labels[LABELS.source]).toBe('https://github.com/team/project.git')
    expect(labels[LABELS.mlflowModelUri]).toBe('https://mlflow.example/models/1')
    expect(JSON.stringify(labels)).not.toMatch(/SECRET|ghp_|token=|pw@/)
  })

  it('strips credentials from every URL shape', () => {
    expect(stripCredentials('https://oauth2:glpat-xyz@gitlab.com/a/b.git')).toBe('https://gitlab.com/a/b.git')
    expect(stripCredentials('ssh://git:pass@host:22/a.git')).toBe('ssh://host:22/a.git')
    expect(stripCredentials('git@github.com:team/project.git')).toBe('git@github.com:team/project.git')
    expect(stripCredentials('user:pass@host:path')).toBe('host:path')
  })

  it('keeps label values on one line', () => {
    const labels = provenanceLabels({...base, target: 'iris/V1\nEVIL=1'})
    expect(labels[LABELS.title]).toBe('iris/V1 EVIL=1')
  })

  it('says the labels in plain words', () => {
    expect(
      describeLabels({
        [LABELS.models]: 'iris:3',
        [LABELS.mlflowRunId]: '1f2e3d4c5b6a7980',
        [LABELS.revision]: '9a8b7c6d5e4f-dirty',
        [LABELS.bento]: 'iris_v1:k3ru',
      }),
    ).toBe('model iris:3 from MLflow run 1f2e3d4c…, commit 9a8b7c6 (dirty), bento iris_v1:k3ru')
    expect(describeLabels({})).toBe('no mldeploy provenance labels')
  })
})

describe('bento store output', () => {
  it('reads the bento JSON between bentoml warnings', () => {
    const lines = [
      '{',
      '  "name": "iris_v1", "version": "75zt",',
      '  "models": [],',
      '  "services": [{"name": "IrisV1", "models": [{"tag": "iris-classifier:6px"}], "config": {"http": {"port": 8080}}}],',
      '  "schema": {"routes": [{"route": "/predict"}], "paths": {"/predict": {"mounted": false}}}',
      '}',
      '/venv/click/core.py:1371: UserWarning: The parameter --quiet is used more than once.',
    ]
    expect(parseBentoInfo(jsonFromOutput(lines))).toEqual({
      tag: 'iris_v1:75zt',
      models: ['iris-classifier:6px'],
      routes: ['/predict'],
      port: 8080,
      // A route without a name is no API the SageMaker adapter can name.
      apis: [],
    })
  })

  it('reads the APIs and the DataFrame field a CSV body maps to (issue 24)', () => {
    const bento = JSON.parse(
      readFileSync(path.resolve(import.meta.dirname, '../fixtures/bentoml/get.json'), 'utf8'),
    )
    expect(parseBentoInfo(bento).apis).toEqual([{name: 'predict', route: '/predict', csvField: 'data'}])
  })

  it('reads the MLflow origin from the model metadata', () => {
    expect(
      mlflowFromModel({
        metadata: {mlflow_run_id: '41cd', mlflow_model_uri: 'models:/iris-classifier/latest'},
      }),
    ).toEqual({runId: '41cd', modelUri: 'models:/iris-classifier/latest'})
    expect(mlflowFromModel({metadata: {}})).toEqual({})
  })
})
