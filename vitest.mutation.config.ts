import {defineConfig} from 'vitest/config'

/**
 * The unit tests alone, for mutation testing (`npm run mutation`, scripts/mutation.sh): only tests
 * that import src/ in-process can kill a mutant; the CLI run as a child process cannot.
 */
export default defineConfig({
  test: {
    disableConsoleIntercept: true,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    setupFiles: ['test/setup.ts'],
    // MLDEPLOY_MUTATION_TESTS (comma-separated globs) narrows the run to the tests of one folder:
    // a static mutant (module-level code) reruns every included test, which is what makes runs long.
    include: process.env.MLDEPLOY_MUTATION_TESTS?.split(',') ?? ['test/unit/**/*.test.ts'],
    // test/unit/systems/aws/http.test.ts talks to the moto stand-in.
    globalSetup: ['test/global-setup.ts'],
  },
})
