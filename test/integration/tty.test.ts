import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeEach, describe, expect, inject, it} from 'vitest'

import {createRepository} from '../helpers/aws.js'
import {CLI, standInProject, tempDir, type StandInProject} from '../helpers/cli.js'
import {resetMoto} from '../helpers/moto.js'

// The task list as a person sees it: the bundled CLI at a real terminal (a tmux pane of its own
// server, on a private socket), the stand-ins and moto of the orchestration tests, and the screen
// read with `tmux capture-pane` while the push runs.
const motoUrl = inject('motoUrl')
const TMUX = '/usr/bin/tmux'
const socket = path.join(tempDir('tmux'), 'socket')

function tmux(...args: string[]): string {
  return execFileSync(TMUX, ['-S', socket, ...args], {encoding: 'utf8'})
}

const quote = (value: string): string => `'${value.replaceAll("'", `'\\''`)}'`

/**
 * Runs `mldeploy push` in a new tmux window and reads the screen every 50 ms until it has ended
 * (the script then prints `EXIT <code>`): every screen seen, in order, the last one with the end.
 */
async function pushAtTerminal(
  s: StandInProject,
  name: string,
  env: Record<string, string> = {},
): Promise<{screens: string[]; exitCode: number}> {
  const script = path.join(s.bin.dir, `${name}.sh`)
  const environment = {...s.env, TERM: 'xterm-256color', ...env}
  const assignments = Object.entries(environment).map(([key, value]) => `${key}=${quote(value)}`)
  const command = [process.execPath, CLI, 'push', 'modelA/V1', '--skip-vpn-check', '--skip-disk-check']
  writeFileSync(
    script,
    `cd ${quote(s.root)}\nenv -i ${assignments.join(' ')} ${command.map(quote).join(' ')}\necho "EXIT $?"\nexec sleep 600\n`,
  )
  if (existsSync(socket)) tmux('new-window', '-t', 'tty', '-n', name, `sh ${quote(script)}`)
  else tmux('new-session', '-d', '-s', 'tty', '-n', name, '-x', '250', '-y', '50', `sh ${quote(script)}`)
  const screens: string[] = []
  const deadline = Date.now() + 40_000
  for (;;) {
    const screen = tmux('capture-pane', '-p', '-t', `tty:${name}`)
    if (screens.at(-1) !== screen) screens.push(screen)
    const exit = /^EXIT (\d+)$/m.exec(screen)
    if (exit !== null) return {screens, exitCode: Number(exit[1])}
    if (Date.now() > deadline) throw new Error(`push did not end; last screen:\n${screen}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The lines of a screen from the one that starts with `mark title` (spinner or mark, then the title). */
function linesUnder(screen: string, title: string): string[] {
  const lines = screen.split('\n')
  const at = lines.findIndex((line) => line.includes(` ${title}`))
  return at === -1 ? [] : lines.slice(at)
}

let s: StandInProject

beforeEach(async () => {
  await resetMoto(motoUrl)
  await createRepository(motoUrl, 'modela/v1')
  s = standInProject(motoUrl)
})

afterAll(() => {
  // The server and every window in it (each window's script ends in a sleep).
  if (existsSync(socket)) tmux('kill-server')
})

describe('the task list at a terminal', () => {
  it("shows a long step's last lines under it, the push's layer counts, and a reused image as skipped", async () => {
    // A build that prints 200 lines over 2 s, and a push of 6 layers (3 already there), 0.3 s each.
    const first = await pushAtTerminal(s, 'first', {
      FAKE_BUILD_LINES: '200',
      FAKE_BUILD_MS: '2000',
      FAKE_PUSH_LAYERS: '6',
      FAKE_PUSH_LAYER_MS: '300',
      MLDEPLOY_BACKEND: 'docker',
    })
    expect(first.exitCode, first.screens.at(-1)).toBe(0)
    // While the build runs, its latest output lines are under its title: not only the first ones.
    const building = first.screens
      .map((screen) => linesUnder(screen, 'Build the bento'))
      .filter((lines) => lines.length > 1 && !lines[0]!.includes('✔'))
    const numbers = building.flatMap((lines) =>
      [/build output line (\d+) of 200/.exec(lines[1]!)?.[1]].filter((n) => n !== undefined).map(Number),
    )
    expect(numbers.length, first.screens.join('\n----\n')).toBeGreaterThan(2)
    expect(Math.max(...numbers)).toBeGreaterThan(100)
    // Four lines of it, in order, right under the running step.
    // (A screen caught mid-redraw may hold a partial line: one with four whole ones is looked for.)
    const tail = building.find((lines) =>
      lines.slice(1, 5).every((line) => /build output line \d+ of 200$/.test(line.trim())),
    )
    expect(tail, first.screens.join('\n----\n')).toBeDefined()
    const shown = tail!.slice(1, 5).map((line) => Number(/line (\d+) of/.exec(line)![1]))
    expect(shown).toEqual([shown[0]!, shown[0]! + 1, shown[0]! + 2, shown[0]! + 3])
    // The push's counts in its title while it runs, and the last ones kept when it ends.
    const pushing = first.screens.flatMap((screen) =>
      screen.split('\n').filter((line) => /Push the image \(\d\/6 layers done/.test(line)),
    )
    expect(pushing.some((line) => /\(\d\/6 layers done \(\d already there\), \d+s\)/.test(line))).toBe(true)
    expect(first.screens.at(-1)).toMatch(/✔ Push the image \(6\/6 layers done \(3 already there\), \d+s\)/)
    // Once it ended, the task list shows every step done (nothing was reused yet).
    expect(first.screens.at(-1)).toMatch(/✔ Containerize/)

    // The same content again: the repository has it, so containerize, login and push are skipped.
    const again = await pushAtTerminal(s, 'again', {MLDEPLOY_BACKEND: 'docker'})
    expect(again.exitCode, again.screens.at(-1)).toBe(0)
    const end = again.screens.at(-1)!
    expect(end).toMatch(
      /↓ Containerize \[skipped: reused \S+\/modela\/v1@sha256:[0-9a-f]{64} \(same content\)\]/,
    )
    expect(end).toMatch(/↓ Log in to the registry \[skipped: nothing to upload/)
    expect(end).toMatch(/↓ Push the image \[skipped: the repository already has this image/)
    expect(end).not.toMatch(/✔ (Containerize|Push the image)/)
  })

  it('says once, after the task list, a warning raised while the push ran; the reuse step says why it was skipped', async () => {
    // `bentoml get` fails: no content digest, so no reuse; the image is built and pushed.
    const run = await pushAtTerminal(s, 'nodigest', {FAKE_FAIL: 'get'})
    expect(run.exitCode, run.screens.at(-1)).toBe(0)
    const end = run.screens.at(-1)!
    expect(end).toMatch(/↓ Look for an image with the same content \[skipped: no content digest: /)
    expect(end.match(/Warning: No content digest/g)).toHaveLength(1)
    // Below the list, not inside it.
    const lines = end.split('\n')
    const warning = lines.findIndex((line) => line.startsWith('Warning: No content digest'))
    const lastStep = lines.findIndex((line) => line.includes('Verify the tags'))
    expect(warning).toBeGreaterThan(lastStep)
    expect(readFileSync(s.bin.log, 'utf8')).toContain('"step":"get"')
  })
})
