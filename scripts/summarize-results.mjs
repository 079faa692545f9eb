#!/usr/bin/env node
// Sums vitest JSON reports into the one closing line CI reads: "N passed, N failed".
// A report that is missing (a run that crashed before writing it) counts as a failure, and so does
// a run that failed outside any test (a global setup that threw, an unhandled error): vitest then
// writes a report with no failed test and "success": false. Such a run's error is printed from
// its log (REPORT.log beside REPORT.json) just above the closing line, because CI shows only the
// tail of the output.
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

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

// --host-leaks FILE: what the end-to-end stack's stop left on the machine (test/e2e/global-setup.ts
// writes it: a bridge, an iptables rule, ...), one a line; anything is a failure.
const hostLeaksAt = args.indexOf('--host-leaks')
const hostLeaksFile = hostLeaksAt === -1 ? undefined : args.splice(hostLeaksAt, 2)[1]
if (hostLeaksFile !== undefined && existsSync(hostLeaksFile)) {
  const leaks = readFileSync(hostLeaksFile, 'utf8').split('\n').filter(Boolean)
  if (leaks.length > 0) {
    console.error(`the end-to-end stack's stop left ${leaks.length} changes on the machine:`)
    for (const leak of leaks.slice(0, 50)) console.error(`  ${leak}`)
    failed += 1
  }
}

// --require-tests: a whole run (not narrowed by arguments), where every report must have run tests:
// a report with none is a project that did not run (the end-to-end stack did not start, and vitest
// then wrote an empty report that says "success").
const requireTestsAt = args.indexOf('--require-tests')
const requireTests = requireTestsAt !== -1
if (requireTests) args.splice(requireTestsAt, 1)

// eslint-disable-next-line no-control-regex
const stripAnsi = (text) => text.replace(/\u001B\[[0-9;]*m/g, '')

const firstLine = (text) =>
  stripAnsi(text ?? '')
    .split('\n')[0]
    .slice(0, 300)

/** The lines around the first error vitest printed outside a test, from the run's log. */
function errorExcerpt(logFile) {
  if (!existsSync(logFile)) return [`(no log at ${logFile})`]
  const lines = stripAnsi(readFileSync(logFile, 'utf8')).split('\n')
  const at = lines.findIndex((line) => /Unhandled Error|Unhandled Rejection|^\s*Error: /.test(line))
  if (at === -1) return lines.filter(Boolean).slice(-25)
  // What ran just before (a setup script's own last words) and the error with its first frames.
  return lines.slice(Math.max(0, at - 20), at + 12).filter((line) => line.trim() !== '')
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
  // Each failed test in one line (the report, the file, the test, the first line of the message):
  // CI shows only the tail of a long log. A file that failed to load counts no test but is a
  // failure all the same.
  let failedFiles = 0
  for (const result of report.testResults) {
    const where = `${path.basename(file)}: ${path.relative(process.cwd(), result.name)}`
    if (result.status === 'failed' && result.assertionResults.length === 0) {
      failedFiles += 1
      console.error(`FAILED ${where} did not load: ${firstLine(result.message)}`)
    }
    for (const assertion of result.assertionResults.filter((each) => each.status === 'failed').slice(0, 20))
      console.error(`FAILED ${where} > ${assertion.fullName}: ${firstLine(assertion.failureMessages?.[0])}`)
  }
  failed += failedFiles
  if (requireTests && report.numTotalTests === 0) {
    failed += 1
    console.error(`${file}: the run ran no test; its error:`)
    for (const line of errorExcerpt(file.replace(/\.json$/, '.log'))) console.error(`  | ${line}`)
  } else if (report.success === false && report.numFailedTests === 0 && failedFiles === 0) {
    failed += 1
    console.error(`${file}: the run failed outside any test (${report.numTotalTests} tests ran); its error:`)
    for (const line of errorExcerpt(file.replace(/\.json$/, '.log'))) console.error(`  | ${line}`)
  }
}
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)
