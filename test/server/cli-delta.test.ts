/**
 * `slipway delta make` and `slipway-agent delta apply` as real processes: a round
 * trip, progress, and every failure exiting non-zero with its code.
 */
import { randomBytes } from 'node:crypto'
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { sha256 } from '../helpers/api.js'
import { slipway, slipwayAgent } from '../helpers/cli.js'

const MiB = 1 << 20

t.test('make a delta, apply it, and refuse what does not fit', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-cli-delta-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const p = (name: string) => join(dir, name)
  const old = randomBytes(24 * MiB)
  const next = Buffer.concat([old.subarray(0, 5 * MiB), Buffer.from('inserted'), old.subarray(5 * MiB, 20 * MiB), randomBytes(300_000), old.subarray(20 * MiB)])
  await writeFile(p('old'), old)
  await writeFile(p('new'), next)

  const made = await slipway(['delta', 'make', p('old'), p('new'), p('patch'), '--memory-budget', '256MiB', '--format', '1'], {}).done
  t.equal(made.code, 0, made.stderr)
  const patch = await readFile(p('patch'))
  t.match(made.stdout, new RegExp(`size: +${patch.length} bytes`), 'prints the patch size')
  t.match(made.stdout, /time: +\d+\.\d\d s/, 'prints the build time')
  t.match(made.stdout, /peak RSS: +\d+\.\d MiB/, 'prints the peak memory')
  t.match(made.stdout, new RegExp(`target: +${sha256(next)}`))
  t.ok(patch.length < 400_000, `patch ${patch.length} bytes for 300 KB of new data`)

  const applied = await slipwayAgent(['delta', 'apply', p('old'), p('patch'), p('out'), '--expect-target', sha256(next)]).done
  t.equal(applied.code, 0, applied.stderr)
  t.match(applied.stdout, new RegExp(`^OK: .*out is ${sha256(next)} \\(${next.length} bytes, \\d+ ops verified\\)`))
  t.match(applied.stderr, /^applied \d+\.\d MiB \(\d+ ops\)$/m, 'progress on stderr')
  t.ok((await readFile(p('out'))).equals(next), 'the target is rebuilt exactly')

  const failing = async (args: string[], code: RegExp, what: string) => {
    const r = await slipwayAgent(['delta', 'apply', ...args]).done
    t.equal(r.code, 1, `${what}: exit 1`)
    t.match(r.stderr, code, `${what}: prints the code`)
    return r
  }
  await failing([p('new'), p('patch'), p('wrong-source-out')], /^error: DELTA_SOURCE_MISMATCH: /, 'wrong source')
  await t.rejects(access(p('wrong-source-out')), { code: 'ENOENT' }, 'a wrong source is caught before the target is created')

  const corrupt = Buffer.from(patch)
  corrupt[corrupt.length - 1]! ^= 0xff
  await writeFile(p('corrupt'), corrupt)
  await failing([p('old'), p('corrupt'), p('out2')], /^error: DELTA_(CORRUPT|OP_HASH_MISMATCH|TARGET_HASH_MISMATCH): /m, 'corrupted patch')
  await writeFile(p('truncated'), patch.subarray(0, patch.length - 10))
  await failing([p('old'), p('truncated'), p('out3')], /^error: DELTA_TRUNCATED: /m, 'truncated patch')
  await writeFile(p('garbage'), randomBytes(4096))
  await failing([p('old'), p('garbage'), p('out4')], /^error: DELTA_BAD_MAGIC: /m, 'not a patch')
  await failing([p('old'), p('patch'), p('out5'), '--expect-target', 'a'.repeat(64)], /^error: DELTA_TARGET_MISMATCH: /m, 'patch for another target')
  await failing([p('missing'), p('patch'), p('out6')], /^error: ENOENT: /m, 'missing source file')
  // --expect-patch: the patch's own sha256, as the signed assignment gives it
  const withPatchSha = await slipwayAgent(['delta', 'apply', p('old'), p('patch'), p('out7'), '--expect-patch', sha256(patch).toUpperCase()]).done
  t.equal(withPatchSha.code, 0, withPatchSha.stderr)
  t.ok((await readFile(p('out7'))).equals(next), '--expect-patch: the target is rebuilt exactly')
  await failing([p('old'), p('patch'), p('out8'), '--expect-patch', 'b'.repeat(64)], /^error: DELTA_PATCH_HASH_MISMATCH: .*"expected":"b{64}"/m, 'another patch than expected')
  const badFlag = await slipwayAgent(['delta', 'apply', p('old'), p('patch'), p('out9'), '--expect-patch', 'xyz']).done
  t.equal(badFlag.code, 64, '--expect-patch that is not a sha256: usage error')
  t.match(badFlag.stderr, /^--expect-patch must be a hex sha256/)

  const usage = await slipwayAgent(['delta', 'apply', p('old')]).done
  t.equal(usage.code, 64)
  t.match(usage.stderr, /usage: slipway-agent delta apply SOURCE PATCH TARGET/)
  t.equal((await slipwayAgent(['frobnicate']).done).code, 64)
  const help = await slipwayAgent(['--help']).done
  t.equal(help.code, 0)
  t.match(help.stdout, /slipway-agent delta apply SOURCE PATCH TARGET/)

  const noInput = await slipway(['delta', 'make', p('missing'), p('new'), p('patch2')], {}).done
  t.equal(noInput.code, 1)
  t.match(noInput.stderr, /^error: DELTA_BUILD_INPUT: /)
  await t.rejects(access(p('patch2')), { code: 'ENOENT' }, 'no partial patch is left')
  const badBudget = await slipway(['delta', 'make', p('old'), p('new'), p('patch3'), '--memory-budget', 'lots'], {}).done
  t.equal(badBudget.code, 64)
  t.match(badBudget.stderr, /--memory-budget must be a number of bytes/)
  t.equal((await slipway(['delta', 'make', p('old')], {}).done).code, 64)

  // format 3 (sparse diffs) with puff, the default as the server's, and the usage errors of --format and --members
  const v3 = await slipway(['delta', 'make', p('old'), p('new'), p('patch-v3')], {}).done
  t.equal(v3.code, 0, v3.stderr)
  t.match(v3.stdout, /^format: +version [13]$/m, 'prints the version written')
  t.match(v3.stdout, /^codecs: /m, 'and the member codecs')
  const appliedV3 = await slipwayAgent(['delta', 'apply', p('old'), p('patch-v3'), p('out-v3'), '--expect-target', sha256(next)]).done
  t.equal(appliedV3.code, 0, appliedV3.stderr)
  t.ok((await readFile(p('out-v3'))).equals(next), 'the format-3 patch rebuilds the target')
  for (const [args, message] of [
    [['--format', '4'], /--format must be 1, 2 or 3/],
    [['--format', '1', '--members', 'puff'], /--members takes a list of deflate, puff and \(format 3\) spool, with format 2 or 3/],
    [['--format', '3', '--members', 'xz'], /--members takes/],
    [['--format', '2', '--members', 'puff,spool'], /--members spool needs --format 3/],
    [['--format', '1', '--members', 'spool'], /--members spool needs --format 3/],
    [['--format', '3', '--members', ''], /--members takes/],
  ] as const) {
    const r = await slipway(['delta', 'make', p('old'), p('new'), p('patch4'), ...args], {}).done
    t.equal(r.code, 64, `${args.join(' ')}: usage error`)
    t.match(r.stderr, message)
  }
  await t.rejects(access(p('patch4')), { code: 'ENOENT' }, 'a refused command writes nothing')
})
