import type {DeployError} from '../errors.js'
import type {IoHost, StepEnd, StepRef} from '../pipeline/io-host.js'
import {type Writer} from './writer.js'

const MARK: Record<StepEnd, string> = {done: '✔', failed: '✖', interrupted: '■', skipped: '↓'}

function clock(): string {
  const now = new Date()
  const two = (n: number): string => String(n).padStart(2, '0')
  return `[${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}]`
}

/**
 * Progress as timestamped lines on stderr, for CI logs, pipes and --json: one line when a step
 * starts and ends, and a child's output as it comes, a chunk at a time (one timestamp and one
 * write per chunk, so a 500 MB build log passes at the child's pace). Nothing is dropped.
 */
export class LineHost implements IoHost {
  constructor(private readonly stderr: Writer) {}

  private label(step: StepRef): string {
    return step.target === undefined ? '' : `[${step.target}] `
  }

  runStarted(): void {}

  stepStarted(step: StepRef): void {
    this.stderr.write(`${clock()} ▶ ${this.label(step)}${step.title}\n`)
  }

  stepOutput(step: StepRef, text: string): void {
    const prefix = `${clock()}   ${this.label(step)}`
    this.stderr.write(`${prefix}${text.includes('\n') ? text.replaceAll('\n', `\n${prefix}`) : text}\n`)
  }

  stepEnded(step: StepRef, end: StepEnd, durationMs: number, error?: DeployError): void {
    if (end === 'skipped') return
    const took = `${(durationMs / 1000).toFixed(1)} s`
    const why = end === 'done' || error === undefined ? '' : `: ${error.message}`
    this.stderr.write(`${clock()} ${MARK[end]} ${this.label(step)}${step.title} (${took})${why}\n`)
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
  override stepEnded(): void {}
}
