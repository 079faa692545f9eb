import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {flagsFor} from '../config/flags.js'
import type {InitResult} from '../scaffold/scaffold.js'

export default class Init extends BaseCommand {
  static override summary = 'Scaffold a deploy target (deploy/<model>/<version>/) in the template layout.'

  static override description = `Writes create_bento_model.py, common.py, example_input.csv, service.py and mldeploy.yaml, the target's committed settings (given ones filled in, the others commented out with their defaults), in the shape of the project template's examples. No __init__.py: the template forbids it there.

--from <model>/<version> copies an existing version instead, moving its names to the new one: the BentoML model name (iris-v1 → iris-v2), the service class (IrisV1 → IrisV2) and the default repository in its mldeploy.yaml and .env files; caches, __init__.py and ecr.sh are not copied.

Never overwrites: if any file exists, nothing is written and it exits 2 naming it.`

  static override examples = [
    {
      description: 'A new target for a run logged in MLflow, with its sample input columns',
      command:
        'mldeploy init modelA/V1 --model-uri runs:/0a1b2c3d4e/model --columns sepal_length,sepal_width,petal_length,petal_width',
    },
    {
      description: 'Start V2 from V1 (model name, service class and repository follow the version)',
      command: 'mldeploy init modelA/V2 --from modelA/V1 --model-uri models:/modelA/3',
    },
    {
      description: 'Show the files it would write, and write nothing',
      command: 'mldeploy init modelB/V1 --backend docker --repository team/model-b --dry-run',
    },
  ]

  static override args = {
    target: Args.string({
      description: 'New deploy target as <model>/<version>: the folder deploy/<model>/<version>/ to create.',
      required: true,
    }),
  }

  static override flags = flagsFor('init')

  public async run(): Promise<InitResult> {
    const {args, flags} = await this.parse(Init)
    const {formatInit, planInit, toInitResult, writePlan} = await import('../scaffold/scaffold.js')
    const plan = planInit(args.target, flags, process.cwd())
    if (!flags['dry-run']) writePlan(plan)
    const result = toInitResult(plan, flags['dry-run'])
    for (const warning of result.warnings) this.warnLine(warning)
    if (!this.jsonEnabled()) this.print(formatInit(result))
    return result
  }
}
