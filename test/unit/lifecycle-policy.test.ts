import {describe, expect, it} from 'vitest'

import {
  CONTENT_IMAGES_KEPT,
  defaultLifecyclePolicy,
  lifecyclePolicyRules,
  lifecyclePolicyText,
  UNTAGGED_DAYS,
} from '../../src/lifecycle-policy.js'

type Rule = ReturnType<typeof lifecyclePolicyRules>[number]

interface Image {
  name: string
  tags: string[]
  pushedDaysAgo: number
}

const glob = (pattern: string): RegExp =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  )

/**
 * ECR's lifecycle evaluation as its user guide states it ("Lifecycle policy evaluation rules" and
 * the multiple-rule examples A and B): every rule selects the images it matches (a tagged rule:
 * every pattern matches one of the image's tags) and marks those past its count or age, newest push
 * first; a marked image is expired unless a rule of higher priority selected it. moto stores a
 * policy but never applies it, so this model is what the policy's behaviour is tested against.
 */
function expiredBy(rules: Rule[], images: Image[]): string[] {
  const claimed = new Set<string>()
  const expired = new Set<string>()
  for (const rule of [...rules].sort((a, b) => a.rulePriority - b.rulePriority)) {
    const {selection} = rule
    const selected = images
      .filter((image) =>
        selection.tagStatus === 'untagged'
          ? image.tags.length === 0
          : (selection.tagPatternList ?? []).every((pattern) =>
              image.tags.some((tag) => glob(pattern).test(tag)),
            ),
      )
      .sort((a, b) => a.pushedDaysAgo - b.pushedDaysAgo)
    const marked =
      selection.countType === 'imageCountMoreThan'
        ? selected.slice(selection.countNumber)
        : selected.filter((image) => image.pushedDaysAgo > selection.countNumber)
    for (const image of marked) if (!claimed.has(image.name)) expired.add(image.name)
    for (const image of selected) claimed.add(image.name)
  }
  return [...expired].sort()
}

/** `count` builds pushed a day apart, newest first: each with its bento version and content tag. */
function builds(count: number): Image[] {
  return Array.from({length: count}, (_, index) => ({
    name: `build-${String(index).padStart(2, '0')}`,
    tags: [`bento${index}`, `content-${String(index).padStart(12, '0')}`],
    pushedDaysAgo: index,
  }))
}

describe('the default lifecycle policy', () => {
  it("keeps the push's tags and the deployment tags, each once, before the count and age rules", () => {
    const policy = defaultLifecyclePolicy(['candidate', 'latest'])
    expect(policy.keepTags).toEqual(['candidate', 'latest', 'production', 'staging', 'stable'])
    const rules = lifecyclePolicyRules(policy)
    expect(rules.map((rule) => rule.rulePriority)).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(rules.slice(0, 5).map((rule) => rule.selection)).toEqual(
      policy.keepTags.map((tag) => ({
        tagStatus: 'tagged',
        tagPatternList: [tag],
        countType: 'imageCountMoreThan',
        countNumber: 1,
      })),
    )
    expect(rules[5]!.selection).toEqual({
      tagStatus: 'tagged',
      tagPatternList: ['content-*'],
      countType: 'imageCountMoreThan',
      countNumber: CONTENT_IMAGES_KEPT,
    })
    expect(rules[6]!.selection).toEqual({
      tagStatus: 'untagged',
      countType: 'sinceImagePushed',
      countUnit: 'days',
      countNumber: UNTAGGED_DAYS,
    })
    // No `any` rule (it would have to come last and select every image).
    expect(rules.some((rule) => (rule.selection.tagStatus as string) === 'any')).toBe(false)
    expect(JSON.parse(lifecyclePolicyText(policy))).toEqual({rules})
  })

  it('expires old builds and old untagged images, never one a deployment tag names', () => {
    const images = builds(40)
    images[39]!.tags.push('production') // the oldest build is still in production
    images[0]!.tags.push('latest')
    images[35]!.tags.push('stable')
    images[33]!.tags.push('v2') // promoted to a tag the policy does not know
    images.push(
      {name: 'untagged-old', tags: [], pushedDaysAgo: UNTAGGED_DAYS + 1},
      {name: 'untagged-new', tags: [], pushedDaysAgo: UNTAGGED_DAYS - 1},
    )
    const expired = expiredBy(lifecyclePolicyRules(defaultLifecyclePolicy(['latest'])), images)
    // Builds 30-39 are past the 30 newest; 35 and 39 are protected, 33 is not (the README's limit).
    expect(expired).toEqual([
      'build-30',
      'build-31',
      'build-32',
      'build-33',
      'build-34',
      'build-36',
      'build-37',
      'build-38',
      'untagged-old',
    ])
  })

  it('protected images count among the kept builds (ECR counts every image a rule selects)', () => {
    const images = builds(31)
    images[5]!.tags.push('production')
    // 31 builds, 30 kept by count: the oldest goes, whatever production protects.
    expect(expiredBy(lifecyclePolicyRules(defaultLifecyclePolicy(['latest'])), images)).toEqual(['build-30'])
  })

  it('control: the count rule alone would expire the image production still names', () => {
    const images = builds(40)
    images[39]!.tags.push('production')
    const countOnly = lifecyclePolicyRules(defaultLifecyclePolicy([])).filter((rule) =>
      rule.selection.tagPatternList?.includes('content-*'),
    )
    expect(expiredBy(countOnly, images)).toContain('build-39')
  })
})
