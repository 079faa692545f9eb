// The floor of start-up for any oclif CLI (issue 14): one trivial command, bundled by
// scripts/bundle.mjs exactly as mldeploy is, with the same plugins and manifest. The bench runs
// `hello --help` and `hello` beside mldeploy's commands: what oclif alone costs on this machine.
import {Command, Flags} from '@oclif/core'

class Hello extends Command {
  static override description = 'Say hello.'
  static override flags = {
    name: Flags.string({description: 'Who to greet.'}),
    loud: Flags.boolean({description: 'Shout.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Hello)
    this.log(`hello ${flags.name ?? 'world'}${flags.loud ? '!' : ''}`)
  }
}

export const COMMANDS = {hello: Hello}

export {execute} from '@oclif/core'
