import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {classify} from '../errors.js'
import type {InspectResult} from '../release/inspect.js'
import Push from './push.js'

export default class Inspect extends BaseCommand {
  static override summary = 'Show what an image in the repository is, without pulling it.'

  static override description = `Reads the manifest and image config from ECR (BatchGetImage, GetDownloadUrlForLayer, DescribeImages) or, with --registry, from that registry's API with an ECR login token: digest, tags, size, push time, media type, platform, and the provenance labels mldeploy writes (model, MLflow run, commit, bento) in plain words.

The repository is resolved as push resolves it. Exit codes: 3 when the tag, digest or repository does not exist (or AWS refuses), 2 for bad input.`

  static override examples = [
    {description: 'The image tagged latest', command: '<%= config.bin %> <%= command.id %> modelA/V1'},
    {
      description: 'A given tag, as JSON',
      command: '<%= config.bin %> <%= command.id %> modelA/V1 --tag production --json',
    },
  ]

  static override args = {
    target: Args.string({
      description:
        'Deploy target as <model>/<version>: whose repository (as push resolves it) holds the image. Inside a target folder, none or `.` means that one.',
      required: false,
    }),
  }

  static override flags = {
    tag: Flags.string({description: 'The tag to inspect. [default: latest]'}),
    digest: Flags.string({description: 'The image digest (sha256:...) to inspect, instead of a tag.'}),
    repository: Push.flags.repository,
    region: Push.flags.region,
    profile: Push.flags.profile,
    'account-id': Push.flags['account-id'],
    registry: Flags.string({
      description:
        "Registry host to read through its own API with an ECR login token, instead of ECR's API. [env: MLDEPLOY_REGISTRY]",
    }),
    stage: Push.flags.stage,
    root: Push.flags.root,
  }

  public async run(): Promise<InspectResult> {
    const {args, flags} = await this.parse(Inspect)
    const {formatInspect, inspectImage, resolveInspectConfig} = await import('../release/inspect.js')
    const {SecretRegistry} = await import('../secrets.js')
    const config = resolveInspectConfig(
      args.target ?? '.',
      {...flags, verbose: this.verbose},
      process.env,
      process.cwd(),
    )
    this.secrets = new SecretRegistry()
    let result: InspectResult
    try {
      const secrets = this.secrets
      result = await this.interruptible((signal) => inspectImage(config, secrets, signal))
    } catch (error) {
      // Inspect only reads: a missing tag or repository, or AWS refusing, is a preflight failure
      // (exit 3); an interrupt keeps its own code.
      throw classify(error, 'preflight', {
        doing: `Inspecting ${config.push.repository.value}:${config.reference}`,
      })
    }
    for (const warning of result.warnings) this.warnLine(warning)
    if (!this.jsonEnabled()) this.print(formatInspect(result))
    return result
  }
}
