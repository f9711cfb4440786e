// npm run build:agent — the device agent as one file with no dependencies:
// client-sdk/dist/slipway-agent.cjs (CommonJS named .cjs, so `node slipway-agent.cjs` works in
// place inside this "type": "module" checkout as well as
// any folder, with or without a package.json next to it). Prints its size.
import { build } from 'esbuild'
import { statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outfile = process.env.SLIPWAY_AGENT_OUTFILE ?? join(root, 'dist', 'slipway-agent.cjs')
const GOAL = 250 * 1024

await build({
  entryPoints: [join(root, 'src', 'cli', 'entry.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  keepNames: true,
  legalComments: 'none',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
})

const size = statSync(outfile).size
console.log(`${outfile}: ${(size / 1024).toFixed(1)} KB (${size} bytes; goal ≤ ${GOAL / 1024} KB)${size > GOAL ? ' — OVER THE GOAL' : ''}`)
if (size > GOAL) process.exitCode = 1
