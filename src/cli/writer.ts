/** Somewhere to write text: stdout or stderr, or a buffer in tests. */
export interface Writer {
  /**
   * Text; with `latin1`, a string whose characters are the bytes to write, each below 256 (a
   * child's UTF-8 output passed on as it is, never decoded).
   */
  write(text: string, encoding?: 'latin1'): void
}

/**
 * A stream that may be gone: after SIGHUP the terminal answers writes with EIO, and a closed pipe
 * with EPIPE. Output is best effort then; clean-up and the exit code must not depend on it.
 */
export function safeWriter(stream: NodeJS.WriteStream): Writer {
  let broken = false
  stream.on('error', () => {
    broken = true
  })
  return {
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
