#!/usr/bin/env node
// Sums vitest JSON reports into the one closing line CI reads: "N passed, N failed".
// A report that is missing (a run that crashed before writing it) counts as a failure.
import {existsSync, readFileSync} from 'node:fs'

let passed = 0
let failed = 0
let skipped = 0
const args = process.argv.slice(2)
// --leftovers FILE: what the run left in its temp folder, one path a line; anything is a failure.
const leftoversAt = args.indexOf('--leftovers')
const leftoversFile = leftoversAt === -1 ? undefined : args.splice(leftoversAt, 2)[1]
if (leftoversFile !== undefined && existsSync(leftoversFile)) {
  const leftovers = readFileSync(leftoversFile, 'utf8').split('\n').filter(Boolean)
  if (leftovers.length > 0) {
    console.error(`the tests left ${leftovers.length} entries in their temp folder:`)
    for (const entry of leftovers.slice(0, 50)) console.error(`  ${entry}`)
    failed += 1
  }
}
for (const file of args) {
  if (!existsSync(file)) {
    console.error(`missing test report ${file}`)
    failed += 1
    continue
  }
  const report = JSON.parse(readFileSync(file, 'utf8'))
  passed += report.numPassedTests
  failed += report.numFailedTests
  skipped += report.numPendingTests + (report.numTodoTests ?? 0)
  // A file that failed to load counts no test but is a failure all the same.
  failed += report.testResults.filter(
    (result) => result.status === 'failed' && result.assertionResults.length === 0,
  ).length
}
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)
