import {chainedDeploySteps} from '../steps/endpoint.js'
import {CheckError} from '../errors.js'
import type {PlannedAction, Step} from '../pipeline/step.js'
import {checkAccount} from '../systems/account.js'
import {registryCalls} from '../systems/registry-api.js'
import {scanStep} from '../steps/scan.js'
import {identityOrWarn} from '../steps/identity.js'
import {tagDigests, tagStep, verifyStep} from '../steps/tag.js'
import {COPY_CHANGES, COPY_CHECKS} from './promote-copy.js'
import type {PromoteState} from './promote-state.js'

/**
 * Identity, account and repository (and with --registry, a login token for its API). A dry run
 * without usable credentials goes on with what it cannot know said in a warning; a wrong account
 * stops it like a real run.
 */
const identityStep: Step<PromoteState> = {
  id: 'preflight',
  title: 'Identity and repository',
  failure: 'preflight',
  describe: (state) => ({
    actions: [
      {
        text: `AWS identity: STS GetCallerIdentity (region ${state.region.value})`,
        calls: ['aws:sts:GetCallerIdentity'],
      },
      {
        text: `ECR repository ${state.repository} exists (and may tags move?): ECR DescribeRepositories`,
        calls: ['aws:ecr:DescribeRepositories'],
      },
      ...(state.registryIsEcr || (state.config.push.dryRun && state.copy === undefined)
        ? []
        : [
            {
              text: `A login token for the registry API of ${state.registry.value}: ECR GetAuthorizationToken`,
              calls: ['aws:ecr:GetAuthorizationToken'],
            },
          ]),
    ],
    commands: [],
  }),
  async run(state, io) {
    const {dryRun} = state.config.push
    const identity = await identityOrWarn(
      state,
      dryRun,
      `the digest of ${state.config.from} and the current digests of ${state.config.to.join(', ')} are unknown`,
      io.signal,
    )
    if (identity === undefined) return
    checkAccount(identity, state.account)
    state.account = {value: identity.account, source: 'STS GetCallerIdentity'}
    state.mutability = (
      await state.aws.repository(state.repository, identity.account, undefined, io.signal)
    ).mutability
    io.output(`account ${identity.account}; repository ${state.repository} (${state.mutability})`)
    // A copy's dry run reads the source's manifests: it needs the token too (GetAuthorizationToken changes nothing).
    if (!state.registryIsEcr && (!dryRun || state.copy !== undefined))
      state.authorization = await state.aws.authorization(state.secrets, io.signal)
  },
}

/** The digests of --from and every --to tag, and so what each --to tag will do. */
const resolveStep: Step<PromoteState> = {
  id: 'resolve',
  title: 'Read the tags',
  failure: 'preflight',
  describe(state) {
    const tags = [state.config.from, ...state.config.to].join(', ')
    const action: PlannedAction = state.registryIsEcr
      ? {text: `Digests of ${tags}: ECR DescribeImages`, calls: ['aws:ecr:DescribeImages']}
      : {
          text: `Digests of ${tags}: registry API of ${state.registry.value} (HEAD manifest)`,
          calls: [registryCalls.headManifest(state.repository)],
        }
    return {
      actions: [{...action, when: 'the identity was read (a dry run may lack credentials or a token)'}],
      commands: [],
    }
  },
  async run(state, io) {
    if (state.account === undefined || state.mutability === undefined) return
    if (!state.registryIsEcr && state.authorization === undefined) {
      state.warn(
        `The tags live in ${state.registry.value}, read through its own API with an ECR login token; a dry run asks for no token, so the digests there are unknown.`,
      )
      return
    }
    const tags = [state.config.from, ...state.config.to]
    const found = await tagDigests(state, tags, io.signal)
    state.digests = found
    const digest = state.digest
    if (digest === undefined) {
      throw new CheckError(
        'tag-missing',
        `Tag ${state.config.from} does not exist in ${state.registry.value}/${state.repository}.`,
        {
          hint: 'Check --from (the tag to promote) and the repository (--repository, --registry, --region).',
        },
      )
    }
    for (const each of state.tags) {
      const previous = found.get(each.tag)
      each.previousDigest = previous ?? null
      each.change = previous === undefined ? 'created' : previous === digest ? 'unchanged' : 'moved'
      io.output(`${each.tag}: ${each.change}`)
    }
    const blocked =
      state.mutability === 'IMMUTABLE' ? state.tags.find((each) => each.change === 'moved') : undefined
    if (blocked !== undefined) {
      throw new CheckError(
        'tag-taken',
        `Tag ${blocked.tag} already exists in the immutable repository ${state.repository} (image ${blocked.previousDigest}); it cannot be moved to ${digest}.`,
        {hint: 'Promote to a new tag, or make the repository mutable.'},
      )
    }
  },
}

const SCAN_STEP = scanStep<PromoteState>()

/** Read-only first (a dry run walks only these), then the changes. */
export const PROMOTE_CHECKS: readonly Step<PromoteState>[] = [identityStep, resolveStep]
export const PROMOTE_PLAN: readonly Step<PromoteState>[] = [
  ...PROMOTE_CHECKS,
  tagStep<PromoteState>('Point the --to tags (no upload)'),
  verifyStep<PromoteState>(),
]

/** With --to-registry (promote-copy.ts): the source's identity, the destination's, then the copy. */
export const PROMOTE_COPY_CHECKS: readonly Step<PromoteState>[] = [identityStep, ...COPY_CHECKS]
export const PROMOTE_COPY_PLAN: readonly Step<PromoteState>[] = [...PROMOTE_COPY_CHECKS, ...COPY_CHANGES]

/** The read-only steps and the whole plan of this promotion. */
export function promotePlans(state: PromoteState): {
  checks: readonly Step<PromoteState>[]
  plan: readonly Step<PromoteState>[]
} {
  const checks = state.copy === undefined ? PROMOTE_CHECKS : PROMOTE_COPY_CHECKS
  const plan = state.copy === undefined ? PROMOTE_PLAN : PROMOTE_COPY_PLAN
  // Issue 25: the scan gate judges the --from image before anything is copied or any tag moves;
  // without a gate, an ECR image's findings are read and reported (scanReport).
  const scanned =
    state.scanGate === undefined && !state.scanReport
      ? plan
      : [...checks, SCAN_STEP, ...plan.slice(checks.length)]
  if (state.endpointDeploy === undefined) return {checks, plan: scanned}
  // Issue 24 §3, promote --deploy: every read-only deploy step (role, permissions, the image's
  // format, the endpoint) before any tag moves, so a dry run walks them too; the changes last.
  const deployChecks = [...checks, DEPLOY.preflight, ...DEPLOY.reads]
  return {
    checks: deployChecks,
    plan: [...deployChecks, ...scanned.slice(checks.length), ...DEPLOY.changes],
  }
}

const DEPLOY = chainedDeploySteps<PromoteState>()
