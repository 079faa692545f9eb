import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'

import {REPO_ROOT} from './cli.js'
import {cacheDir} from './moto.js'

/**
 * A clean copy of the checkout in `dest`: the files git would commit (tracked, and untracked ones
 * that are not ignored, so a local run tests the working tree as it is), without build output and
 * never `node_modules` (a worktree's is an untracked symlink to a shared folder: `npm ci` in the
 * copy would empty that folder).
 */
export async function cleanCopy(dest: string): Promise<void> {
  const listed = await execa('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
  })
  const files = String(listed.stdout)
    .split('\0')
    .filter((file) => file !== '' && file !== 'node_modules' && !file.startsWith('node_modules/'))
  for (const file of new Set(files)) {
    const from = path.join(REPO_ROOT, file)
    const to = path.join(dest, file)
    let stat
    try {
      stat = lstatSync(from)
    } catch {
      continue // deleted in the working tree, not yet in the index
    }
    mkdirSync(path.dirname(to), {recursive: true})
    if (stat.isSymbolicLink()) symlinkSync(readlinkSync(from), to)
    else copyFileSync(from, to)
  }
  if (existsSync(path.join(dest, 'node_modules'))) throw new Error(`${dest}/node_modules must not exist`)
}

/**
 * npm as the documented commands run it, kept fast and tidy: the suite's npm cache
 * (scripts/test.sh's `npm ci` fills it) preferred to the registry, and npm's own logs in `logs`
 * (removed with the test's folders) instead of ~/.npm/_logs.
 */
export function npmEnv(logs: string): Record<string, string> {
  return {
    // How this machine reaches the registry, as npm sees it on a user's machine: a proxy and the
    // CA of a TLS-inspecting one (without it npm retries each package it lacks for over a minute).
    ...registryAccessEnv(),
    npm_config_cache: path.join(cacheDir(), 'npm'),
    npm_config_prefer_offline: 'true',
    npm_config_logs_dir: logs,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    // npm >= 10.9 turns on Node's compile cache for itself, in $TMPDIR/node-compile-cache unless told.
    NODE_DISABLE_COMPILE_CACHE: '1',
  }
}

const REGISTRY_ACCESS = [
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'NO_PROXY',
  'no_proxy',
  'npm_config_registry',
  'npm_config_cafile',
  'npm_config_proxy',
  'npm_config_https_proxy',
]

function registryAccessEnv(): Record<string, string> {
  return Object.fromEntries(
    REGISTRY_ACCESS.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]])),
  )
}

/** The version in the checkout's package.json: what the installed copy must report and label. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {version: string}).version
}

/**
 * The fenced block of `lang` that follows the README heading `heading` (the first one after it).
 */
export function readmeBlock(heading: string, lang: string): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf(`\n${heading}\n`)
  if (start < 0) throw new Error(`README has no heading ${heading}`)
  const fence = readme.indexOf(`\n\`\`\`${lang}\n`, start)
  const end = readme.indexOf('\n```\n', fence + 1)
  if (fence < 0 || end < 0) throw new Error(`README has no ${lang} block after ${heading}`)
  return readme.slice(fence + `\n\`\`\`${lang}\n`.length, end + 1)
}

/** actionlint from setup-system.sh's lint-tools phase ($MLDEPLOY_CACHE/go/bin), else from PATH. */
export function actionlintBinary(): string {
  const fromCache = path.join(cacheDir(), 'go/bin/actionlint')
  return existsSync(fromCache) ? fromCache : 'actionlint'
}
