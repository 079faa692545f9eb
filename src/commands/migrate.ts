import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {flagsFor} from '../config/flags.js'
import {usageError} from '../errors.js'
import type {MigrateResult} from '../project/migrate.js'
import {unknownFlagsMessage} from '../suggest.js'

export default class Migrate extends BaseCommand {
  static override summary =
    "Carry a target's ecr.sh settings (repository, tag, backend, region, account, platform) into its committed mldeploy.yaml."

  static override description = `Reads deploy/<model>/<version>/ecr.sh as the template writes it, with its hand edits: ECR_NAME, ECR_TAG, BACKEND, REGION and a literal AWS_ACCOUNT_ID become repository, tag, backend, region and account-id in the target's mldeploy.yaml (committed next to bentofile.yaml, so CI resolves the same), and options with a setting too (containerize's --opt platform=..., push's --format, an aws ecr create-repository). A value the file already has is never overwritten (it is named). Lines with no mldeploy equivalent are listed as not translated. ecr.sh itself is left in place.`

  static override examples = [
    {description: 'Migrate one target', command: 'mldeploy migrate modelA/V1'},
    {
      description: 'See the change to every mldeploy.yaml as a diff, write nothing',
      command: 'mldeploy migrate --all --dry-run',
    },
  ]

  // Several targets may follow: `mldeploy migrate modelA/V1 modelB/V2`.
  static override strict = false

  static override args = {
    target: Args.string({
      description:
        'Deploy target(s) as <model>/<version>; none or `.` inside a target folder means that one.',
    }),
  }

  static override flags = flagsFor('migrate')

  public async run(): Promise<MigrateResult> {
    const {argv, flags} = await this.parse(Migrate)
    const names = argv as string[]
    const flagLike = names.find((arg) => arg.startsWith('-'))
    if (flagLike !== undefined)
      throw usageError(unknownFlagsMessage([flagLike], this.flagNames()), 'See: mldeploy migrate --help.')
    const {formatMigrate, migrate} = await import('../project/migrate.js')
    const result = await migrate(
      names,
      {all: flags.all, root: flags.root, dryRun: flags['dry-run']},
      process.cwd(),
      process.env as Record<string, string>,
    )
    for (const warning of result.warnings) this.warnLine(warning)
    if (!this.jsonEnabled()) this.print(formatMigrate(result))
    return result
  }
}
