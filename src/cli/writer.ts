/** Somewhere to write text: stdout or stderr, or a buffer in tests. */
export interface Writer {
  /**
   * Text; with `latin1`, a string whose characters are the bytes to write, each below 256 (a
   * child's UTF-8 output passed on as it is, never decoded).
   */
  write(text: string, encoding?: 'latin1'): void
  /**
   * When the reader is behind (a CI runner reading a pipe slower than a build prints): a promise
   * that resolves once it has caught up. Whoever feeds this writer from a child waits for it, so
   * the child waits too instead of its output piling up in memory.
   */
  ready?(): Promise<void> | undefined
}

/**
 * A stream that may be gone: after SIGHUP the terminal answers writes with EIO, and a closed pipe
 * with EPIPE. Output is best effort then; clean-up and the exit code must not depend on it.
 */
export function safeWriter(stream: NodeJS.WriteStream): Writer {
  let broken = false
  let caughtUp: Promise<void> | undefined
  stream.on('error', () => {
    broken = true
  })
  return {
    ready(): Promise<void> | undefined {
      if (broken || !stream.writableNeedDrain) return undefined
      // A stream that breaks instead of draining releases the waiters too.
      caughtUp ??= new Promise<void>((resolve) => {
        const done = (): void => {
          stream.off('drain', done).off('error', done).off('close', done)
          caughtUp = undefined
          resolve()
        }
        stream.on('drain', done).on('error', done).on('close', done)
      })
      return caughtUp
    },
    write(text: string, encoding?: 'latin1'): void {
      if (broken) return
      try {
        stream.write(text, encoding ?? 'utf8')
      } catch {
        broken = true
      }
    },
  }
}
