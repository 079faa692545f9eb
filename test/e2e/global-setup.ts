import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import type {TestProject} from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    stackEnv: Record<string, string>
  }
}

const REPO = path.resolve(import.meta.dirname, '../..')
const STACK = path.join(REPO, 'scripts/stack.sh')

/** Parse the `export K='V'` lines that `scripts/stack.sh env` prints. */
export function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const match = /^export ([A-Z0-9_]+)='(.*)'$/.exec(line)
    if (match) env[match[1]!] = match[2]!.replace(/'\\''/g, "'")
  }
  return env
}

/** `scripts/stack.sh host-state`: the machine's network objects and the engines' paths. */
async function hostState(): Promise<string> {
  return (await execa('bash', [STACK, 'host-state'])).stdout
}

/**
 * What differs between two host states, each line with its section (`## iptables: -A ...`):
 * `added` is what the stack left behind, `removed` what it took away that was there before.
 */
export function hostDiff(before: string, after: string): {added: string[]; removed: string[]} {
  const keyed = (text: string): string[] => {
    let section = ''
    const lines: string[] = []
    for (const line of text.split('\n')) {
      if (line.startsWith('## ')) section = line.slice(3)
      else if (line.trim() !== '') lines.push(`${section}: ${line}`)
    }
    return lines
  }
  const was = new Set(keyed(before))
  const is = new Set(keyed(after))
  return {added: [...is].filter((line) => !was.has(line)), removed: [...was].filter((line) => !is.has(line))}
}

/**
 * The real local stack for the end-to-end tests: moto (ECR/STS), the CNCF registry with the
 * password moto hands out, an MLflow server and a private dockerd, all on loopback, started by
 * scripts/stack.sh and stopped by pid at the end. The example model is trained into that MLflow.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Issue 22 §8: after the stop, the machine has what it had before the start (bridges, iptables
  // chains and rules, forwarding, /run/netns...). A stack that was already running is no "before".
  const wasRunning = (await execa('bash', [STACK, 'status'], {reject: false})).exitCode === 0
  const before = await hostState()
  // One more try after a failed start (a server slow to come up on a busy machine, a port held a
  // moment too long): every end-to-end test depends on it. A second failure is the error.
  const start = await execa('bash', [STACK, 'start'], {stdio: 'inherit', reject: false})
  if (start.exitCode !== 0) {
    console.error(
      `scripts/stack.sh start failed (exit ${start.exitCode}): stopping what started, trying once more`,
    )
    await execa('bash', [STACK, 'stop'], {stdio: 'inherit', reject: false})
    const again = await execa('bash', [STACK, 'start'], {stdio: 'inherit', reject: false})
    if (again.exitCode !== 0) {
      // What did start (moto, the registry) must not outlive the run.
      await execa('bash', [STACK, 'stop'], {stdio: 'inherit', reject: false})
      throw new Error(`scripts/stack.sh start failed twice (exit ${again.exitCode}): see its output above`)
    }
  }
  const env = parseExports((await execa('bash', [STACK, 'env'])).stdout)
  await execa(env.MLDEPLOY_PYTHON ?? 'python3', ['train.py'], {
    cwd: path.join(REPO, 'examples/project'),
    env,
    extendEnv: false,
    stdio: 'inherit',
  })
  project.provide('stackEnv', env)
  return async () => {
    if (process.env.MLDEPLOY_KEEP_STACK === '1') return
    await execa('bash', [STACK, 'stop'], {stdio: 'inherit'})
    const {added, removed} = hostDiff(before, await hostState())
    const problems = [
      ...added.map((line) => `left after stop: ${line}`),
      ...(wasRunning ? [] : removed.map((line) => `gone after stop, there before start: ${line}`)),
    ]
    if (problems.length === 0) return
    // A throw here is only logged by vitest (exit 0, a passing report): fail the run by its exit
    // code, and tell scripts/test.sh through a file its summary counts.
    console.error(`scripts/stack.sh stop left the machine changed:\n  ${problems.join('\n  ')}`)
    process.exitCode = 1
    const file = process.env.MLDEPLOY_HOST_LEAKS_FILE
    if (file) writeFileSync(file, `${problems.join('\n')}\n`)
  }
}
