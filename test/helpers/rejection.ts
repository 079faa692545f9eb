import {expect} from 'vitest'

/**
 * The error a promise rejects with, checked to be of the given class: a promise that resolves, or
 * rejects with anything else, fails the test here rather than at a later property read.
 */
export async function rejectionOf<E extends Error>(
  promise: Promise<unknown>,
  kind: abstract new (...args: never[]) => E,
): Promise<E> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(kind)
  return error as E
}
