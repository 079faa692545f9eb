import {AsyncLocalStorage} from 'node:async_hooks'

/**
 * What actually ran, recorded where it happens: the spawn in `src/process.ts`, the AWS SDK
 * middleware, the registry HTTP client, the TCP probe. The runner opens one ledger per step
 * (AsyncLocalStorage follows the step's awaits, also with several targets at once), so the step
 * records and `--json` show what ran, not a copy of what the step said it would run.
 *
 * `call` has the same shape as a step description's `calls`: `aws:ecr:PutImage`,
 * `http:PUT /v2/<repository>/manifests/<tag>`, `tcp:<host>:<port>`, and for a child the command
 * as `formatCommand` shows it (secrets redacted).
 */
export interface LedgerEntry {
  kind: 'spawn' | 'aws' | 'http' | 'tcp'
  call: string
}

export class Ledger {
  readonly entries: LedgerEntry[] = []

  record(entry: LedgerEntry): void {
    this.entries.push(entry)
  }
}

const current = new AsyncLocalStorage<Ledger>()

/** Run `body` with `ledger` receiving what the boundaries record. */
export function withLedger<T>(ledger: Ledger, body: () => Promise<T>): Promise<T> {
  return current.run(ledger, body)
}

/** Called by the boundaries; outside a step (a unit test, `list`) nothing is recorded. */
export function recordAction(entry: LedgerEntry): void {
  current.getStore()?.record(entry)
}
