import type {DeployError} from '../errors.js'
import type {OutputBlock} from '../output-block.js'
import type {IoHost, StepEnd, StepRef} from '../pipeline/io-host.js'
import {type Writer} from './writer.js'

const MARK: Record<StepEnd, string> = {done: '✔', failed: '✖', interrupted: '■', skipped: '↓'}

function clock(): string {
  const now = new Date()
  const two = (n: number): string => String(n).padStart(2, '0')
  return `[${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}]`
}

export const PROGRESS_EVERY_MS = 10_000

const progressKey = (step: StepRef): string => `${step.target ?? ''}\u0000${step.id}`

/**
 * Progress as timestamped lines on stderr, for CI logs, pipes and --json: one line when a step
 * starts and ends, and a child's output as it comes, a chunk at a time (one timestamp and one
 * write per chunk, so a 500 MB build log passes at the child's pace). Nothing is dropped.
 */
export class LineHost implements IoHost {
  /** When each running step started or last printed its progress (one line per 10 s at most). */
  private readonly progressShown = new Map<string, number>()

  constructor(
    private readonly stderr: Writer,
    private readonly now: () => number = () => performance.now(),
  ) {}

  private label(step: StepRef): string {
    return step.target === undefined ? '' : `[${step.target}] `
  }

  runStarted(): void {}

  stepStarted(step: StepRef): void {
    this.progressShown.set(progressKey(step), this.now())
    this.stderr.write(`${clock()} ▶ ${this.label(step)}${step.title}\n`)
  }

  stepOutput(step: StepRef, output: OutputBlock): void {
    const prefix = `${clock()}   ${this.label(step)}`
    if (!output.hasBytes) {
      const text = output.text
      this.stderr.write(`${prefix}${text.includes('\n') ? text.replaceAll('\n', `\n${prefix}`) : text}\n`)
      return
    }
    // A child's bytes are prefixed as they are, never decoded: as latin1 every byte is one
    // character, so the UTF-8 of the prefix and of the output come out byte for byte.
    const bytes = output.bytes
    const start = Buffer.from(prefix, 'utf8').toString('latin1')
    const text = bytes.toString('latin1')
    this.stderr.write(
      `${start}${text.includes('\n') ? text.replaceAll('\n', `\n${start}`) : text}\n`,
      'latin1',
    )
  }

  outputReady(): Promise<void> | undefined {
    return this.stderr.ready?.()
  }

  /** A CI log gets a progress line when 10 s have passed since the step started or the last one. */
  stepProgress(step: StepRef, text: string): void {
    const key = progressKey(step)
    const last = this.progressShown.get(key) ?? this.now()
    if (this.now() - last < PROGRESS_EVERY_MS) return
    this.progressShown.set(key, this.now())
    this.stderr.write(`${clock()}   ${this.label(step)}${text}\n`)
  }

  stepEnded(step: StepRef, end: StepEnd, durationMs: number, error?: DeployError, reason?: string): void {
    this.progressShown.delete(progressKey(step))
    // A step skipped after a failure or an interrupt is said by the failure; one that ran says why.
    if (end === 'skipped' && reason === undefined) return
    const took = `${(durationMs / 1000).toFixed(1)} s`
    const skipped = reason === undefined ? '' : ` [skipped: ${reason}]`
    const why = end === 'done' || end === 'skipped' || error === undefined ? '' : `: ${error.message}`
    this.stderr.write(`${clock()} ${MARK[end]} ${this.label(step)}${step.title}${skipped} (${took})${why}\n`)
  }

  async runEnded(): Promise<void> {}

  warn(message: string): void {
    this.stderr.write(`Warning: ${message}\n`)
  }

  note(message: string): void {
    this.stderr.write(`${message}\n`)
  }
}

/** Only warnings and notes (--quiet). */
export class QuietHost extends LineHost {
  override stepStarted(): void {}
  override stepOutput(): void {}
  override stepProgress(): void {}
  override stepEnded(): void {}
}
