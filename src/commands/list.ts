import {BaseCommand} from '../cli/base-command.js'
import {flagsFor} from '../config/flags.js'
import {writeOutputs} from '../cli/github-actions.js'
import type {ListResult} from '../release/list.js'

export default class List extends BaseCommand {
  static override summary = 'List the deploy targets of the project with their state and repository.'

  static override description = `Every deploy/<model>/<version>/ folder of the project: whether the required files are there (create_bento_model.py, service.py), the build config (bentofile.yaml, pyproject.toml), the sample input, the target's .env, and the repository and backend push would use (resolved as push resolves them: environment, .env files, --stage, defaults). A target is ready when push would get past its input checks.

--json gives {"targets": [...], "matrix": {"include": [...]}}: the matrix holds the ready targets, for a GitHub Actions job matrix (strategy.matrix: \${{ fromJSON(needs.<job>.outputs.matrix) }}). When GITHUB_OUTPUT is set, list also writes the step outputs matrix and targets (a JSON array of the ready target names).

Exit 0 whatever state the targets are in; 2 when no project is found.`

  static override examples = [
    {description: 'An aligned table of the targets', command: 'mldeploy list'},
    {
      description: 'In CI: the ready targets as a job matrix',
      command: `mldeploy list --json | jq -c .matrix`,
    },
    {
      description: 'The repositories the production stage would use',
      command: 'mldeploy list --stage production',
    },
  ]

  static override flags = flagsFor('list')

  public async run(): Promise<ListResult & {warnings: string[]}> {
    const {flags} = await this.parse(List)
    const {formatList, listTargets} = await import('../release/list.js')
    const listed = listTargets(flags, process.env, process.cwd())
    const {listWarnings} = await import('../project/warnings.js')
    const warnings = await listWarnings(listed, process.env, process.cwd())
    for (const warning of warnings) this.warnLine(warning)
    const result = {...listed, warnings}
    const ready = result.matrix.include.map((each) => each.target)
    writeOutputs(
      process.env,
      [
        ['matrix', JSON.stringify(result.matrix)],
        ['targets', JSON.stringify(ready)],
      ],
      (text) => this.redact(text),
    )
    if (!this.jsonEnabled()) this.print(formatList(result))
    return result
  }
}
