import path from 'node:path'

import {defineConfig} from 'vitest/config'

/** The suite's cache folder (scripts/lib.sh): the venv, the base image, the stack's state. */
const CACHE = process.env.MLDEPLOY_CACHE ?? path.resolve(import.meta.dirname, '.cache')

export default defineConfig({
  test: {
    // @oclif/test's runCommand captures nothing unless vitest leaves the console alone.
    disableConsoleIntercept: true,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Removes the temp folders each test file made.
    setupFiles: ['test/setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'default',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          // One moto server (the ECR/STS stand-in) on loopback for the orchestration tests.
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // The real stack (moto, registry, mlflow, dockerd) is started once by scripts/stack.sh.
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 30 * 60_000,
          hookTimeout: 30 * 60_000,
          // Real builds share one BentoML store, one podman store and one registry: one file at a time.
          fileParallelism: false,
          // The end-to-end tests run the CLI with the environment they run in: its code caches
          // (bin/load-bundle.cjs) go to the suite's cache folder, not to the user's ~/.cache.
          env: {MLDEPLOY_CACHE_DIR: path.join(CACHE, 'e2e-code-cache')},
        },
      },
    ],
  },
})
