/**
 * A run's warnings: each kept once, in the order raised, for the result (--json, the job summary),
 * and shown once as it is raised as soon as the command says where to show them (its output
 * host). A warning raised before that (while settings are read) is shown when it does.
 */
export class WarningLog {
  readonly messages: string[] = []
  private show: ((message: string) => void) | undefined
  private readonly shown = new Set<string>()

  add(message: string): void {
    if (!this.messages.includes(message)) this.messages.push(message)
    this.showOnce(message)
  }

  /** Show every warning from now on with `show`; the ones raised so far and not shown yet, now. */
  showWith(show: (message: string) => void): void {
    this.show = show
    for (const message of this.messages) this.showOnce(message)
  }

  /** A warning of the result that was not raised here (a CodeBuild run's own), unless shown. */
  showOnce(message: string): void {
    if (this.show === undefined || this.shown.has(message)) return
    this.shown.add(message)
    this.show(message)
  }
}
