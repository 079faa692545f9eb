#!/usr/bin/env node
// The AWS SDK warns about Node 20 on stderr; that noise would reach users and --json consumers.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

// `mldeploy --version` is asked often (scripts, bug reports): answer it in oclif's format without
// loading oclif, which is most of the start-up time.
if (process.argv.length === 3 && process.argv[2] === '--version') {
  const {readFileSync} = await import('node:fs')
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(
    `${pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`,
  )
} else {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
