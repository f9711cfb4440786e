/**
 * `slipway-agent delta apply SOURCE PATCH TARGET`: the device's applier on files
 * (or slot devices). Verifies the source before writing, every op and the whole
 * image as it goes; on failure prints the DELTA_* code and returns non-zero.
 */
import { parseArgs } from 'node:util'
import { applyDelta, isDeltaError, type DeltaProgress } from '../delta/index.js'

export const DELTA_APPLY_USAGE = `usage: slipway-agent delta apply SOURCE PATCH TARGET [--expect-target SHA256] [--expect-patch SHA256] [--progress-file FILE]

  SOURCE  the image the patch was built from (the active slot, or a file)
  PATCH   the patch file
  TARGET  where the new image is written (the inactive slot, or a file)
  --expect-target SHA256   refuse a patch for any other target (the CI-signed release sha256)
  --expect-patch SHA256    the patch's own sha256 (the signed assignment's patchSha256): a
                           patch that differs is refused, and each target byte is hashed once
  --progress-file FILE     record progress there; an interrupted apply run again resumes from it`

/** Exit codes: 0 applied and verified, 1 the patch or an image was refused (DELTA_* code), 64 usage. */
export const EXIT = { ok: 0, failed: 1, usage: 64 } as const

export interface CliIo {
  out: (text: string) => void
  err: (text: string) => void
}

const stdio: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`

export async function deltaApply(args: string[], io: CliIo = stdio): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args,
      options: { 'expect-target': { type: 'string' }, 'expect-patch': { type: 'string' }, 'progress-file': { type: 'string' } },
      allowPositionals: true,
      strict: true,
    })
  } catch (e) {
    io.err(`${(e as Error).message}\n\n${DELTA_APPLY_USAGE}\n`)
    return EXIT.usage
  }
  const [source, patch, target, ...extra] = parsed.positionals
  if (!source || !patch || !target || extra.length > 0) {
    io.err(`${DELTA_APPLY_USAGE}\n`)
    return EXIT.usage
  }
  const expect = parsed.values['expect-target']
  const expectPatch = parsed.values['expect-patch']
  for (const [flag, value] of [['--expect-target', expect], ['--expect-patch', expectPatch]] as const) {
    if (value !== undefined && !/^[0-9a-fA-F]{64}$/.test(value)) {
      io.err(`${flag} must be a hex sha256\n\n${DELTA_APPLY_USAGE}\n`)
      return EXIT.usage
    }
  }
  const progressPath = parsed.values['progress-file']
  try {
    const r = await applyDelta(source, patch, target, {
      ...(expect ? { expectedTargetSha256: expect.toLowerCase() } : {}),
      ...(expectPatch ? { expectedPatchSha256: expectPatch } : {}),
      ...(progressPath ? { progressPath } : {}),
      // a progress line (and a synced checkpoint) every 16 MiB of target
      checkpointBytes: 16 << 20,
      onProgress: (p: DeltaProgress) => io.err(`applied ${mib(p.targetOffset)} (${p.opsDone} ops)\n`),
    })
    const resumed = r.resumedOps > 0 ? `, resumed after ${r.resumedOps} ops` : ''
    io.out(`OK: ${target} is ${r.targetSha256} (${r.targetSize} bytes, ${r.ops} ops verified${resumed}) in ${(r.ms / 1000).toFixed(2)} s, peak RSS ${mib(r.peakRss)}\n`)
    return EXIT.ok
  } catch (e) {
    if (isDeltaError(e)) {
      io.err(`error: ${e.code}: ${e.message}${e.details ? ` ${JSON.stringify(e.details)}` : ''}\n`)
      return EXIT.failed
    }
    // a file that cannot be opened: the system's code (ENOENT, EACCES…)
    const code = (e as NodeJS.ErrnoException)?.code
    io.err(`error: ${code ?? 'DELTA_APPLY_FAILED'}: ${(e as Error)?.message ?? String(e)}\n`)
    return EXIT.failed
  }
}
