import {CONTENT_TAG_PREFIX} from './content-digest.js'

/**
 * The ECR lifecycle policy `--create-repository` attaches (README "Repository growth"). Every push
 * adds an image under its bento version and a `content-` tag, so a repository grows without end;
 * this policy expires old builds and never an image a deployment tag points at, as far as ECR's
 * rules allow. ECR's semantics (Lifecycle policy evaluation rules, in its user guide): a rule
 * selects an image when any of its tags matches; an image a rule selects cannot be expired by a
 * rule of lower priority (a higher rulePriority number); each rule counts the images it selects,
 * newest push first, those protected above included.
 */
export interface LifecyclePolicy {
  /** Tags whose image is never expired: one rule each, first. */
  keepTags: string[]
  /** How many of the newest images tagged `content-…` are kept. */
  contentImagesKept: number
  /** Days after its push that an untagged image is expired. */
  untaggedDays: number
}

/** Tags releases commonly point at (the README's promote examples), kept even when this push does not move them. */
export const DEPLOYMENT_TAGS = ['latest', 'production', 'staging', 'stable']
/** A month of daily pushes: enough to roll back to or promote from, not a repository that grows forever. */
export const CONTENT_IMAGES_KEPT = 30
/** Room to notice and re-tag an image whose last tag moved away (by digest) before it goes. */
export const UNTAGGED_DAYS = 14

/** The default policy for a repository whose pushes move `pushTags`. */
export function defaultLifecyclePolicy(pushTags: readonly string[]): LifecyclePolicy {
  return {
    keepTags: [...new Set([...pushTags, ...DEPLOYMENT_TAGS])],
    contentImagesKept: CONTENT_IMAGES_KEPT,
    untaggedDays: UNTAGGED_DAYS,
  }
}

interface LifecycleRule {
  rulePriority: number
  description: string
  selection: {
    tagStatus: 'tagged' | 'untagged'
    tagPatternList?: string[]
    countType: 'imageCountMoreThan' | 'sinceImagePushed'
    countUnit?: 'days'
    countNumber: number
  }
  action: {type: 'expire'}
}

/** The policy as ECR's PutLifecyclePolicy takes it. */
export function lifecyclePolicyRules(policy: LifecyclePolicy): LifecycleRule[] {
  // An image tag has no `*` (ECR's tag characters), so each pattern below matches that tag exactly.
  // A tag names one image, so "more than 1" expires nothing: the rule only protects its image.
  const keep = policy.keepTags.map((tag, index): LifecycleRule => ({
    rulePriority: index + 1,
    description: `Keep the image tagged ${tag}`,
    selection: {tagStatus: 'tagged', tagPatternList: [tag], countType: 'imageCountMoreThan', countNumber: 1},
    action: {type: 'expire'},
  }))
  const next = keep.length + 1
  return [
    ...keep,
    {
      rulePriority: next,
      description: `Keep the ${policy.contentImagesKept} newest images mldeploy pushed (${CONTENT_TAG_PREFIX}* tags)`,
      selection: {
        tagStatus: 'tagged',
        tagPatternList: [`${CONTENT_TAG_PREFIX}*`],
        countType: 'imageCountMoreThan',
        countNumber: policy.contentImagesKept,
      },
      action: {type: 'expire'},
    },
    {
      rulePriority: next + 1,
      description: `Expire untagged images ${policy.untaggedDays} days after their push`,
      selection: {
        tagStatus: 'untagged',
        countType: 'sinceImagePushed',
        countUnit: 'days',
        countNumber: policy.untaggedDays,
      },
      action: {type: 'expire'},
    },
  ]
}

export function lifecyclePolicyText(policy: LifecyclePolicy): string {
  return JSON.stringify({rules: lifecyclePolicyRules(policy)})
}

/** One line for the plan and the preflight's output. */
export function describeLifecyclePolicy(policy: LifecyclePolicy): string {
  return `keeps the images tagged ${policy.keepTags.join(', ')} and the ${policy.contentImagesKept} newest ${CONTENT_TAG_PREFIX}* images, expires older ones and untagged ones after ${policy.untaggedDays} days`
}
