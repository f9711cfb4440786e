#!/usr/bin/env node
// The `slipway-agent` command. Runs the TypeScript sources through tsx's loader, as
// server/bin/slipway.mjs does, so a checkout works with no build step.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/entry.ts')
