import {describe, expect, it} from 'vitest'

import {EnvLayers} from '../../../src/config/env-layers.js'
import {checkBackendFormat, checkTargetFormat, dockerBuilder} from '../../../src/config/image-settings.js'
import {resolvePushConfig} from '../../../src/config/push-config.js'
import {SETTINGS, SettingsReader} from '../../../src/config/settings.js'
import {UsageError} from '../../../src/errors.js'
import {makeProject} from '../../helpers/cli.js'

/** The two rows as push reads them: flags over the environment over the table's default. */
function imageSettings(flags: object, env: Record<string, string> = {}) {
  const read = new SettingsReader(flags, new EnvLayers(env, []))
  return {imageFormat: read.must(SETTINGS.imageFormat), deployTarget: read.must(SETTINGS.deployTarget)}
}

const refusal = (attempt: () => unknown): {message: string; hint?: string} => {
  try {
    attempt()
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return {message: (error as Error).message, hint: (error as UsageError).hint}
  }
  throw new Error('expected a refusal')
}

describe('image format and deploy target (the settings table rows)', () => {
  it('defaults to docker and any', () => {
    expect(imageSettings({})).toEqual({
      imageFormat: {value: 'docker', source: 'default'},
      deployTarget: {value: 'any', source: 'default'},
    })
  })

  it('takes flags over the environment', () => {
    expect(
      imageSettings(
        {'image-format': 'oci'},
        {MLDEPLOY_IMAGE_FORMAT: 'docker', MLDEPLOY_DEPLOY_TARGET: 'sagemaker'},
      ),
    ).toEqual({
      imageFormat: {value: 'oci', source: 'flag --image-format'},
      deployTarget: {value: 'sagemaker', source: 'env MLDEPLOY_DEPLOY_TARGET'},
    })
  })

  it('refuses unknown values, naming where they came from and the allowed ones', () => {
    expect(refusal(() => imageSettings({}, {MLDEPLOY_IMAGE_FORMAT: 'v2s2'}))).toEqual({
      message: 'Unknown image format "v2s2" (from env MLDEPLOY_IMAGE_FORMAT).',
      hint: 'Use one of: docker, oci.',
    })
    expect(refusal(() => imageSettings({'deploy-target': 'lambda'}))).toEqual({
      message: 'Unknown deploy target "lambda" (from flag --deploy-target).',
      hint: 'Use one of: sagemaker, any.',
    })
    // The environment's value is taken as written: `OCI` is not `oci`, as for the flag.
    expect(refusal(() => imageSettings({}, {MLDEPLOY_IMAGE_FORMAT: 'OCI'})).message).toBe(
      'Unknown image format "OCI" (from env MLDEPLOY_IMAGE_FORMAT).',
    )
  })

  it('push refuses sagemaker + oci before anything runs, naming both sources and the fix', () => {
    const attempt = refusal(() =>
      resolvePushConfig(
        'modelA/V1',
        {'deploy-target': 'sagemaker'},
        {MLDEPLOY_IMAGE_FORMAT: 'oci'},
        makeProject(),
      ),
    )
    expect(attempt.message).toContain(
      'Deploy target sagemaker (from flag --deploy-target) cannot run an OCI image (image format from env MLDEPLOY_IMAGE_FORMAT)',
    )
    expect(attempt.hint).toBe('Use --image-format docker (the default) with --deploy-target sagemaker.')
    expect(
      resolvePushConfig('modelA/V1', {'deploy-target': 'sagemaker'}, {}, makeProject()).imageFormat,
    ).toEqual({value: 'docker', source: 'default'})
    expect(() =>
      checkTargetFormat({value: 'sagemaker', source: 's'}, {value: 'docker', source: 'f'}),
    ).not.toThrow()
    expect(() => checkTargetFormat({value: 'any', source: 's'}, {value: 'oci', source: 'f'})).not.toThrow()
  })
})

describe('the docker builder', () => {
  it('is classic with DOCKER_BUILDKIT=0 or without a working buildx', () => {
    expect(dockerBuilder({DOCKER_BUILDKIT: '0'}, true)).toBe('classic')
    expect(dockerBuilder({DOCKER_BUILDKIT: '1'}, true)).toBe('buildx')
    expect(dockerBuilder({}, true)).toBe('buildx')
    expect(dockerBuilder({}, false)).toBe('classic')
  })

  it('refuses docker + oci with the classic builder only', () => {
    const oci = {value: 'oci' as const, source: 'flag --image-format'}
    expect(() => checkBackendFormat('docker', oci, 'classic')).toThrow(
      '--backend docker cannot make an OCI image here (image format oci from flag --image-format)',
    )
    expect(() => checkBackendFormat('docker', oci, 'classic')).toThrow(
      expect.objectContaining({hint: 'Use --image-format docker, or --backend podman for OCI.'}),
    )
    expect(() => checkBackendFormat('docker', oci, 'buildx')).not.toThrow()
    expect(() => checkBackendFormat('docker', oci, undefined)).not.toThrow()
    expect(() => checkBackendFormat('podman', oci, 'classic')).not.toThrow()
    expect(() => checkBackendFormat('docker', {value: 'docker', source: 'default'}, 'classic')).not.toThrow()
  })
})
