#!/usr/bin/env node
// The build (and so `npm pack`, whose prepack builds) needs the dev dependencies: esbuild bundles,
// oclif writes the manifest. Without them Node's stack trace says "Cannot find package 'esbuild'";
// this says what to run instead, in one line.
import {createRequire} from 'node:module'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(path.join(root, 'package.json'))
const BUILD_TOOLS = ['esbuild', 'oclif']

const missing = BUILD_TOOLS.filter((name) => {
  try {
    require.resolve(`${name}/package.json`)
    return false
  } catch {
    return true
  }
})
if (missing.length > 0) {
  process.stderr.write(
    `mldeploy: the build needs the dev dependencies (${missing.join(', ')} missing): run \`npm ci\` in ${root} first.\n`,
  )
  process.exit(1)
}
