import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {appendStepSummary, endpointEntry, endpointOutputs, writeOutputs} from '../cli/github-actions.js'
import {flagsFor} from '../config/flags.js'
import type {DeployResult} from '../release/deploy.js'

export default class Deploy extends BaseCommand {
  static override summary =
    'Create or update the SageMaker real-time endpoint of a target with an image already pushed, and wait until it serves.'

  static override description = `Reads the image's digest (--image-digest, else the digest --image-tag names in the target's ECR repository, latest by default), checks that SageMaker can run it (a Docker V2 linux/amd64 manifest, read without pulling), then creates what is missing: the model (<target>-<digest>), the endpoint configuration (<target>-<digest>-<hash of the variant>) and the endpoint (CreateEndpoint, or UpdateEndpoint with --traffic-shifting/--rollback-alarm guardrails), and waits until it is InService.

A deploy of the same image and settings changes nothing and says so. Before anything changes, the preflight checks the execution role (IAM GetRole) and the caller's permissions for exactly the calls deploy makes (IAM SimulatePrincipalPolicy, iam:PassRole included).

Ctrl-C while waiting stops waiting (exit 130): the update goes on in AWS, and the message says how to follow it.

Exit codes: 2 for bad input (no execution role, an unknown instance type, an image SageMaker cannot run), 3 when the preflight fails (a denied permission, a missing role or tag), 11 when SageMaker does not bring the endpoint to InService (failed, rolled back, timed out).`

  static override examples = [
    {
      description: 'Deploy what the last push tagged latest (role and instance type from mldeploy.yaml)',
      command: 'mldeploy deploy modelA/V1',
    },
    {
      description: 'See every call and its inputs, with the read-only checks only',
      command:
        'mldeploy deploy modelA/V1 --execution-role-arn arn:aws:iam::123456789012:role/sagemaker --dry-run',
    },
    {
      description: 'A canary update: 10% first, the rest after 10 minutes unless the alarm fires',
      command:
        'mldeploy deploy modelA/V1 --image-tag production --traffic-shifting canary --traffic-step 10% --traffic-wait 600 --rollback-alarm modela-5xx',
    },
    {
      description: 'In CI: deploy the image of this commit, JSON result on stdout',
      command: 'mldeploy deploy modelA/V1 --image-tag "${GITHUB_SHA::12}" --json',
    },
  ]

  static override args = {
    target: Args.string({
      description:
        'Deploy target as <model>/<version>: whose repository holds the image and whose settings (mldeploy.yaml, .env) apply. Inside a target folder, none or `.` means that one.',
      required: false,
    }),
  }

  static override flags = flagsFor('deploy')

  protected override annotationStep = 'deploy'

  public async run(): Promise<DeployResult> {
    const {args, flags} = await this.parse(Deploy)
    const {deploy, formatDeploy, prepareDeploy, resolveDeployConfig} = await import('../release/deploy.js')
    const config = resolveDeployConfig(
      args.target ?? '.',
      {...flags, verbose: this.verbose},
      process.env,
      process.cwd(),
    )
    const state = await prepareDeploy(config)
    const host = await this.startTargetRun(state, config.push)
    const redact = (text: string): string => this.redact(text)
    const {result, failure} = await deploy(state, {host, signal: this.interruptSignal})
    if (!result.dryRun) {
      writeOutputs(
        process.env,
        [
          ...endpointOutputs(result),
          ['image-by-digest', result.image.digest === null ? '' : result.image.reference],
          ['status', result.status],
        ],
        redact,
      )
      appendStepSummary(
        process.env,
        [
          {
            ...endpointEntry(result.target, result, result.steps),
            warnings: result.warnings,
            ...(failure === undefined ? {} : {error: failure.toResultError()}),
          },
        ],
        redact,
        'deploy',
      )
    }
    if (failure !== undefined) this.failWith(failure, result)
    if (!this.jsonEnabled()) this.print(formatDeploy(result))
    return result
  }
}
