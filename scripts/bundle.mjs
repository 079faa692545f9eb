#!/usr/bin/env node
// Bundles the CLI into dist/ with esbuild (issue 14): oclif, our code and the packages it uses
// become a few files, which Node loads several times faster than the ~400 files of node_modules.
// Entry points: the command index (package.json oclif.commands, strategy "explicit") and the
// command_not_found hook. Whatever is imported dynamically (the AWS SDK, listr2, execa, the
// pipeline) is split into chunks loaded only when a step needs it.
import {rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const outdir = path.resolve(root, process.argv[2] ?? 'dist')

rmSync(outdir, {recursive: true, force: true})
const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/index.ts', 'src/cli/hooks/command-not-found.ts'],
  outbase: 'src',
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS packages (oclif, the AWS SDK) call require() for Node's modules: give them one.
  banner: {
    js: "import {createRequire as __mldeployCreateRequire} from 'node:module'; const require = __mldeployCreateRequire(import.meta.url);",
  },
  // Optional native or peer modules that the packages only try to load.
  // typescript: oclif reads a tsconfig.json with it only when run from a source checkout (dev mode).
  external: ['@aws-sdk/signature-v4-crt', 'aws-crt', 'typescript'],
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  metafile: true,
  logLevel: 'warning',
})
// What went where, for `npx esbuild-visualizer` or a look by hand: BUNDLE_META=file.json.
if (process.env.BUNDLE_META) writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile))
