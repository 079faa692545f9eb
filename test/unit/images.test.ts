import {describe, expect, it} from 'vitest'

import {
  defaultRepository,
  PLACEHOLDER,
  validateAccountId,
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

describe('image rules, at their edges', () => {
  it('repository names are 2 to 256 characters', () => {
    expect(() => validateRepository('a', 'Repository')).toThrow(/not a valid ECR repository name/)
    expect(validateRepository('ab', 'Repository')).toBe('ab')
    const longest = `${'a'.repeat(127)}/${'b'.repeat(128)}`
    expect(validateRepository(longest, 'Repository')).toBe(longest)
    expect(() => validateRepository(`${longest}b`, 'Repository')).toThrow(/not a valid/)
    expect(validateRepository('team/model_a.v-1/prod', 'Repository')).toBe('team/model_a.v-1/prod')
  })

  it('says where a bad value came from, shows it quoted and cut, and what to do', () => {
    const error = (() => {
      try {
        validateRepository(`A${'x'.repeat(100)}`, 'Repository (from flag --repository)')
      } catch (caught) {
        return caught as Error & {hint?: string}
      }
      return undefined
    })()
    expect(error?.message).toBe(
      `Repository (from flag --repository) "A${'x'.repeat(76)}..." is not a valid ECR repository name.`,
    )
    expect(error?.hint).toContain('2-256 lowercase letters')
    expect(() => validateImageTag('x'.repeat(80) + '!', 'Tag')).toThrow(`Tag "${'x'.repeat(77)}..." is not`)
    expect(() => validateImageTag('!'.repeat(80), 'Tag')).toThrow(`Tag "${'!'.repeat(80)}" is not`)
  })

  it('tags are up to 128 characters and may start with a digit or "_"', () => {
    expect(validateImageTag('a'.repeat(128), 'Tag')).toHaveLength(128)
    expect(validateImageTag('_x', 'Tag')).toBe('_x')
    expect(validateImageTag('9', 'Tag')).toBe('9')
    expect(validateImageTag('A.b-C_d', 'Tag')).toBe('A.b-C_d')
  })

  it('account ids are exactly 12 digits', () => {
    expect(validateAccountId('123456789012', 'Account')).toBe('123456789012')
    for (const bad of ['12345678901', '1234567890123', '12345678901a', ' 123456789012']) {
      expect(() => validateAccountId(bad, 'Account'), bad).toThrow(/is not an AWS account id/)
    }
  })

  it('regions look like aa-word-N', () => {
    for (const good of ['eu-west-1', 'ap-southeast-2', 'us-gov-east-1', 'cn-northwest-1', 'il-central-12']) {
      expect(validateRegion(good, 'Region')).toBe(good)
    }
    for (const bad of ['EU-west-1', 'eu-west', 'eu-west-123', 'e-west-1', 'eu-west-1 ', 'x eu-west-1']) {
      expect(() => validateRegion(bad, 'Region'), bad).toThrow(/is not an AWS region/)
    }
  })

  it('registry hosts: any scheme and trailing slashes go, a port stays, junk is refused', () => {
    expect(normalizeRegistryHost('HTTP://registry.local//', 'Registry')).toBe('registry.local')
    expect(normalizeRegistryHost('registry.local:5000', 'Registry')).toBe('registry.local:5000')
    expect(normalizeRegistryHost('a', 'Registry')).toBe('a')
    for (const bad of [
      'reg istry',
      '-a.b',
      'a-.b',
      'a..b',
      'a:port',
      'a:123456',
      'a/b',
      `${'a'.repeat(64)}.com`,
    ]) {
      expect(() => normalizeRegistryHost(bad, 'Registry'), bad).toThrow(/is not a registry host/)
    }
  })

  it('the ECR host outside China ends in amazonaws.com', () => {
    expect(ecrRegistryHost('123456789012', 'eu-west-1')).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com')
    expect(PLACEHOLDER).toEqual({account: '<aws-account-id>', bentoVersion: '<bento-version>'})
  })

  it('repository names from target names: runs of other characters become one "-", edges trimmed', () => {
    expect(defaultRepository('My Model!!', '__V 2..')).toBe('my-model/v-2')
    expect(defaultRepository('-a-', '.b.')).toBe('a/b')
  })
})

describe('image rules: longer parts and the hints', () => {
  it('separators join parts of any length', () => {
    expect(validateRepository('team_abc/model-xyz.v12', 'Repository')).toBe('team_abc/model-xyz.v12')
    expect(defaultRepository('a!!b', 'c  d')).toBe('a-b/c-d')
  })

  it('only a leading scheme is removed from a registry host', () => {
    expect(() => normalizeRegistryHost('host/https://', 'Registry')).toThrow(/is not a registry host/)
  })

  it('each refusal says what a valid value looks like', () => {
    const hintOf = (attempt: () => unknown): string | undefined => {
      try {
        attempt()
      } catch (error) {
        return (error as {hint?: string}).hint
      }
      return undefined
    }
    expect(hintOf(() => validateImageTag('-x', 'Tag'))).toBe(
      'Use up to 128 letters, digits, "_", "." and "-", not starting with "." or "-".',
    )
    expect(hintOf(() => validateRegion('x', 'Region'))).toBe(
      'Use a region code such as us-east-1 or eu-west-1.',
    )
    expect(hintOf(() => validateAccountId('x', 'Account'))).toBe('It is 12 digits.')
    expect(hintOf(() => normalizeRegistryHost('a b', 'Registry'))).toBe(
      'Use host[:port], e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com.',
    )
  })
})
