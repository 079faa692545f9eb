import {BaseCommand} from '../cli/base-command.js'

export default class Version extends BaseCommand {
  static override summary = 'Print the version (the same as --version).'

  static override examples = [
    {description: 'For a bug report', command: 'mldeploy version'},
    {description: 'As one JSON object', command: 'mldeploy version --json'},
  ]

  public async run(): Promise<{version: string}> {
    await this.parse(Version)
    // oclif's --version line: name/version platform-arch node-version.
    if (!this.jsonEnabled()) this.print(this.config.userAgent)
    return {version: this.config.version}
  }
}
