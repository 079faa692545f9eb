import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {annotationFor, appendStepSummary, inGithubActions, writeStepOutputs} from '../cli/github-actions.js'
import {flagsFor} from '../config/flags.js'
import {type PushFlags, resolvePushConfig} from '../config/push-config.js'
import {DeployError, usageError} from '../errors.js'
import {formatCommand} from '../process.js'
import type {ManyResult, PushResult} from '../pipeline/push.js'
import type {DeployState} from '../pipeline/state.js'
import {discoverTargets, missingTarget, resolveRoot, resolveTarget, targetHere} from '../project/target.js'
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

  public async run(): Promise<PushResult | ManyResult> {
    const {argv, flags} = await this.parse(Push)
    if (flags.offline && !flags['dry-run'])
      throw usageError('--offline only applies to a dry run.', 'Add --dry-run, or leave --offline out.')
    const names = this.targetNames(argv as string[], flags.all, flags.root, process.cwd())
    // Every target's configuration is checked before anything runs: a typo fails fast, alone.
    const configs = names.map((name) =>
      resolvePushConfig(name, flags as PushFlags, process.env, process.cwd()),
    )
    const {prepareState, planOnly, pushTargets, runResult, aggregate, noteLocalImage} =
      await import('../pipeline/push.js')
    const states: DeployState[] = []
    for (const config of configs) states.push(await prepareState(config))
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
        const planned = []
        for (const state of states) planned.push(await planOnly(state, signal))
        const results = planned.map(({result}) => result)
        if (!this.jsonEnabled()) this.print(results.map((result) => formatPlan(result)).join('\n\n'))
        const result =
          states.length === 1 ? results[0]! : {status: 'planned' as const, dryRun: true, targets: results}
        // A failed check fails the dry run with the preflight's exit code, the plan still printed.
        const failed = planned.find((each) => each.failure !== undefined)
        if (failed !== undefined) {
          this.partialResult = result as unknown as Record<string, unknown>
          throw states.length === 1
            ? failed.failure!
            : new DeployError(failed.failure!.kind, `${failed.result.target}: ${failed.failure!.message}`, {
                ...(failed.failure!.hint === undefined ? {} : {hint: failed.failure!.hint}),
                ...(failed.failure!.reason === undefined ? {} : {reason: failed.failure!.reason}),
                step: 'preflight',
              })
        }
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
    const results = runs.map(runResult)
    // A result's warnings not raised here (a CodeBuild run's own) are shown too, once.
    for (const [index, result] of results.entries())
      for (const warning of result.warnings) states[index]!.warningLog.showOnce(warning)
    const redact = (text: string): string => this.redact(text)
    if (!this.jsonEnabled())
      for (const result of results) this.report(formatRunEnd(result, runs.length > 1), result.status)
    appendStepSummary(process.env, results, redact)
    if (runs.length === 1) {
      const [run] = runs
      const [result] = results
      if (run!.failure !== undefined) {
        this.partialResult = {...result!, status: 'failed'}
        throw run!.failure
      }
      writeStepOutputs(process.env, result as PushResult, redact)
      return result as PushResult
    }
    const {result, failure} = aggregate(runs)
    if (failure === undefined) return result
    if (inGithubActions(process.env)) {
      for (const each of results)
        if (each.status === 'failed')
          this.stderr.write(
            `${redact(annotationFor({...each.error, message: `${each.target}: ${each.error.message}`}))}\n`,
          )
      this.annotated = true
    }
    this.partialResult = {dryRun: false, targets: result.targets}
    throw failure
  }

  /** A target's end: the summary on stdout when it pushed, the failure on stderr when not. */
  private report(text: string, status: string): void {
    if (status === 'pushed') this.print(text)
    else this.stderr.write(`${this.redact(text)}\n`)
  }

  /** The targets: the arguments, or every folder under deploy/ with --all. */
  private targetNames(argv: string[], all: boolean, rootFlag: string | undefined, cwd: string): string[] {
    const flagLike = argv.find((arg) => arg.startsWith('-'))
    if (flagLike !== undefined)
      throw usageError(unknownFlagsMessage([flagLike], this.flagNames()), 'See: mldeploy push --help.')
    if (all) {
      if (argv.length > 0) throw usageError('Give targets or --all, not both.')
      const root = resolveRoot(rootFlag, cwd)
      // --all means the complete targets; an unfinished folder is named, not fatal.
      const names = discoverTargets(root).filter((name) => {
        try {
          resolveTarget(name, root)
          return true
        } catch (error) {
          this.warnLine(`--all skips ${name}: ${(error as Error).message}`)
          return false
        }
      })
      if (names.length === 0) {
        throw usageError(
          '--all: there is no complete target under deploy/.',
          'Create one with mldeploy init <model>/<version>.',
        )
      }
      return names
    }
    if (argv.length === 0) {
      // Inside deploy/<model>/<version>/ (or deeper), that target.
      const here = targetHere(rootFlag, cwd)
      if (here !== undefined) return [here]
      throw missingTarget(rootFlag, cwd, 'push')
    }
    return [...new Set(argv)]
  }
}
