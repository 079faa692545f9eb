#!/usr/bin/env node
// CommonJS, unlike the rest of the package: Node starts a CommonJS entry ~6 ms faster than an ES
// module (no module loader to set up), and this file is all that runs before the bundle.
'use strict'

// The AWS SDK warns on stderr about a Node it will stop supporting (it did on 20; 22's end of life
// is 2027-04-30); that noise would reach users and --json consumers.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

// `mldeploy --version` is asked often (scripts, bug reports): answer it in oclif's format without
// loading oclif, which is most of the start-up time.
// With --json (in any order), one JSON object like every other answer.
// `mldeploy version` is the same answer (src/commands/version.ts gives it when oclif runs).
const args = process.argv.slice(2)
const asked = args[0] === 'version' ? args.slice(1) : args
if (
  (args[0] === 'version' || asked.includes('--version')) &&
  asked.every((arg) => arg === '--version' || arg === '--json')
) {
  const pkg = require('../package.json')
  process.stdout.write(
    asked.includes('--json')
      ? `${JSON.stringify({version: pkg.version}, null, 2)}\n`
      : `${pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`,
  )
} else {
  const {loadBundle} = require('./load-bundle.cjs')
  // The bundle (npm run build) is compiled with a code cache; a tsc build (the bundle test's
  // reference) has no dist/index.cjs and is imported as it is.
  const bundle = loadBundle(require('node:path').join(__dirname, '..', 'dist', 'index.cjs'), args, 'mldeploy')
  const loaded = bundle === undefined ? import('../dist/index.js') : Promise.resolve(bundle)
  loaded.then(({execute}) => execute({dir: __filename}))
}
