import {ProductionVariantInstanceType} from '@aws-sdk/client-sagemaker'
import {describe, expect, it} from 'vitest'

import {UsageError} from '../../src/errors.js'

import {
  parseInstanceType,
  parseTrafficStep,
  SAGEMAKER_NAME,
  sageMakerName,
} from '../../src/config/deploy-settings.js'
import {INSTANCE_TYPES, isArm64InstanceType} from '../../src/sagemaker-instance-types.js'

/** The one line a user sees (message and hint) of a refused value. */
function refusal(parse: () => unknown): string {
  try {
    parse()
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return (error as UsageError).oneLine
  }
  throw new Error('accepted')
}

describe('SageMaker real-time hosting instance types', () => {
  it('are exactly what the installed SDK lists for a production variant', () => {
    expect([...INSTANCE_TYPES].sort()).toEqual([...Object.values(ProductionVariantInstanceType)].sort())
  })

  it('refuses an unknown type with the closest names, a Graviton type with the reason', () => {
    expect(parseInstanceType('ml.m5.large', 'flag --instance-type')).toBe('ml.m5.large')
    expect(refusal(() => parseInstanceType('ml.m5.huge', 'x'))).toMatch(
      /Did you mean ml\.m5\.large, ml\.m5\.xlarge, ml\.m5\.2xlarge\?/,
    )
    expect(refusal(() => parseInstanceType('m5.large', 'x'))).toMatch(/written ml\.<family>\.<size>/)
    expect(refusal(() => parseInstanceType('ml.m6g.large', 'x'))).toMatch(/Graviton \(arm64\)/)
    expect(isArm64InstanceType('ml.c5.large')).toBe(false)
  })
})

describe('derived SageMaker names', () => {
  it('fit SageMaker’s rule and keep the suffixes whole when the target is long', () => {
    const long = sageMakerName(`${'VeryLongModelName'.repeat(5)}/V1`, 'abcdef012345', 'a1b2c3')
    expect(long).toHaveLength(63)
    expect(long.endsWith('-abcdef012345-a1b2c3')).toBe(true)
    expect(SAGEMAKER_NAME.test(long)).toBe(true)
    expect(sageMakerName('modelA/V1')).toBe('modela-v1')
    expect(sageMakerName('model_A.x/V1', 'd')).toBe('model-a-x-v1-d')
  })

  it('traffic steps are a share of the capacity or a count of instances', () => {
    expect(parseTrafficStep('10%', 'x')).toEqual({type: 'CAPACITY_PERCENT', value: 10})
    expect(parseTrafficStep('2', 'x')).toEqual({type: 'INSTANCE_COUNT', value: 2})
    expect(() => parseTrafficStep('0%', 'x')).toThrow(/not a traffic step/)
    expect(() => parseTrafficStep('150%', 'x')).toThrow(/not a traffic step/)
  })
})
