import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {appendStepSummary, endpointSummary, writeStepOutputs} from '../cli/github-actions.js'
import {flagsFor} from '../config/flags.js'
import {type PushFlags, resolvePushConfig} from '../config/push-config.js'
import {resolveChainedDeploy} from '../config/endpoint-config.js'
import {usageError} from '../errors.js'
import {formatCommand} from '../process.js'
import type {FailedPushResult, ManyResult, PushResult} from '../pipeline/push.js'
import type {DeployState} from '../pipeline/state.js'
import {chosenTargets} from '../config/target.js'
import {unknownFlagsMessage} from '../suggest.js'

export default class Push extends BaseCommand {
  static override summary = 'Import, build, containerize and push a deploy target to ECR.'

  static override description = `Replaces the template's ecr.sh: runs create_bento_model.py, bentoml build, bentoml containerize and the ECR login and push, after a preflight that checks AWS, the repository, the tools and the VPN up front.

Settings come from flags, then MLDEPLOY_* variables, then .env files (local, git-ignored), then the target's committed mldeploy.yaml (then the root's), then CI's ambient AWS_REGION/AWS_PROFILE, then defaults (README "Configuration"). Each flag below names its variable; mldeploy.yaml uses the flag's name.`

  static override examples = [
    {
      description: 'Push modelA/V1 with podman (tags: latest and the bento version)',
      command: 'mldeploy push modelA/V1 --backend podman',
    },
    {
      description: 'Review the plan and image references without running anything',
      command: 'mldeploy push modelA/V1 --dry-run',
    },
    {
      description: 'In CI: a JSON result on stdout, progress on stderr',
      command: 'mldeploy push modelA/V1 --json --tag "$GITHUB_SHA" --skip-vpn-check',
    },
    {
      description: 'Use the ecr.sh repository name and another region',
      command: 'mldeploy push modelA/V1 --ecr-name detector --region eu-west-1',
    },
  ]

  // Several targets may follow: `mldeploy push modelA/V1 modelB/V2`.
  static override strict = false

  static override args = {
    target: Args.string({
      description:
        'Deploy target(s) as <model>/<version>: the folder deploy/<model>/<version>/ of the project. Several may be given; none or `.` inside a target folder means that target.',
    }),
  }

  static override flags = flagsFor('push')

  public async run(): Promise<PushResult | FailedPushResult | ManyResult> {
    const {argv, flags} = await this.parse(Push)
    if (flags.offline && !flags['dry-run'])
      throw usageError('--offline only applies to a dry run.', 'Add --dry-run, or leave --offline out.')
    const flagLike = (argv as string[]).find((arg) => arg.startsWith('-'))
    if (flagLike !== undefined)
      throw usageError(unknownFlagsMessage([flagLike], this.flagNames()), 'See: mldeploy push --help.')
    const names = chosenTargets(
      argv as string[],
      {all: flags.all, rootFlag: flags.root, cwd: process.cwd()},
      (skip) => this.warnLine(skip),
    )
    // Every target's configuration is checked before anything runs: a typo fails fast, alone.
    const configs = names.map((name) =>
      resolvePushConfig(name, flags as PushFlags, process.env, process.cwd()),
    )
    // push --deploy: each target's own deploy settings, checked here too (a missing role is exit 2).
    const deploys = configs.map((config) =>
      flags.deploy ? resolveChainedDeploy(config, flags, process.env, 'push') : undefined,
    )
    const {prepareState, planTargets, pushTargets, aggregate, noteLocalImage} =
      await import('../pipeline/push.js')
    const states: DeployState[] = []
    for (const [index, config] of configs.entries()) states.push(await prepareState(config, deploys[index]))
    this.secrets = states[0]!.secrets
    // An ecr.sh that disagrees, a mistyped .env key: said before anything runs, and in the result.
    const {ignoredFileWarnings, pushWarnings} = await import('../project/warnings.js')
    for (const state of states) {
      for (const warning of pushWarnings(state.config)) state.warn(warning)
      // --offline runs no child: git's answer on ignored files waits for a real dry run.
      if (!flags.offline)
        for (const warning of await ignoredFileWarnings(
          state.config.target,
          state.config.fromFiles,
          state.config.childEnv,
          this.interruptSignal,
        ))
          state.warn(warning)
    }
    for (const state of states.slice(1)) state.secrets.shareWith(this.secrets)
    // Every warning is shown once, as it is raised (those so far now; one line for a text that
    // several targets share) and stays in the result.
    const warnings = this.warningPrinter()
    for (const state of states) state.warningLog.showWith(warnings.show)

    if (flags['dry-run']) {
      const {formatPlan} = await import('../pipeline/report.js')
      return this.interruptible(async (signal) => {
        const {result, targets, failure} = await planTargets(states, signal)
        if (!this.jsonEnabled()) this.print(targets.map((each) => formatPlan(each)).join('\n\n'))
        // A failed check fails the dry run, the plan still printed.
        if (failure !== undefined) this.failWith(failure, result)
        return result
      })
    }

    const {formatRunEnd} = await import('../pipeline/report.js')
    const host = await this.runHost(flags.concurrency)
    warnings.showOn(host)
    // Raised while the steps run: named after its target when several run at once.
    if (states.length > 1)
      for (const state of states)
        state.warningLog.showWith((message) => warnings.show(`${state.config.target.name}: ${message}`))
    const runs = await pushTargets(states, {
      host,
      signal: this.interruptSignal,
      concurrency: flags.concurrency,
    })
    // The same command again: what a failure after containerize tells the user to run.
    const rerun = formatCommand({command: this.config.bin, args: [this.id ?? 'push', ...this.argv], cwd: ''})
    for (const run of runs) noteLocalImage(run, rerun)
    const {result, targets, failure} = aggregate(runs)
    // A result's warnings not raised here (a CodeBuild run's own) are shown too, once.
    for (const [index, each] of targets.entries())
      for (const warning of each.warnings) states[index]!.warningLog.showOnce(warning)
    const redact = (text: string): string => this.redact(text)
    if (!this.jsonEnabled())
      for (const each of targets) this.report(formatRunEnd(each, runs.length > 1), each.status)
    appendStepSummary(process.env, targets, redact)
    // push --deploy: the endpoints' own summary, as mldeploy deploy writes it.
    const deployed = targets.flatMap(endpointSummary)
    if (deployed.length > 0) appendStepSummary(process.env, deployed, redact, 'deploy')
    if (failure !== undefined) this.failWith(failure, result)
    if (targets.length === 1) writeStepOutputs(process.env, targets[0]!, redact)
    return result
  }

  /** A target's end: the summary on stdout when it pushed, the failure on stderr when not. */
  private report(text: string, status: string): void {
    if (status === 'pushed') this.print(text)
    else this.stderr.write(`${this.redact(text)}\n`)
  }
}
