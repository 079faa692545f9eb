/**
 * The steps of a push, in order. A leaf module (it imports nothing), so settings can name steps
 * (`--timeout build=...`) without importing the engine's state, and the engine its settings.
 */
export const STEP_IDS = [
  'preflight',
  'import',
  'build',
  'reuse',
  'containerize',
  'login',
  'push',
  'serving',
  'scan',
  'tag',
  'verify',
] as const
export type StepId = (typeof STEP_IDS)[number]
