#!/usr/bin/env node
// The AWS SDK warns about Node 20 on stderr; that noise would reach users and --json consumers.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
