import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {flagsFor} from '../config/flags.js'
import type {InspectResult} from '../release/inspect.js'

export default class Inspect extends BaseCommand {
  static override summary = 'Show what an image in the repository is, without pulling it.'

  static override description = `Reads the manifest and image config from ECR (BatchGetImage, GetDownloadUrlForLayer, DescribeImages) or, with --registry, from that registry's API with an ECR login token: digest, tags, size, push time, media type, platform, and the provenance labels mldeploy writes (model, MLflow run, commit, bento) in plain words.

The repository and the default tag (the first tag push would move: MLDEPLOY_TAGS, else latest) are resolved as push resolves them; the header names the registry of the account (--account-id / MLDEPLOY_ACCOUNT_ID, else STS). Exit codes: 3 when the tag, digest or repository does not exist (or AWS refuses), 2 for bad input.`

  static override examples = [
    {
      description: 'The image under the tag its pushes move (latest by default)',
      command: 'mldeploy inspect modelA/V1',
    },
    {
      description: 'A given tag, as JSON',
      command: 'mldeploy inspect modelA/V1 --tag production --json',
    },
  ]

  static override args = {
    target: Args.string({
      description:
        'Deploy target as <model>/<version>: whose repository (as push resolves it) holds the image. Inside a target folder, none or `.` means that one.',
      required: false,
    }),
  }

  static override flags = flagsFor('inspect')

  protected override annotationStep = 'inspect'

  public async run(): Promise<InspectResult> {
    const {args, flags} = await this.parse(Inspect)
    const {formatInspect, inspectImage, prepareInspect, resolveInspectConfig} =
      await import('../release/inspect.js')
    const config = resolveInspectConfig(
      args.target ?? '.',
      {...flags, verbose: this.verbose},
      process.env,
      process.cwd(),
    )
    const state = await prepareInspect(config)
    this.secrets = state.secrets
    const {locatingWarnings} = await import('../project/warnings.js')
    for (const warning of await locatingWarnings(config.push, this.interruptSignal)) this.warnLine(warning)
    const host = await this.runHost(1)
    const {result, steps, failure} = await inspectImage(state, {host, signal: this.interruptSignal})
    if (failure !== undefined || result === undefined) {
      this.partialResult = {target: config.push.target.name, steps}
      throw failure ?? new Error('inspect read nothing and reported no failure.')
    }
    for (const warning of result.warnings) this.warnLine(warning)
    if (!this.jsonEnabled()) this.print(formatInspect(result))
    return result
  }
}
