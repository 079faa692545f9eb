import {describe, expect, it} from 'vitest'

import {resolvePushConfig} from '../../../src/config/push-config.js'
import {makeProject} from '../../helpers/cli.js'

const resolve = (flags: Parameters<typeof resolvePushConfig>[1], env: Record<string, string> = {}) =>
  resolvePushConfig('modelA/V1', flags, env, makeProject())

describe('push configuration: switches and combinations', () => {
  it('per-run switches are off unless given', () => {
    expect(resolve({})).toMatchObject({
      keepLogin: false,
      dryRun: false,
      verbose: false,
      createRepository: undefined,
    })
    expect(resolve({'keep-login': true, 'dry-run': true, verbose: true})).toMatchObject({
      keepLogin: true,
      dryRun: true,
      verbose: true,
    })
  })

  it('--create-repository carries the mutability and scan-on-push settings', () => {
    expect(resolve({'create-repository': true}).createRepository).toEqual({
      mutability: 'MUTABLE',
      scanOnPush: true,
    })
    expect(
      resolve({'create-repository': true, 'image-tag-mutability': 'IMMUTABLE', 'scan-on-push': false})
        .createRepository,
    ).toEqual({mutability: 'IMMUTABLE', scanOnPush: false})
    expect(resolve({}, {MLDEPLOY_CREATE_REPOSITORY: 'true'}).createRepository?.mutability).toBe('MUTABLE')
  })

  it('a builder that needs a backend: a default backend follows it, another one set is bad input', () => {
    expect(resolve({}).builder).toEqual({value: {kind: 'local'}, source: 'default'})
    const remote = resolve({builder: 'docker-host:tcp://127.0.0.1:2375'})
    expect(remote.backend).toEqual({
      value: 'docker',
      source: 'needed by builder docker-host:tcp://127.0.0.1:2375',
    })
    expect(resolve({}, {MLDEPLOY_BUILDER: 'codebuild'}).backend.value).toBe('docker')
    expect(resolve({builder: 'podman-url:unix:///s.sock', backend: 'podman'}).backend.value).toBe('podman')
    expect(() => resolve({builder: 'podman-connection:box', backend: 'docker'})).toThrow(
      'Builder podman-connection:box (from flag --builder) runs podman, but the backend is docker (from flag --backend).',
    )
    expect(() => resolve({backend: 'podman'}, {MLDEPLOY_BUILDER: 'codebuild'})).toThrow(/runs docker/)
  })

  it('--image-tag-mutability without --create-repository is bad input', () => {
    expect(() => resolve({'image-tag-mutability': 'IMMUTABLE'})).toThrow(
      '--image-tag-mutability only applies with --create-repository.',
    )
  })

  it('the registry scheme: https unless the registry says http or is on loopback', () => {
    expect(resolve({}).registryScheme).toBe('https')
    expect(resolve({registry: 'http://registry.internal:5000'}).registryScheme).toBe('http')
    expect(resolve({registry: '127.0.0.1:5000'}).registryScheme).toBe('http')
  })

  it('sagemaker with OCI is bad input before anything runs', () => {
    expect(() => resolve({'deploy-target': 'sagemaker', 'image-format': 'oci'})).toThrow(
      /cannot run an OCI image/,
    )
  })

  it('docker + OCI with DOCKER_BUILDKIT=0 (the classic builder) is bad input; with BuildKit it waits for the probe', () => {
    expect(() => resolve({backend: 'docker', 'image-format': 'oci'}, {DOCKER_BUILDKIT: '0'})).toThrow(
      /--backend docker cannot make an OCI image here/,
    )
    expect(
      resolve({backend: 'docker', 'image-format': 'oci'}, {DOCKER_BUILDKIT: '1'}).imageFormat.value,
    ).toBe('oci')
    expect(resolve({backend: 'docker', 'image-format': 'oci'}).imageFormat.value).toBe('oci')
  })

  it('a stage without its .env file names where it looked and what to do', () => {
    const root = makeProject()
    try {
      resolvePushConfig('modelA/V1', {stage: 'prod'}, {}, root)
      expect.unreachable()
    } catch (error) {
      expect((error as Error).message).toContain(
        `no .env.prod nor a stages: prod entry of mldeploy.yaml in ${root}/deploy/modelA/V1 or ${root}.`,
      )
      expect((error as {hint: string}).hint).toBe('Create .env.prod there or check the stage name.')
    }
  })
})
