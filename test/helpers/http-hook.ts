import type * as HttpModule from '../../src/systems/http.js'
import type {HttpRequest} from '../../src/systems/http.js'

type Fetch = typeof HttpModule.httpFetch

/**
 * Each HTTP call of the code under test, through `http.rewrite` when a test sets it (to alter an
 * answer or stand in for one). A test file hooks src/systems/http.js with
 * `vi.mock('…/src/systems/http.js', async (real) => (await import('…/helpers/http-hook.js')).hooked(real))`.
 */
export const http: {
  rewrite: ((input: string, init: HttpRequest, realFetch: Fetch) => Promise<Response>) | undefined
} = {
  rewrite: undefined,
}

export async function hooked(importOriginal: () => Promise<typeof HttpModule>): Promise<typeof HttpModule> {
  const real = await importOriginal()
  return {
    ...real,
    httpFetch: (input: string, init: HttpRequest = {}) =>
      http.rewrite === undefined ? real.httpFetch(input, init) : http.rewrite(input, init, real.httpFetch),
  }
}
