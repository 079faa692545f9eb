// Module hooks (run in the loader thread): append every loaded URL to $BENCH_TRACE_FILE.
import {appendFileSync} from 'node:fs'

export async function load(url, context, nextLoad) {
  if (process.env.BENCH_TRACE_FILE) appendFileSync(process.env.BENCH_TRACE_FILE, `${url}\n`)
  return nextLoad(url, context)
}
