/**
 * `slipway delta make OLD NEW PATCH [--memory-budget BYTES] [--format 1|2|3 [--members deflate,puff,spool]]`: the server's builder
 * (the same makeDelta the build-delta job runs) on local files, so anyone can try it
 * on their own images. It verifies the patch by applying it before it returns.
 */
import { makeDeltaIsolated } from '../delta/index.js'
import type { MemberCodecName } from '../delta/members.js'
import { parse, UsageError } from './args.js'
import type { CliEnv } from './http-client.js'
import { DELTA_REMOTE_USAGE, deltaRemoteCommand } from './delta-remote.js'

export const USAGE = `usage: slipway delta make OLD NEW PATCH [--memory-budget BYTES] [--format 1|2|3 [--members deflate,puff,spool]]
${DELTA_REMOTE_USAGE}

  OLD, NEW   the image devices have, and the one they should get
  PATCH      where the patch is written
  --memory-budget BYTES   memory the build may use (default 1 GiB; suffixes KiB, MiB, GiB)
  --format 3              diff inside gzip/zip members, sparse diff streams, model rows by column
                          (format v3, the default: what the server builds for today's agent)
  --format 2              diff inside gzip/zip members (format v2)
  --format 1              byte diffs only (format v1: what every agent applies)
  --members LIST          member codecs formats 2 and 3 may use, comma-separated: deflate (zlib
                          re-encoding; needs the device's zlib to be this one), puff (any deflate;
                          needs an agent that reports it), spool (format 3: puff for members that
                          decode to 4-48 MiB, through a file on the device). Default: puff,spool
                          with format 3, puff with format 2`

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, kib: 2 ** 10, m: 2 ** 20, mib: 2 ** 20, g: 2 ** 30, gib: 2 ** 30 }

export function parseBytes(text: string): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text.trim())
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined
  if (!m || unit === undefined) throw new UsageError(`--memory-budget must be a number of bytes (e.g. 1073741824 or 1GiB), got "${text}"\n\n${USAGE}`)
  const n = Number(m[1]) * unit
  if (!Number.isSafeInteger(n) || n < 64 * 2 ** 20) throw new UsageError(`--memory-budget must be at least 64 MiB\n\n${USAGE}`)
  return n
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`

export async function deltaCommand(argv: string[], env: () => CliEnv): Promise<void> {
  const [sub, ...rest] = argv
  if (sub === 'request' || sub === 'list' || sub === 'show') return deltaRemoteCommand(env, sub, rest)
  if (sub === undefined || sub === 'help' || sub === '--help') return void process.stdout.write(`${USAGE}\n`)
  if (sub !== 'make') throw new UsageError(`unknown delta command "${sub ?? ''}"\n\n${USAGE}`)
  const { values, positionals } = parse(rest, { 'memory-budget': { type: 'string' }, format: { type: 'string' }, members: { type: 'string' } }, USAGE)
  const [oldPath, newPath, patchPath, ...extra] = positionals
  if (!oldPath || !newPath || !patchPath || extra.length > 0) throw new UsageError(USAGE)
  const memoryBudget = values['memory-budget'] === undefined ? undefined : parseBytes(values['memory-budget'])
  if (values.format !== undefined && values.format !== '1' && values.format !== '2' && values.format !== '3') throw new UsageError(`--format must be 1, 2 or 3\n\n${USAGE}`)
  // what the server builds for an agent reporting slipway-delta-v3 with puff and spool (today's)
  const formatVersion = values.format === '1' ? 1 : values.format === '2' ? 2 : 3
  const memberCodecs = values.members?.split(',').map((s) => s.trim()) ?? (formatVersion === 3 ? ['puff', 'spool'] : formatVersion === 2 ? ['puff'] : undefined)
  if (memberCodecs?.includes('spool') && formatVersion !== 3) throw new UsageError(`--members spool needs --format 3\n\n${USAGE}`)
  if (memberCodecs && (formatVersion === 1 || memberCodecs.length === 0 || memberCodecs.some((c) => !['deflate', 'puff', 'spool'].includes(c)))) {
    throw new UsageError(`--members takes a list of deflate, puff and (format 3) spool, with format 2 or 3\n\n${USAGE}`)
  }
  const r = await makeDeltaIsolated(oldPath, newPath, patchPath, {
    formatVersion,
    ...(memoryBudget === undefined ? {} : { memoryBudget }),
    ...(memberCodecs ? { memberCodecs: memberCodecs as MemberCodecName[] } : {}),
  })
  process.stdout.write(
    [
      `patch:     ${patchPath}`,
      `size:      ${r.size} bytes (${mib(r.size)}), ${r.ops} ops, verified by applying it`,
      `format:    version ${r.formatVersion}`,
      ...(formatVersion > 1
        ? [
            `members:   ${r.stats.members} of ${r.stats.membersFound} found (${r.stats.membersProven} re-encode with zlib, ${r.stats.membersPuffable} through their puff, ${r.stats.membersSpoolable} spooled), ${r.stats.memberBytes} bytes`,
            `codecs:    ${r.memberCodecs.join(', ') || 'none'} (deflate ${r.stats.membersDeflate}, puff ${r.stats.membersPuff}, spool ${r.stats.membersSpool} ops)`,
          ]
        : []),
      `source:    ${r.sourceSha256}`,
      `target:    ${r.targetSha256}`,
      `time:      ${(r.ms / 1000).toFixed(2)} s`,
      `peak RSS:  ${mib(r.peakRss)}`,
      '',
    ].join('\n'),
  )
}
