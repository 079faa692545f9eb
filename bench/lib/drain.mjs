// The floors for a Node reader (bench section 4): start the command with stdout and stderr piped,
// read both, and print the milliseconds from the spawn to the child's close (Node's own start-up
// is not counted; mldeploy's build phase does not count it either). What is done with each chunk:
//   (default)  dropped: the floor for reading the pipes;
//   --write    written to this process's stderr as it is: the floor for reading and showing the
//              same bytes on the same kind of destination (mldeploy must show the output);
//   --prefix   cut into whole lines, each line prefixed with one timestamp per chunk, as mldeploy's
//              line host shows a child's output (a latin1 string, replaceAll, one write per chunk):
//              the floor of that format, without redaction, the engine or the steps.
import {spawn} from 'node:child_process'
import {performance} from 'node:perf_hooks'

const mode = process.argv[2]?.startsWith('--') ? process.argv[2] : undefined
const [command, ...args] = process.argv.slice(mode === undefined ? 2 : 3)
const started = performance.now()
const child = spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe']})
const clock = () => {
  const now = new Date()
  const two = (n) => String(n).padStart(2, '0')
  return `[${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}]   `
}
let carry = Buffer.alloc(0)
const prefixed = (chunk) => {
  const data = carry.length === 0 ? chunk : Buffer.concat([carry, chunk])
  const end = data.lastIndexOf(0x0a)
  if (end === -1) {
    carry = data
    return
  }
  carry = data.subarray(end + 1)
  const prefix = clock()
  process.stderr.write(
    `${prefix}${data.toString('latin1', 0, end).replaceAll('\n', `\n${prefix}`)}\n`,
    'latin1',
  )
}
const onChunk =
  mode === '--write' ? (chunk) => process.stderr.write(chunk) : mode === '--prefix' ? prefixed : () => {}
child.stdout.on('data', onChunk)
child.stderr.on('data', onChunk)
const code = await new Promise((resolve) => child.on('close', resolve))
if (carry.length > 0) process.stderr.write(`${clock()}${carry.toString('latin1')}\n`, 'latin1')
process.stdout.write(`${Math.round(performance.now() - started)}\n`)
process.exitCode = code ?? 1
