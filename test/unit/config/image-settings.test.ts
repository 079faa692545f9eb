import {describe, expect, it} from 'vitest'

import {
  checkBackendFormat,
  checkTargetFormat,
  dockerBuilder,
  resolveImageSettings,
  type SettingLookup,
} from '../../../src/config/image-settings.js'
import {UsageError} from '../../../src/errors.js'

/** Flags first, then the environment given here. */
function lookupFrom(env: Record<string, string>): SettingLookup {
  return (flagValue, flag, envName) => {
    if (flagValue !== undefined) return {value: flagValue, source: `flag --${flag}`}
    const value = env[envName]
    return value === undefined ? undefined : {value, source: `env ${envName}`}
  }
}

describe('image format and deploy target', () => {
  it('defaults to docker and any', () => {
    expect(resolveImageSettings({}, lookupFrom({}))).toEqual({
      imageFormat: {value: 'docker', source: 'default'},
      deployTarget: {value: 'any', source: 'default'},
    })
  })

  it('takes flags over the environment, in any case and with spaces', () => {
    expect(
      resolveImageSettings(
        {'image-format': ' OCI '},
        lookupFrom({MLDEPLOY_IMAGE_FORMAT: 'docker', MLDEPLOY_DEPLOY_TARGET: 'Any'}),
      ),
    ).toEqual({
      imageFormat: {value: 'oci', source: 'flag --image-format'},
      deployTarget: {value: 'any', source: 'env MLDEPLOY_DEPLOY_TARGET'},
    })
  })

  it('refuses unknown values, naming where they came from and the allowed ones', () => {
    const attempt = () => resolveImageSettings({}, lookupFrom({MLDEPLOY_IMAGE_FORMAT: 'v2s2'}))
    expect(attempt).toThrow(UsageError)
    expect(attempt).toThrow('Unknown image format "v2s2" (from env MLDEPLOY_IMAGE_FORMAT).')
    try {
      resolveImageSettings({'deploy-target': 'lambda'}, lookupFrom({}))
    } catch (error) {
      expect(error).toMatchObject({
        message: 'Unknown deploy target "lambda" (from flag --deploy-target).',
        hint: 'Use one of: sagemaker, any.',
      })
    }
    expect.assertions(3)
  })

  it('sagemaker cannot run OCI: bad input, naming both sources', () => {
    const attempt = () =>
      resolveImageSettings({'deploy-target': 'sagemaker'}, lookupFrom({MLDEPLOY_IMAGE_FORMAT: 'oci'}))
    expect(attempt).toThrow(
      'Deploy target sagemaker (from flag --deploy-target) cannot run an OCI image (image format from env MLDEPLOY_IMAGE_FORMAT)',
    )
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
    expect(() => checkBackendFormat('docker', oci, 'buildx')).not.toThrow()
    expect(() => checkBackendFormat('docker', oci, undefined)).not.toThrow()
    expect(() => checkBackendFormat('podman', oci, 'classic')).not.toThrow()
    expect(() => checkBackendFormat('docker', {value: 'docker', source: 'default'}, 'classic')).not.toThrow()
  })
})
