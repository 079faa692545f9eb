import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {annotationFor, appendStepSummary, inGithubActions, writeStepOutputs} from '../cli/github-actions.js'
import {chooseRenderer, currentRendererEnvironment} from '../cli/renderer.js'
import {flagsFor} from '../config/flags.js'
import {type PushFlags, resolvePushConfig} from '../config/push-config.js'
import {DeployError, usageError} from '../errors.js'
import type {ManyResult, PushResult} from '../pipeline/push.js'
import type {DeployState} from '../pipeline/state.js'
import {discoverTargets, resolveRoot, resolveTarget} from '../project/target.js'
import type {RendererChoice} from '../cli/renderer.js'

export default class Push extends BaseCommand {
  static override summary = 'Import, build, containerize and push a deploy target to ECR.'

  static override description = `Replaces the template's ecr.sh: runs create_bento_model.py, bentoml build, bentoml containerize and the ECR login and push, after a preflight that checks AWS, the repository, the tools and the VPN up front.

Settings come from flags, then the environment (MLDEPLOY_* and the standard AWS variables), then .env files (the target's over the project root's), then defaults. Each flag below names its variable.`

  static override examples = [
    {
      description: 'Push modelA/V1 with podman (tags: latest and the bento version)',
      command: '<%= config.bin %> <%= command.id %> modelA/V1 --backend podman',
    },
    {
      description: 'Review the plan and image references without running anything',
      command: '<%= config.bin %> <%= command.id %> modelA/V1 --dry-run',
    },
    {
      description: 'In CI: a JSON result on stdout, progress on stderr',
      command: '<%= config.bin %> <%= command.id %> modelA/V1 --json --tag "$GITHUB_SHA" --skip-vpn-check',
    },
    {
      description: 'Use the ecr.sh repository name and another region',
      command: '<%= config.bin %> <%= command.id %> modelA/V1 --ecr-name detector --region eu-west-1',
    },
  ]

  // Several targets may follow: `mldeploy push modelA/V1 modelB/V2`.
  static override strict = false

  static override args = {
    target: Args.string({
      description:
        'Deploy target(s) as <model>/<version>: the folder deploy/<model>/<version>/ of the project. Several may be given.',
    }),
  }

  static override flags = flagsFor('push')

  /** Set when the failed targets were annotated one by one (GitHub Actions). */
  private annotated = false

  public async run(): Promise<PushResult | ManyResult> {
    const {argv, flags} = await this.parse(Push)
    const cwd = process.cwd()
    const names = this.targetNames(argv as string[], flags.all, flags.root, cwd)
    // Every target's configuration is checked before anything runs: a typo fails fast, alone.
    const configs = names.map((name) => resolvePushConfig(name, flags as PushFlags, process.env, cwd))
    const {prepareState, planOnly} = await import('../pipeline/push.js')
    const {formatPlan} = await import('../pipeline/report.js')
    const states: DeployState[] = []
    for (const config of configs) states.push(await prepareState(config))
    this.secrets = states[0]!.secrets
    for (const state of states.slice(1)) state.secrets.shareWith(this.secrets)

    if (flags['dry-run']) {
      const results = []
      for (const state of states) results.push(await planOnly(state))
      for (const warning of new Set(results.flatMap((result) => result.warnings))) this.warnLine(warning)
      if (!this.jsonEnabled()) this.print(results.map((result) => formatPlan(result)).join('\n\n'))
      return states.length === 1 ? results[0]! : {status: 'planned', dryRun: true, targets: results}
    }

    return this.withInterrupts(async (signal, interrupted) => {
      const renderer = chooseRenderer(currentRendererEnvironment(this.jsonEnabled()))
      return states.length === 1
        ? this.pushOne(states[0]!, renderer, signal, interrupted)
        : this.pushMany(states, renderer, signal, flags.concurrency, interrupted)
    })
  }

  /** The targets: the arguments, or every folder under deploy/ with --all. */
  private targetNames(argv: string[], all: boolean, rootFlag: string | undefined, cwd: string): string[] {
    const flagLike = argv.find((arg) => arg.startsWith('-'))
    if (flagLike !== undefined)
      throw usageError(`Nonexistent flag: ${flagLike}.`, 'See: mldeploy push --help.')
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
      throw usageError(
        'Missing target: name one or more as <model>/<version>, or use --all.',
        'See: mldeploy push --help.',
      )
    }
    return [...new Set(argv)]
  }

  /**
   * The first SIGINT/SIGTERM stops the running steps (their whole process groups) and cleans up;
   * more signals while that happens are ignored rather than killing mldeploy half-way.
   */
  private async withInterrupts<T>(
    body: (signal: AbortSignal, interrupted: () => NodeJS.Signals | undefined) => Promise<T>,
  ): Promise<T> {
    const interrupt = new AbortController()
    let signalName: NodeJS.Signals | undefined
    const onSignal = (name: NodeJS.Signals): void => {
      if (signalName !== undefined) return
      signalName = name
      this.logToStderr(`Received ${name}: stopping the running step and cleaning up...`)
      interrupt.abort()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    try {
      return await body(interrupt.signal, () => signalName)
    } finally {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
    }
  }

  private async pushOne(
    state: DeployState,
    renderer: RendererChoice,
    signal: AbortSignal,
    interrupted: () => NodeJS.Signals | undefined,
  ): Promise<PushResult> {
    const {runPush, toResult} = await import('../pipeline/push.js')
    const {formatSteps, formatSummary} = await import('../pipeline/report.js')
    try {
      const result = await runPush(state, renderer, signal)
      writeStepOutputs(process.env, result, (text) => this.redact(text))
      appendStepSummary(process.env, [result], (text) => this.redact(text))
      if (!this.jsonEnabled()) this.print(formatSummary(result))
      return result
    } catch (error) {
      this.partialResult = {...toResult(state)}
      const failure = interruptedError(interrupted(), state) ?? error
      if (failure instanceof DeployError)
        appendStepSummary(process.env, [{...toResult(state), status: 'failed', error: failure}], (text) =>
          this.redact(text),
        )
      if (!this.jsonEnabled()) this.logToStderr(this.redact(`Steps: ${formatSteps(toResult(state))}`))
      throw interruptedError(interrupted(), state) ?? error
    }
  }

  private async pushMany(
    states: DeployState[],
    renderer: RendererChoice,
    signal: AbortSignal,
    concurrency: number,
    interrupted: () => NodeJS.Signals | undefined,
  ): Promise<ManyResult> {
    const {runMany} = await import('../pipeline/push.js')
    const {formatSteps, formatSummary} = await import('../pipeline/report.js')
    const {results, failures} = await runMany(states, renderer, signal, concurrency)
    const targets: ManyResult['targets'] = results.map((result, index) => {
      const error = failures.get(index)
      if (error === undefined) return result
      return {
        ...result,
        status: 'failed',
        error: {kind: error.kind, exitCode: error.exitCode, message: error.message, hint: error.hint},
      }
    })
    if (!this.jsonEnabled()) {
      for (const [index, result] of targets.entries()) {
        const failure = failures.get(index)
        if (failure === undefined) this.print(formatSummary(result as PushResult))
        else
          this.logToStderr(
            this.redact(`Failed ${result.target}: ${failure.message} (${formatSteps(result as PushResult)})`),
          )
      }
    }
    const signalName = interrupted()
    if (signalName !== undefined) {
      this.partialResult = {dryRun: false, targets}
      throw interruptedError(signalName, undefined)!
    }
    appendStepSummary(process.env, targets as Parameters<typeof appendStepSummary>[1], (text) =>
      this.redact(text),
    )
    if (inGithubActions(process.env)) {
      for (const [index, failure] of failures) {
        const message = `${states[index]!.config.target.name}: ${failure.message}`
        process.stderr.write(`${this.redact(annotationFor({...failure, message}))}\n`)
      }
      this.annotated = failures.size > 0
    }
    if (failures.size === 0) return {status: 'pushed', dryRun: false, targets}
    // The exit code of the first failed target (in the order given) says that something failed.
    const [firstIndex, reason] = [...failures.entries()].sort(([a], [b]) => a - b)[0]!
    this.partialResult = {dryRun: false, targets}
    throw new DeployError(
      reason.kind,
      `${failures.size} of ${states.length} targets failed; first: ${states[firstIndex]!.config.target.name}: ${reason.message}`,
      {
        ...(reason.hint === undefined ? {} : {hint: reason.hint}),
      },
    )
  }

  /** In GitHub Actions every failure is also an `::error` annotation (on stderr: stdout may be JSON). */
  protected override async catch(
    err: Error & {oclif?: {exit?: number}; exitCode?: number},
  ): Promise<unknown> {
    if (inGithubActions(process.env) && err instanceof DeployError && !this.annotated)
      process.stderr.write(`${this.redact(annotationFor(err))}\n`)
    return super.catch(err)
  }
}

function interruptedError(
  signalName: NodeJS.Signals | undefined,
  state: DeployState | undefined,
): DeployError | undefined {
  if (signalName === undefined) return undefined
  const running = state?.steps.find((step) => step.status === 'interrupted')
  return new DeployError(
    signalName === 'SIGINT' ? 'interruptedSigint' : 'interruptedSigterm',
    `Interrupted by ${signalName}${running === undefined ? '' : ` during ${running.id}`}.`,
  )
}
