import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {flagsFor} from '../config/flags.js'
import {appendStepSummary, endpointSummary, writeStepOutputs} from '../cli/github-actions.js'
import type {PromoteResult} from '../release/promote.js'

export default class Promote extends BaseCommand {
  static override summary =
    'Point a tag (e.g. production) at the image another tag names, in its repository or copied into another account or region: no build.'

  static override description = `Reads the digest of the --from tag (ECR DescribeImages), points every --to tag at it without uploading anything (ECR: one BatchGetImage, then a PutImage per tag; or the registry's own API with --registry), then checks that every --to tag names that digest.

The repository is resolved exactly as push resolves it (flags, environment, .env files of the target and the project root, --stage). A --to tag that already names the image is reported as unchanged; in an IMMUTABLE repository a --to tag that names another image is an error. 

With --to-registry <account>.dkr.ecr.<region>.amazonaws.com[/<repository>] the image is first copied by digest into that registry (another account or region), with the destination's own credentials (--to-profile, --to-role-arn): only the blobs it lacks are sent, streamed, then the manifests, the --to tags and the verify happen there. A failure names its side (source or destination).

Exit codes: 3 when the --from tag or the repository does not exist (or AWS refuses), 7 when a registry refuses the login token, 8 when copying, moving or verifying fails, 2 for bad input.`

  static override examples = [
    {
      description: 'Point production at the image tagged candidate',
      command: 'mldeploy promote modelA/V1 --from candidate --to production',
    },
    {
      description: 'See what would change (from, digest, the current digest of each --to), change nothing',
      command: 'mldeploy promote modelA/V1 --from candidate --to production --to stable --dry-run',
    },
    {
      description: 'Copy the image into the production account (its own profile), then tag it there',
      command:
        'mldeploy promote modelA/V1 --from candidate --to production --to-registry 210987654321.dkr.ecr.eu-west-1.amazonaws.com --to-profile prod',
    },
    {
      description:
        'The same with a role to assume; the dry run says how many blobs and bytes the destination lacks',
      command:
        'mldeploy promote modelA/V1 --from candidate --to production --to-registry 210987654321.dkr.ecr.eu-west-1.amazonaws.com --to-role-arn arn:aws:iam::210987654321:role/promote --dry-run',
    },
    {
      description: 'In CI: promote the image of a commit, JSON result on stdout',
      command: 'mldeploy promote modelA/V1 --from "${GITHUB_SHA::12}" --to production --json',
    },
  ]

  static override args = {
    target: Args.string({
      description:
        'Deploy target as <model>/<version>: whose repository (as push resolves it) holds the tags. Inside a target folder, none or `.` means that one.',
      required: false,
    }),
  }

  static override flags = flagsFor('promote')

  protected override annotationStep = 'promote'

  public async run(): Promise<PromoteResult> {
    const {args, flags} = await this.parse(Promote)
    const {formatPromote, preparePromote, promote, resolvePromoteConfig} =
      await import('../release/promote.js')
    const config = resolvePromoteConfig(
      args.target ?? '.',
      {...flags, verbose: this.verbose},
      process.env,
      process.cwd(),
    )
    const state = await preparePromote(config)
    const host = await this.startTargetRun(state, config.push)
    const redact = (text: string): string => this.redact(text)
    const {result, failure} = await promote(state, {host, signal: this.interruptSignal})
    // promote --deploy: the endpoint's own summary, whatever the ending.
    if (!result.dryRun && result.deploy !== null)
      appendStepSummary(process.env, endpointSummary(result), redact, 'deploy')
    if (failure !== undefined) {
      if (!config.push.dryRun)
        appendStepSummary(
          process.env,
          [{status: 'failed', target: result.target, error: failure, warnings: result.warnings}],
          redact,
          'promote',
        )
      // What was already moved stays on record: the tags with a verified or changed state.
      this.failWith(failure, result)
    }
    if (!result.dryRun) {
      writeStepOutputs(process.env, result, redact)
      appendStepSummary(process.env, [result], redact, 'promote')
    }

    if (!this.jsonEnabled()) this.print(formatPromote(result))
    return result
  }
}
