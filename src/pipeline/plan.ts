import {buildStep} from '../steps/build.js'
import {checkImageStep} from '../steps/check-image.js'
import {labelsStep} from '../steps/labels.js'
import {containerizeStep} from '../steps/containerize.js'
import {importStep} from '../steps/import-model.js'
import {loginStep} from '../steps/login.js'
import {preflightStep} from '../steps/preflight.js'
import {pushStep} from '../steps/push.js'
import {reuseStep} from '../steps/reuse.js'
import {scanStep} from '../steps/scan.js'
import {servingStep} from '../steps/serving.js'
import {tagStep, verifyStep} from '../steps/tag.js'
import {chainedDeploySteps} from '../steps/endpoint.js'
import type {DeployState} from './state.js'
import type {Step} from './step.js'

/** The push pipeline, in order. A dry run describes these steps; a real run executes them. */
export const PUSH_PLAN: readonly Step<DeployState>[] = [
  preflightStep,
  importStep,
  buildStep,
  // Issue 12: decides whether containerize and upload can be skipped (same content already built).
  reuseStep,
  labelsStep,
  containerizeStep,
  loginStep,
  pushStep,
  checkImageStep,
  tagStep<DeployState>(),
  verifyStep<DeployState>(),
]

/**
 * Issue 25: with a scan gate (--max-severity) on any of the targets, the scan step runs after the
 * check of the pushed image and before the tag step (a target without a gate passes through it).
 */
export const PUSH_PLAN_WITH_SCAN: readonly Step<DeployState>[] = [
  ...PUSH_PLAN.slice(0, PUSH_PLAN.indexOf(checkImageStep) + 1),
  scanStep<DeployState>(),
  ...PUSH_PLAN.slice(PUSH_PLAN.indexOf(checkImageStep) + 1),
]

/**
 * The push plan for these options. Issue 24: with --check-serving on any of the targets, the local
 * contract run comes right after the check of the pushed image, before the scan and the tags (a
 * target without it passes through it).
 */
export function pushPlan(options: {
  scan: boolean
  serving: boolean
  deploy?: boolean
}): readonly Step<DeployState>[] {
  const base = options.scan ? PUSH_PLAN_WITH_SCAN : PUSH_PLAN
  const after = base.indexOf(checkImageStep) + 1
  const served = options.serving ? [...base.slice(0, after), servingStep, ...base.slice(after)] : base
  return options.deploy === true ? withDeploy(served) : served
}

const DEPLOY = chainedDeploySteps<DeployState>()

/**
 * Issue 24 §3, push --deploy: the deploy's preflight right after push's (a bad role or a missing
 * permission fails before anything is built), its image check and endpoint reading before the
 * tags move, its changes after the tags are verified, on the digest this push pushed.
 */
function withDeploy(plan: readonly Step<DeployState>[]): readonly Step<DeployState>[] {
  const tag = plan.findIndex((step) => step.id === 'tag')
  return [
    plan[0]!,
    DEPLOY.preflight,
    ...plan.slice(1, tag),
    ...DEPLOY.reads,
    ...plan.slice(tag),
    ...DEPLOY.changes,
  ]
}
