#!/usr/bin/env node
// The `slipway` command. Runs the TypeScript sources through tsx's loader, so a
// checkout works after `npm ci` with no build step.
import { register } from 'tsx/esm/api'

register()
await import('../cli/main.ts')
