#!/usr/bin/env node
const {execute} = await import('../dist/index.js')
await execute({dir: import.meta.url})
