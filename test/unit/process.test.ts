import {describe, expect, it} from 'vitest'

import {formatCommand, runChild} from '../../src/process.js'
import {SecretRegistry} from '../../src/secrets.js'

describe('runChild', () => {
  it('streams lines, keeps only a tail, strips ANSI and redacts secrets', async () => {
    const secrets = new SecretRegistry()
    secrets.add('hunter22-secret')
    const lines: string[] = []
    const result = await runChild({
      command: process.execPath,
      args: [
        '-e',
        'for (let i = 0; i < 100; i++) console.log(`line ${i}`); console.log("\\u001b[31mred hunter22-secret\\u001b[0m"); process.exit(3)',
      ],
      cwd: process.cwd(),
      baseEnv: {PATH: process.env.PATH ?? ''},
      secrets,
      tailLines: 5,
      onLine: (line) => lines.push(line),
    })
    expect(result.exitCode).toBe(3)
    expect(lines).toHaveLength(101)
    expect(result.tail).toEqual(['line 96', 'line 97', 'line 98', 'line 99', 'red ********'])
  })

  it('writes input to stdin and reports a missing executable', async () => {
    const secrets = new SecretRegistry()
    const echoed = await runChild({
      command: process.execPath,
      args: ['-e', 'process.stdin.on("data", (d) => process.stdout.write(String(d).length + "\\n"))'],
      cwd: process.cwd(),
      baseEnv: {},
      input: 'twelve chars',
      secrets,
    })
    expect(echoed.tail).toEqual(['12'])
    const missing = await runChild({
      command: 'definitely-not-installed-xyz',
      args: [],
      cwd: process.cwd(),
      baseEnv: {PATH: '/nonexistent'},
      secrets,
    })
    expect(missing.spawnErrorCode).toBe('ENOENT')
  })

  it('formats commands for people: quoted, env first, secrets redacted', () => {
    const secrets = new SecretRegistry()
    secrets.add('topsecret')
    expect(
      formatCommand(
        {command: 'podman', args: ['push', 'a b', 'x=topsecret'], cwd: '/', env: {K: 'v'}},
        secrets,
      ),
    ).toBe("K=v podman push 'a b' x=********")
  })
})
