#!/usr/bin/env node
// Started as mldeploy is: bin/load-bundle.cjs (copied here by the bench) compiles the bundle with
// its code cache, under this CLI's own name (its cache folder is OCLIF_FLOOR_CACHE_DIR).
'use strict'
const {loadBundle} = require('./load-bundle.cjs')
loadBundle(
  require('node:path').join(__dirname, '..', 'dist', 'index.cjs'),
  process.argv.slice(2),
  'oclif-floor',
).execute({
  dir: __filename,
})
