import type {TestProject} from 'vitest/node'

import {startMoto} from './helpers/moto.js'

declare module 'vitest' {
  export interface ProvidedContext {
    motoUrl: string
  }
}

/** One moto server (the ECR/STS stand-in) on loopback for the whole run, stopped by pid at the end. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const moto = await startMoto()
  project.provide('motoUrl', moto.url)
  return () => moto.stop()
}
