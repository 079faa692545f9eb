// The floor for a Node reader (bench section 4): start the command with stdout and stderr piped,
// read both and drop every chunk; print the milliseconds from the spawn to the child's close, so
// Node's own start-up is not counted (mldeploy's build phase does not count it either).
import {spawn} from 'node:child_process'
import {performance} from 'node:perf_hooks'

const [command, ...args] = process.argv.slice(2)
const started = performance.now()
const child = spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe']})
child.stdout.on('data', () => {})
child.stderr.on('data', () => {})
const code = await new Promise((resolve) => child.on('close', resolve))
process.stdout.write(`${Math.round(performance.now() - started)}\n`)
process.exitCode = code ?? 1
