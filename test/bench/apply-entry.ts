/**
 * The applier as a device runs it, for bench:delta: bundled by esbuild into one .cjs file
 * (as `npm run build:agent` bundles the agent) and run by plain node, so an apply is timed
 * without tsx compiling the sources at start-up (0.3–0.5 s here, which no device pays).
 *   node apply.mjs idle                               loads the applier and exits: the RSS baseline
 *   node apply.mjs SOURCE PATCH TARGET PATCH_SHA256   applies as the agent does (install/delta-image.ts)
 */
import { applyDelta } from '../../client-sdk/src/delta/index.js'

const [source, patch, target, patchSha256] = process.argv.slice(2)
if (source !== 'idle') {
  if (!source || !patch || !target || !patchSha256) throw new Error('usage: apply.mjs SOURCE PATCH TARGET PATCH_SHA256 | idle')
  // as the agent applies: the patch checked against the sha256 the signed assignment gives,
  // each target byte hashed once (into the image hash), the source only if that fails
  const r = await applyDelta(source, patch, target, { verifySource: false, expectedPatchSha256: patchSha256 })
  console.log(JSON.stringify({ ms: r.ms, ops: r.ops, workerOps: r.workerOps }))
}
