// The explicit command index (package.json oclif.commands, strategy "explicit"): the bundled build
// holds every command in a few files, so oclif finds them here instead of globbing dist/commands.
import BuilderSetup from './commands/builder/setup.js'
import Deploy from './commands/deploy.js'
import Doctor from './commands/doctor.js'
import Init from './commands/init.js'
import Inspect from './commands/inspect.js'
import List from './commands/list.js'
import Migrate from './commands/migrate.js'
import Promote from './commands/promote.js'
import Push from './commands/push.js'
import Version from './commands/version.js'

export const COMMANDS = {
  'builder:setup': BuilderSetup,
  deploy: Deploy,
  doctor: Doctor,
  init: Init,
  inspect: Inspect,
  list: List,
  migrate: Migrate,
  promote: Promote,
  push: Push,
  version: Version,
}

export {execute, run} from '@oclif/core'
