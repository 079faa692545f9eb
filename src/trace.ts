import type {AsyncLocalStorage} from 'node:async_hooks'

/**
 * An opt-in timeline of one run, for finding where a push's time goes (bench/RESULTS.md, issue
 * 23): `MLDEPLOY_TRACE=<file>` writes one JSON line per step, per HTTP request (the AWS SDK's and
 * mldeploy's own, seen through node:http's diagnostics channels) and per child process, each with
 * its start and end (epoch milliseconds, as the bench's child log) and the step it ran in, plus a
 * last line with the process's own CPU time (`process.cpuUsage()`: children excluded). Without the
 * variable nothing is loaded or recorded. The file is written once, synchronously, at exit.
 */
export interface TraceSpan {
  kind: 'step' | 'http' | 'spawn'
  name: string
  step?: string
  start: number
  end?: number
}

let spans: TraceSpan[] | undefined
let steps: AsyncLocalStorage<string> | undefined

const now = (): number => performance.timeOrigin + performance.now()

/** Starts recording when MLDEPLOY_TRACE names a file (idempotent); a no-op otherwise. */
export function startTrace(env: NodeJS.ProcessEnv = process.env): void {
  const file = env.MLDEPLOY_TRACE
  if (file === undefined || file === '' || spans !== undefined) return
  const recorded: TraceSpan[] = []
  spans = recorded
  steps = new (process.getBuiltinModule('node:async_hooks').AsyncLocalStorage)<string>()
  const channels = process.getBuiltinModule('node:diagnostics_channel')
  channels.subscribe('http.client.request.start', (message) => {
    const {request} = message as {
      request: {method: string; host: string; path: string; once(event: 'close', listener: () => void): void}
    }
    // The path only: a presigned URL's query holds its signature.
    const span = openSpan('http', `${request.method} ${request.host}${request.path.split('?')[0]}`)
    request.once('close', () => closeSpan(span))
  })
  process.once('exit', () => {
    const cpu = process.cpuUsage()
    const lines = recorded.map((span) => JSON.stringify(span))
    lines.push(
      JSON.stringify({kind: 'cpu', userMs: cpu.user / 1000, systemMs: cpu.system / 1000, end: now()}),
    )
    try {
      process.getBuiltinModule('node:fs').writeFileSync(file, `${lines.join('\n')}\n`)
    } catch {
      // A trace is a diagnostic: a file that cannot be written changes nothing else.
    }
  })
}

/** A span that starts now (undefined when not tracing); close it with `closeSpan`. */
export function openSpan(kind: TraceSpan['kind'], name: string): TraceSpan | undefined {
  if (spans === undefined) return undefined
  const step = steps?.getStore()
  const span: TraceSpan = {kind, name, ...(step === undefined ? {} : {step}), start: now()}
  spans.push(span)
  return span
}

export function closeSpan(span: TraceSpan | undefined): void {
  if (span !== undefined) span.end = now()
}

/** Runs a step's body with its calls attributed to it, as one span. */
export async function traceStep<T>(id: string, body: () => Promise<T>): Promise<T> {
  if (steps === undefined) return body()
  const span = openSpan('step', id)
  try {
    return await steps.run(id, body)
  } finally {
    closeSpan(span)
  }
}
