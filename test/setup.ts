import {afterAll} from 'vitest'

import {removeTempDirs} from './helpers/cli.js'

// Runs in every test file: the folders its tests made go when the file is done
// (scripts/test.sh fails a run that leaves anything in its temp folder).
afterAll(() => {
  removeTempDirs()
})
