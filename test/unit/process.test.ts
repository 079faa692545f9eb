import {describe, expect, it} from 'vitest'

import {Ledger, withLedger} from '../../src/ledger.js'
import {formatCommand, lastLines, runChild} from '../../src/process.js'
import {SecretRegistry} from '../../src/secrets.js'

const PASSWORD = 'eyJwYXlsb2FkIjoiVGhpc0lzQVNlY3JldFBhc3N3b3Jk'

/** Every line a node child prints for `script`, with PASSWORD registered as a secret. */
async function linesOf(script: string): Promise<string[]> {
  const secrets = new SecretRegistry()
  secrets.add(PASSWORD)
  const lines: string[] = []
  const result = await runChild({
    command: process.execPath,
    args: ['-e', script],
    cwd: process.cwd(),
    baseEnv: {PATH: process.env.PATH ?? '', PASSWORD},
    secrets,
    onLine: (line) => lines.push(line),
  })
  expect(result.exitCode).toBe(0)
  return lines
}

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

  it('passes output as blocks of whole lines, the same text as line by line', async () => {
    const secrets = new SecretRegistry()
    secrets.add(PASSWORD)
    const lines: string[] = []
    const blocks: string[] = []
    const result = await runChild({
      command: process.execPath,
      args: [
        '-e',
        // ~3 MB in writes that cut lines anywhere, a secret in some of them, \r\n line ends.
        'let s = ""; for (let i = 0; i < 30000; i++) s += `line ${i} ${i % 1000 === 0 ? process.env.PASSWORD : "x".repeat(90)}\\r\\n`; for (let i = 0; i < s.length; i += 4099) process.stdout.write(s.slice(i, i + 4099))',
      ],
      cwd: process.cwd(),
      baseEnv: {PATH: process.env.PATH ?? '', PASSWORD},
      secrets,
      onLine: (line) => lines.push(line),
      onBlock: (block) => blocks.push(block.text),
    })
    expect(result.exitCode).toBe(0)
    expect(blocks.length).toBeGreaterThan(1)
    expect(blocks.length).toBeLessThan(lines.length / 10)
    expect(blocks.join('\n')).toBe(lines.join('\n'))
    expect(lines.slice(0, 30000)).toEqual(
      Array.from({length: 30000}, (_, i) => `line ${i} ${i % 1000 === 0 ? '********' : 'x'.repeat(90)}`),
    )
    expect(result.tail).toEqual(lines.slice(-40))
  })

  it('stops reading while whoever shows the output is behind: the child waits on its full pipe', async () => {
    let catchUp!: () => void
    const behind = new Promise<void>((resolve) => {
      catchUp = resolve
    })
    let lines = 0
    let blocks = 0
    let settled = false
    // 8 MiB of 8-byte lines, far more than a pipe and a stream's buffer hold.
    const running = runChild({
      command: 'sh',
      args: ['-c', 'yes xxxxxxx | head -c 8388608'],
      cwd: process.cwd(),
      baseEnv: {PATH: process.env.PATH ?? ''},
      secrets: new SecretRegistry(),
      onBlock: (block) => {
        blocks++
        lines += block.lines().length
      },
      // Behind after the first block, until catchUp().
      outputReady: () => (blocks === 1 ? behind : undefined),
    }).finally(() => {
      settled = true
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect({blocks, settled}).toEqual({blocks: 1, settled: false})
    catchUp()
    const result = await running
    expect(result.exitCode).toBe(0)
    expect(lines).toBe(8388608 / 8)
  })

  it('reads stdout and stderr both, each whole line once, and stops both while the output is behind', async () => {
    let catchUp!: () => void
    const behind = new Promise<void>((resolve) => {
      catchUp = resolve
    })
    const seen: string[] = []
    let blocks = 0
    let settled = false
    // 4 MiB on each pipe: both fill up while the reading is stopped.
    const running = runChild({
      command: 'sh',
      args: ['-c', '(yes out | head -c 4194304) & (yes err | head -c 4194304 >&2); wait; echo done'],
      cwd: process.cwd(),
      baseEnv: {PATH: process.env.PATH ?? ''},
      secrets: new SecretRegistry(),
      tailLines: 2,
      onBlock: (block) => {
        blocks++
        seen.push(...block.lines())
      },
      outputReady: () => (blocks === 1 ? behind : undefined),
    }).finally(() => {
      settled = true
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect({blocks, settled}).toEqual({blocks: 1, settled: false})
    catchUp()
    const result = await running
    expect(result.exitCode).toBe(0)
    // A chunk of one pipe may end in the middle of a line of the other (as execa's merged
    // stream did): count the whole lines of each.
    expect(seen.filter((line) => line === 'out').length).toBeGreaterThan(4194304 / 4 - 200)
    expect(seen.filter((line) => line === 'err').length).toBeGreaterThan(4194304 / 4 - 200)
    // The two pipes are read as their data arrives: the rest of stderr may come after stdout's
    // last line, so the tail ends with either (never anything but these two kinds of line).
    expect(seen.filter((line) => line === 'done')).toHaveLength(1)
    expect(result.tail).toHaveLength(2)
    for (const line of result.tail) expect(['out', 'err', 'done']).toContain(line)
  })

  it('lastLines takes the last lines of a block from its end', () => {
    expect(lastLines('a\nb\nc', 2)).toEqual(['b', 'c'])
    expect(lastLines('a\nb\nc', 5)).toEqual(['a', 'b', 'c'])
    expect(lastLines('a\n', 1)).toEqual([''])
    expect(lastLines('', 3)).toEqual([''])
    expect(lastLines('a\nb', 0)).toEqual([])
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

  it('redacts a secret that straddles the 64 KiB cut of a very long line', async () => {
    // 65,520 characters then the password: the first 64 KiB piece ends inside the password.
    const lines = await linesOf('process.stdout.write("x".repeat(65520) + process.env.PASSWORD + "\\n")')
    const shown = lines.join('\n')
    expect(shown).not.toContain(PASSWORD.slice(0, 16))
    expect(shown).not.toContain(PASSWORD.slice(-16))
    expect(lines.join('')).toBe(`${'x'.repeat(65520)}********`)
  })

  it('redacts a secret split across two chunks of a line longer than the cut', async () => {
    const lines = await linesOf(
      [
        'const half = process.env.PASSWORD.length / 2',
        // Exactly 64 KiB: one read that is cut whole, ending in the first half of the password.
        'process.stdout.write("y".repeat(65536 - half) + process.env.PASSWORD.slice(0, half))',
        // A pause, so the two halves arrive as two reads.
        'setTimeout(() => process.stdout.write(process.env.PASSWORD.slice(half) + " end\\n"), 200)',
      ].join(';'),
    )
    const shown = lines.join('\n')
    expect(shown).not.toContain(PASSWORD.slice(0, 10))
    expect(shown).not.toContain(PASSWORD.slice(-10))
    expect(lines.join('')).toBe(`${'y'.repeat(65536 - PASSWORD.length / 2)}******** end`)
  })

  it('records each spawn in the current ledger, secrets redacted', async () => {
    const secrets = new SecretRegistry()
    secrets.add('topsecret-value')
    const ledger = new Ledger()
    await withLedger(ledger, () =>
      runChild({
        command: process.execPath,
        args: ['-e', '0', 'topsecret-value'],
        cwd: process.cwd(),
        baseEnv: {},
        env: {MODE: 'a b'},
        secrets,
      }),
    )
    expect(ledger.entries).toEqual([{kind: 'spawn', call: `MODE='a b' ${process.execPath} -e 0 ********`}])
    // A missing executable was still an attempt to run it.
    const missing = new Ledger()
    await withLedger(missing, () =>
      runChild({
        command: 'definitely-not-installed-xyz',
        args: [],
        cwd: '/',
        baseEnv: {PATH: '/nonexistent'},
        secrets,
      }),
    )
    expect(missing.entries).toEqual([{kind: 'spawn', call: 'definitely-not-installed-xyz'}])
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
