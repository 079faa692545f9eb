// `node --import ./bench/lib/trace-loads.mjs bin/run.cjs ...`: appends to $BENCH_TRACE_FILE every
// module file a command loads (ESM through a loader hook, CommonJS through Module._load).
import {appendFileSync} from 'node:fs'
import Module, {register} from 'node:module'

const file = process.env.BENCH_TRACE_FILE
if (file) {
  register('./trace-hooks.mjs', import.meta.url)
  const load = Module._load
  Module._load = function (request, parent, isMain) {
    try {
      appendFileSync(file, `${Module._resolveFilename(request, parent, isMain)}\n`)
    } catch {
      // Unresolvable here: let the real loader report it.
    }
    return load.apply(this, arguments)
  }
}
