import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {flagsFor} from '../config/flags.js'
import type {DoctorResult} from '../doctor/doctor.js'
import {DeployError} from '../errors.js'

export default class Doctor extends BaseCommand {
  static override summary = 'Check that this machine and project can push: tools, AWS, ECR, VPN, disk.'

  static override description = `Runs every check at once, each with its own timeout, and prints one line per check (pass, warn, fail or skip) with a fix under each problem: Node and mldeploy versions, the Python environment push would use and bentoml (>= 1.4.25) in it, the backend (docker daemon answering, podman info working), the AWS identity, account and region, ECR, the VPN check target, and free disk where BentoML and the backend keep their data.

It resolves settings exactly as push does (flags, environment, .env files, --stage). With a target it also checks that target's repository and VPN settings, and, when it deploys (an execution-role-arn is set), what mldeploy deploy's preflight checks: the role exists in the account, and the caller may make every call deploy makes (iam:PassRole included). Exits 3 when a check fails; warnings do not fail.`

  static override examples = [
    {
      description: 'Check the machine and the project root settings',
      command: 'mldeploy doctor',
    },
    {
      description: 'Check everything push modelA/V1 --stage production would need',
      command: 'mldeploy doctor modelA/V1 --stage production',
    },
    {
      description: 'In CI: one JSON object with every check; exit code 3 if one failed',
      command: 'mldeploy doctor modelA/V1 --json --skip-vpn-check',
    },
  ]

  static override args = {
    target: Args.string({
      description:
        'Deploy target as <model>/<version>, to check its repository and settings too; inside a target folder, that one (or `.`).',
      required: false,
    }),
  }

  static override flags = flagsFor('doctor')

  public async run(): Promise<DoctorResult> {
    const {args, flags} = await this.parse(Doctor)
    const {resolveDoctorSettings} = await import('../doctor/settings.js')
    const {formatDoctor, runDoctor} = await import('../doctor/doctor.js')
    // Inside deploy/<model>/<version>/, no target means that one.
    const {targetHere} = await import('../config/target.js')
    const target = args.target ?? targetHere(flags.root, process.cwd())
    const settings = resolveDoctorSettings(target, flags, process.env, process.cwd())
    const result = await this.interruptible(async (signal) => {
      const checked = await runDoctor({
        settings,
        mldeployVersion: this.config.version,
        mldeployRoot: this.config.root,
        signal,
        ...(flags.timeout === undefined ? {} : {timeoutMs: flags.timeout * 1000}),
      })
      if (!this.jsonEnabled()) {
        this.print(formatDoctor(checked, this.verbose, this.colour))
      }
      return checked
    })
    if (result.status === 'failed') {
      this.partialResult = {...result}
      const failed = result.checks.filter((check) => check.status === 'fail').map((check) => check.id)
      throw new DeployError('preflight', `${failed.length} check(s) failed: ${failed.join(', ')}.`, {
        hint: 'Apply the fixes shown and run mldeploy doctor again.',
      })
    }
    return result
  }
}
