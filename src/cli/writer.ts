/** Somewhere to write text: stdout or stderr, or a buffer in tests. */
export interface Writer {
  write(text: string): void
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
    write(text: string): void {
      if (broken) return
      try {
        stream.write(text)
      } catch {
        broken = true
      }
    },
  }
}
