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

/**
 * The real local stack for the end-to-end tests: moto (ECR/STS), the CNCF registry with the
 * password moto hands out, an MLflow server and a private dockerd, all on loopback, started by
 * scripts/stack.sh and stopped by pid at the end. The example model is trained into that MLflow.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // One more try after a failed start (a server slow to come up on a busy machine, a port held a
  // moment too long): every end-to-end test depends on it. A second failure is the error.
  const start = await execa('bash', [STACK, 'start'], {stdio: 'inherit', reject: false})
  if (start.exitCode !== 0) {
    console.error(
      `scripts/stack.sh start failed (exit ${start.exitCode}): stopping what started, trying once more`,
    )
    await execa('bash', [STACK, 'stop'], {stdio: 'inherit', reject: false})
    await execa('bash', [STACK, 'start'], {stdio: 'inherit'})
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
    if (process.env.MLDEPLOY_KEEP_STACK !== '1') await execa('bash', [STACK, 'stop'], {stdio: 'inherit'})
  }
}
