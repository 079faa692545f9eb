import {describe, expect, it} from 'vitest'

import {
  defaultRepository,
  ecrRegistryHost,
  imageReference,
  imageTags,
  normalizeRegistryHost,
  validateImageTag,
  validateRegion,
  validateRepository,
} from '../../src/images.js'

describe('image references', () => {
  it('adds the bento version after the requested tags, once', () => {
    expect(imageTags(['latest'], 'abc')).toEqual(['latest', 'abc'])
    expect(imageTags(['abc', 'latest'], 'abc')).toEqual(['abc', 'latest'])
  })

  it('builds registry/repository:tag and the ECR host, China included', () => {
    expect(imageReference('1.dkr.ecr.us-east-1.amazonaws.com', 'modela/v1', 'latest')).toBe(
      '1.dkr.ecr.us-east-1.amazonaws.com/modela/v1:latest',
    )
    expect(ecrRegistryHost('123456789012', 'cn-north-1')).toBe(
      '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn',
    )
  })

  it('derives a valid repository from any target name', () => {
    expect(defaultRepository('modelA', 'V1')).toBe('modela/v1')
    expect(defaultRepository('fraud_Detector.', 'V2')).toBe('fraud_detector/v2')
    expect(validateRepository(defaultRepository('A-b', 'v.1'), 'x')).toBe('a-b/v.1')
  })

  it.each(['A', 'UPPER', 'a//b', '-a', 'a-', 'a b', 'x'.repeat(257), 'ü'])(
    'refuses repository %j',
    (name) => {
      expect(() => validateRepository(name, 'Repository')).toThrow(/not a valid ECR repository name/)
    },
  )

  it.each(['.hidden', '-dash', 'a'.repeat(129), 'with space', 'a:b', ''])('refuses tag %j', (tag) => {
    expect(() => validateImageTag(tag, 'Tag')).toThrow(/not a valid image tag/)
  })

  it('accepts real tags and regions, refuses malformed ones', () => {
    expect(validateImageTag('v1.2_rc-3', 'Tag')).toBe('v1.2_rc-3')
    expect(validateRegion('us-gov-west-1', 'Region')).toBe('us-gov-west-1')
    expect(() => validateRegion('us_east_1', 'Region')).toThrow(/not an AWS region/)
    expect(() => validateRegion('useast1', 'Region')).toThrow(/not an AWS region/)
  })

  it('normalizes a registry URL to a bare host', () => {
    expect(normalizeRegistryHost('https://127.0.0.1:5000/', 'Registry')).toBe('127.0.0.1:5000')
    expect(() => normalizeRegistryHost('not a host', 'Registry')).toThrow(/not a registry host/)
  })
})
