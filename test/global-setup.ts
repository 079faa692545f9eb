import type {TestProject} from 'vitest/node'

import {startEcrLayers} from './helpers/ecr-layers.js'
import {startMoto} from './helpers/moto.js'

declare module 'vitest' {
  export interface ProvidedContext {
    motoUrl: string
  }
}

/**
 * One moto server (the ECR/STS stand-in) on loopback for the whole run, stopped by pid at the end,
 * reached through a front that adds ECR's GetDownloadUrlForLayer for the fake tool's image config.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const moto = await startMoto()
  const front = await startEcrLayers(moto.url)
  project.provide('motoUrl', front.url)
  return async () => {
    await front.close()
    await moto.stop()
  }
}
