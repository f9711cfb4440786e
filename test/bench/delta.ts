/**
 * Delta benchmark: ours against xdelta3 -9, zstd -19 --long=31 --patch-from and bsdiff on
 * realistic pairs (GGUF-like models from ../shared/bench/gen_model.py, ext4 root images
 * from os-pair.sh). Run: node --import tsx test/bench/delta.ts
 *   BENCH_DIR      data and scratch directory (default /tmp/slipway-bench)
 *   BENCH_SHARED   where gen_model.py / os-pair.sh live (default /work/shared/bench)
 *   BENCH_BSDIFF_MAX  largest old file bsdiff is run on, bytes (default 256 MiB: it needs ~17× that and ~1.4 s/MB here)
 *   BENCH_TIMEOUT  seconds one build or apply may take before it is killed and reported (default 600)
 *   BENCH_PAIRS    comma-separated pair names to run (default all)
 *   BENCH_TOOLS    comma-separated tool names to run (default all); rows of tools not run
 *                  are taken from BENCH_DIR/results.json, so `BENCH_TOOLS=slipway` re-measures
 *                  ours against peers measured earlier on the same files
 * Each build and apply runs as its own process under /usr/bin/time, so wall time, CPU
 * (user + system, children included) and peak RSS are measured the
 * same way for every tool. On a shared machine, read CPU: wall time waits for the others.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, createReadStream, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const self = fileURLToPath(import.meta.url)
const MiB = 2 ** 20

async function sub(mode: string, args: string[]) {
  if (mode === 'make' || mode === 'make2' || mode === 'make2puff' || mode === 'make2zlib' || mode === 'make3') {
    // in a process of its own, as the server and `slipway delta make` build (its RSS is what
    // /usr/bin/time reports: the largest process of the tree; its CPU counts in the parent's)
    const { makeDeltaIsolated: makeDelta } = await import('../../server/delta/index.js')
    // make2: both member codecs (each member takes the smaller op); make2puff: codec 2 only
    // (what any device reporting puff gets); make2zlib: codec 1 only (the pre-puff v2)
    // make3: format 3 (sparse diffs) with codecs 2 and 3 (spool), what the server builds by default
    const memberCodecs =
      mode === 'make3' ? (['puff', 'spool'] as const) : mode === 'make2puff' ? (['puff'] as const) : mode === 'make2zlib' ? (['deflate'] as const) : (['deflate', 'puff'] as const)
    const r = await makeDelta(args[0]!, args[1]!, args[2]!, { formatVersion: mode === 'make' ? 1 : mode === 'make3' ? 3 : 2, memberCodecs })
    console.log(JSON.stringify({ size: r.size, ops: r.ops, memberCodecs: r.memberCodecs, stats: r.stats }))
    return
  }
  throw new Error(`unknown mode ${mode}`)
}

interface Measure {
  s: number
  rssMb: number
  /** user + system CPU seconds of the process and its children (older results.json rows lack it) */
  cpu?: number
}

function timed(cmd: string[], env?: NodeJS.ProcessEnv): Measure & { stdout: string } {
  // `timeout` inside `time`: the tool itself is killed, not just the wrapper
  const limit = String(process.env.BENCH_TIMEOUT ?? 600)
  const r = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %M %U %S', 'timeout', limit, ...cmd], {
    encoding: 'utf8',
    maxBuffer: 64 * MiB,
    env: { ...process.env, ...env },
  })
  const line = r.stderr.split('\n').find((l) => l.startsWith('BENCH '))
  if (r.status !== 0 || !line) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`)
  const [, s, kb, user, sys] = line.split(' ')
  return { s: Number(s), rssMb: Number(kb) / 1024, cpu: Number(user) + Number(sys), stdout: r.stdout }
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const c of createReadStream(path, { highWaterMark: 4 * MiB })) h.update(c as Buffer)
  return h.digest('hex')
}

const node = (mode: string, ...args: string[]) => [process.execPath, '--import', 'tsx', self, mode, ...args]
/** the applier bundled as a device runs it (apply-entry.ts), written by bundleApplier() */
let applierBundle = ''
const applier = (...args: string[]) => [process.execPath, applierBundle, ...args]

async function bundleApplier(work: string): Promise<void> {
  const { build } = await import('esbuild')
  applierBundle = join(work, 'apply.mjs')
  await build({
    entryPoints: [join(dirname(self), 'apply-entry.ts')],
    outfile: applierBundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    logLevel: 'warning',
  })
}

interface Tool {
  name: string
  make(old: string, nw: string, patch: string): string[]
  /** patchSha256: what a device knows from the signed assignment */
  apply(old: string, patch: string, out: string, patchSha256: string): string[]
  fits?(oldSize: number): boolean
}

const bsdiffMax = Number(process.env.BENCH_BSDIFF_MAX ?? 256 * MiB)
const TOOLS: Tool[] = [
  { name: 'slipway', make: (o, n, p) => node('make', o, n, p), apply: applier },
  // format 2: also diffs inside compressed members (gzip files, zip entries)
  { name: 'slipway v2', make: (o, n, p) => node('make2', o, n, p), apply: applier },
  // format 2 with member codec 2 only: the patch a device reporting puff gets whatever its zlib
  { name: 'slipway v2 puff', make: (o, n, p) => node('make2puff', o, n, p), apply: applier },
  // format 3: v2 puff with sparse diff streams (zero runs not coded byte by byte)
  { name: 'slipway v3', make: (o, n, p) => node('make3', o, n, p), apply: applier },
  // -D: no external decompression. Without it xdelta3 diffs a gzip file's decoded bytes and
  // gzips them again on apply, which gives other bytes than the target (a wrong output)
  {
    name: 'xdelta3 -9',
    make: (o, n, p) => ['xdelta3', '-9', '-D', '-e', '-f', '-s', o, n, p],
    apply: (o, p, out) => ['xdelta3', '-D', '-d', '-f', '-s', o, p, out],
  },
  {
    name: 'zstd -19 --long=31',
    make: (o, n, p) => ['zstd', '-q', '-f', '-19', '--long=31', `--patch-from=${o}`, n, '-o', p],
    apply: (o, p, out) => ['zstd', '-q', '-f', '-d', '--long=31', `--patch-from=${o}`, p, '-o', out],
  },
  { name: 'bsdiff', make: (o, n, p) => ['bsdiff', o, n, p], apply: (o, p, out) => ['bspatch', o, out, p], fits: (s) => s <= bsdiffMax },
]

interface Row {
  pair: string
  tool: string
  size: number
  build: Measure
  apply: Measure
  note: string
}

async function main() {
  const dir = process.env.BENCH_DIR ?? '/tmp/slipway-bench'
  const shared = process.env.BENCH_SHARED ?? '/work/shared/bench'
  const m = join(dir, 'model')
  const os = join(dir, 'os')
  const only = process.env.BENCH_PAIRS?.split(',')
  // generate only what the selected pairs need: the model files alone take minutes
  const wants = (prefix: string) => !only || only.some((p) => p.startsWith(prefix))
  if (wants('model') && !existsSync(join(m, 'model-v4-finetune.gguf'))) {
    console.log('generating model files…')
    spawnSync('python3', [join(shared, 'gen_model.py'), m], { stdio: 'inherit' })
  }
  if (wants('os') && !existsSync(join(os, 'os-new.ext4'))) {
    console.log('building the OS pair (apt downloads)…')
    spawnSync('bash', [join(shared, 'os-pair.sh'), os], { stdio: 'inherit' })
  }
  if (wants('docs') && !existsSync(join(dir, 'gz', 'gz-new.ext4')) && existsSync(join(os, 'root-new'))) {
    console.log('building the docs gz pair from the OS pair…')
    spawnSync('bash', [join(dirname(self), 'gz-pair.sh'), os, join(dir, 'gz')], { stdio: 'inherit' })
  }
  const kernel = join(dir, 'kernel')
  if ((wants('kernel') || wants('initrd')) && !existsSync(join(kernel, 'initrd-new.gz'))) {
    console.log('building the kernel and initrd pairs (apt downloads)…')
    spawnSync('bash', [join(dirname(self), 'kernel-pair.sh'), kernel], { stdio: 'inherit' })
  }
  const sparse = join(dir, 'sparse')
  if (wants('sparse') && !existsSync(join(sparse, 'sparse-new.img'))) {
    console.log('writing the 4 GiB sparse pair…')
    sparsePair(sparse)
  }
  const pairs: Array<[string, string, string]> = [
    ['model 2 layers', join(m, 'model-v1.gguf'), join(m, 'model-v2-2layers.gguf')],
    ['model all layers', join(m, 'model-v1.gguf'), join(m, 'model-v3-all-layers.gguf')],
    ['model fine-tune', join(m, 'model-v1.gguf'), join(m, 'model-v4-finetune.gguf')],
    ['os ext4', join(os, 'os-old.ext4'), join(os, 'os-new.ext4')],
    // the OS pair's usr/share/{doc,man} with every .gz re-made by zlib -9 (gzip -9n's own
    // encoder is not zlib's, so the dev pair's .gz files cannot be re-encoded bit-exactly)
    ['docs gz ext4', join(dir, 'gz', 'gz-old.ext4'), join(dir, 'gz', 'gz-new.ext4')],
    // large gzip members (member codec 3, spool): an arm64 kernel Image and an initramfs-like
    // cpio of its modules, each gzip -9n, two Debian kernel versions apart (kernel-pair.sh)
    ['kernel Image.gz', join(kernel, 'kernel-old.gz'), join(kernel, 'kernel-new.gz')],
    ['initrd gz', join(kernel, 'initrd-old.gz'), join(kernel, 'initrd-new.gz')],
    // build memory at a size no window or index may grow with: 4 GiB images, mostly holes
    ['sparse 4 GiB', join(sparse, 'sparse-old.img'), join(sparse, 'sparse-new.img')],
  ]
  const work = join(dir, 'work')
  mkdirSync(work, { recursive: true })
  await bundleApplier(work)
  const idle = timed(applier('idle'))
  console.log(`applier idle baseline (node + the bundled applier, nothing applied): ${idle.rssMb.toFixed(0)} MB RSS, ${idle.s.toFixed(2)} s`)
  const cache = join(dir, 'results.json')
  const rows: Row[] = existsSync(cache) ? (JSON.parse(readFileSync(cache, 'utf8')) as Row[]) : []
  const record = (row: Row) => {
    const i = rows.findIndex((r) => r.pair === row.pair && r.tool === row.tool)
    if (i >= 0) rows[i] = row
    else rows.push(row)
    writeFileSync(cache, JSON.stringify(rows, null, 1))
  }
  const cps: Record<string, number> = {}
  for (const [pair, old, nw] of pairs) {
    if (only && !only.includes(pair)) continue
    if (!existsSync(old) || !existsSync(nw)) {
      console.log(`skip ${pair}: data missing`)
      continue
    }
    const want = await sha256(nw)
    const out = join(work, 'out')
    // dd, not cp: cp uses copy_file_range/reflinks and moves no data; fsync as the applier does
    cps[pair] = timed(['dd', `if=${nw}`, `of=${out}`, 'bs=1M', 'conv=fsync', 'status=none']).s
    rmSync(out, { force: true })
    const tools = process.env.BENCH_TOOLS?.split(',')
    for (const tool of TOOLS) {
      if (tools && !tools.includes(tool.name)) continue
      if (tool.fits && !tool.fits(statSync(old).size)) {
        console.log(`${pair}: ${tool.name} skipped (old file larger than BENCH_BSDIFF_MAX)`)
        continue
      }
      const patch = join(work, 'patch')
      rmSync(patch, { force: true })
      let build: ReturnType<typeof timed>
      try {
        build = timed(tool.make(old, nw, patch))
      } catch (e) {
        console.log(`${pair} | ${tool.name}: build failed or timed out: ${String(e).split('\n')[0]}`)
        continue
      }
      const size = statSync(patch).size
      rmSync(out, { force: true })
      const apply = timed(tool.apply(old, patch, out, await sha256(patch)))
      const ok = (await sha256(out)) === want
      const note = tool.name.startsWith('slipway') ? (JSON.parse(build.stdout.trim().split('\n').pop()!) as { ops: number }).ops + ' ops' : ''
      record({ pair, tool: tool.name, size, build, apply, note: ok ? note : 'WRONG OUTPUT' })
      const cpu = (m: Measure) => `(cpu ${m.cpu?.toFixed(1)}s)`
      console.log(
        `${pair} | ${tool.name}: ${size} B, build ${build.s}s ${cpu(build)} ${build.rssMb.toFixed(0)}MB, apply ${apply.s}s ${cpu(apply)} ${apply.rssMb.toFixed(0)}MB ${ok ? '' : 'WRONG OUTPUT'}`,
      )
      if (tool.name.startsWith('slipway')) console.log(`  ${build.stdout.trim().split('\n').pop()}`) // ops and build stats
      // the applier's own clock, node's start-up and exit left out
      if (tool.name.startsWith('slipway')) console.log(`  apply in-process: ${apply.stdout.trim().split('\n').pop()}`)
      rmSync(out, { force: true })
    }
  }
  const order = (r: Row) => pairs.findIndex(([p]) => p === r.pair) * 10 + TOOLS.findIndex((x) => x.name === r.tool)
  print(rows.sort((a, b) => order(a) - order(b)), idle.rssMb, cps)
}

function print(rows: Row[], idleMb: number, cps: Record<string, number>) {
  const best = (pair: string, f: (r: Row) => number) => Math.min(...rows.filter((r) => r.pair === pair && !r.tool.startsWith('slipway')).map(f))
  const cols: Array<[string, (r: Row) => number, (v: number) => string]> = [
    ['patch', (r) => r.size, (v) => (v / MiB).toFixed(2) + ' MiB'],
    ['build', (r) => r.build.s, (v) => v.toFixed(1) + ' s'],
    ['build CPU', (r) => r.build.cpu ?? NaN, (v) => v.toFixed(1) + ' s'],
    ['build RSS', (r) => r.build.rssMb, (v) => v.toFixed(0) + ' MB'],
    ['apply', (r) => r.apply.s, (v) => v.toFixed(1) + ' s'],
    ['apply CPU', (r) => r.apply.cpu ?? NaN, (v) => v.toFixed(1) + ' s'],
    ['apply RSS', (r) => r.apply.rssMb, (v) => v.toFixed(0) + ' MB'],
  ]
  const head = ['pair', 'tool', ...cols.flatMap(([n]) => [n, '×best']), 'note']
  const lines = [head]
  for (const r of rows) {
    lines.push([r.pair, r.tool, ...cols.flatMap(([, f, fmt]) => [fmt(f(r)), (f(r) / best(r.pair, f)).toFixed(2)]), r.note])
  }
  const w = head.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)))
  console.log()
  for (const l of lines) console.log(l.map((c, i) => c.padEnd(w[i]!)).join('  '))
  console.log(`\n×best: value / best of the peers (xdelta3, zstd, bsdiff) on the same pair; < 1 is better.`)
  console.log(`slipway apply (node + the bundled applier, as a device runs it) RSS over its idle baseline (${idleMb.toFixed(0)} MB):`)
  for (const r of rows.filter((r) => r.tool.startsWith('slipway'))) {
    const dd = cps[r.pair]
    const vs = dd === undefined ? '' : `; apply ${r.apply.s}s vs dd+fsync of the target ${dd.toFixed(1)}s (${(r.apply.s / (dd || 1)).toFixed(1)}×)`
    console.log(`  ${r.pair}: +${(r.apply.rssMb - idleMb).toFixed(0)} MB${vs}`)
  }
}

/**
 * Two 4 GiB sparse images (a few MiB of data, the rest holes that read as zeros): old holds
 * three 8 MiB pseudo-random blobs at 0.5, 1.5 and 3 GiB; new holds the first shifted by
 * 4 KiB + 17 B, the second edited in place (one byte in 5000) and the second half of the
 * third moved to 3.75 GiB. The builder's memory must not grow with the image.
 */
function sparsePair(out: string) {
  mkdirSync(out, { recursive: true })
  const GiB = 2 ** 30
  const blob = (seed: number) => {
    const b = Buffer.allocUnsafe(8 * MiB)
    let x = seed
    for (let i = 0; i < b.length; i++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      b[i] = x & 0xff
    }
    return b
  }
  const [a, b, c] = [blob(1), blob(2), blob(3)]
  const write = (path: string, parts: Array<[number, Buffer]>) => {
    const fd = openSync(path, 'w')
    try {
      ftruncateSync(fd, 4 * GiB)
      for (const [at, buf] of parts) writeSync(fd, buf, 0, buf.length, at)
    } finally {
      closeSync(fd)
    }
  }
  write(join(out, 'sparse-old.img'), [[GiB / 2, a], [1.5 * GiB, b], [3 * GiB, c]])
  const edited = Buffer.from(b)
  for (let i = 0; i < edited.length; i += 5000) edited[i] = edited[i]! ^ 0x5a
  write(join(out, 'sparse-new.img'), [[GiB / 2 + 4096 + 17, a], [1.5 * GiB, edited], [3 * GiB, c.subarray(0, 4 * MiB)], [3.75 * GiB, c.subarray(4 * MiB)]])
}

const [mode, ...args] = process.argv.slice(2)
if (mode) await sub(mode, args)
else await main()
