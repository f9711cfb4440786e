import { createHash } from 'node:crypto'
import { BrotliReader, checkWindow } from './brotli-reader.js'
import { Batch, SourceGather, VarintReader } from './bsdiff-batch.js'
import { ByteAdder } from './byte-add.js'
import { DecodeWorker, type WholeOp } from './decode-worker.js'
import { DeltaError } from './errors.js'
import { MEMBER_DESCRIPTOR_SIZE, OpType, type OpHeader } from './format.js'
import { checkMember, decodeDescriptor, inflateMember, MemberCodec, recompressMember, type MemberDescriptor } from './member.js'
import { huffStream } from './huff.js'
import { puffStream } from './puff.js'
import { WINDOW } from './pull-window.js'
import { Spool, SpoolWriter } from './spool.js'
import { SparseDiff, sparseStreamLimit } from './sparse-diff.js'
import { decodeTransposeDescriptor, SLAB, TRANSPOSE_DESCRIPTOR_SIZE, Untransposer } from './transpose.js'
import { IO_CHUNK, readExactly, type SourceReader, type TargetWriter } from './streams.js'

/** Decoded bytes handed out per step: small against the budget, large enough that per-call costs vanish. */
const PIECE = 256 * 1024

/**
 * Runs operations with a fixed set of buffers for the whole apply: three brotli readers
 * (control, diff, extra) and one source scratch buffer. REPLACE and BSDIFF ops stream
 * through them piece by piece, so memory does not grow with an op's size and nothing is
 * left for the GC to find (the applier used to decode each stream whole, one fresh buffer
 * each, and had to force a full GC every few MiB to stay within the device's budget).
 */
export class OpRunner {
  /** source scratch and the diff decoder's output, where the wasm add reaches them */
  private readonly adder = new ByteAdder(IO_CHUNK, PIECE)
  private readonly ctrl = new BrotliReader(Buffer.allocUnsafe(64 * 1024))
  private readonly diff = new BrotliReader(this.adder.piece)
  private readonly extra = new BrotliReader(Buffer.allocUnsafe(PIECE))
  private readonly scratch = this.adder.scratch
  /** version 3: the diff stream is sparse records (sparse-diff.ts) */
  private readonly sparse: SparseDiff | undefined
  /** one batch of bsdiff control entries, and the buffers of its merged source reads */
  private readonly batch = new Batch()
  private readonly gatherer = new SourceGather()
  /** a TRANSPOSED op's slab, by column and in order; none until one comes */
  private untransposer: Untransposer | undefined
  /** a spooled member's write buffer; none until one comes */
  private spoolBuf: Buffer | undefined

  constructor(
    private readonly source: SourceReader,
    private readonly sourceSize: number,
    private readonly out: TargetWriter,
    private readonly maxOpTarget: number,
    sparseDiffs: boolean,
    /** spooled members (codec 3): the folder of their spool files, and their largest size (each length) */
    private readonly spool: { dir: string; maxBytes: number },
  ) {
    this.sparse = sparseDiffs ? new SparseDiff(this.diff, this.adder) : undefined
  }

  async run(op: OpHeader, payload: Buffer): Promise<void> {
    if (op.type === OpType.COPY) return this.copy(op)
    // a MEMBER op's limits follow from its codec (a spooled one is not held in memory)
    if (op.type === OpType.MEMBER) return this.member(op, payload)
    this.checkLength(op)
    const push = (b: Buffer) => this.out.push(b)
    if (op.type === OpType.REPLACE) return this.replace(payload, op.targetLength, push)
    if (op.type === OpType.TRANSPOSED) return this.transposed(decodeTransposeDescriptor(payload), payload.subarray(TRANSPOSE_DESCRIPTOR_SIZE), op.targetLength, push)
    this.checkExtent(op)
    const read = (buf: Buffer, at: number) => readExactly(this.source, buf, op.srcOffset + at)
    return this.bsdiff(payload, op, op.targetLength, op.srcLength, read, (b) => this.out.push(b))
  }

  /**
   * The op as the decode worker takes it: a REPLACE or TRANSPOSED op (its bytes follow
   * from its payload alone) that fits the worker's buffers, checked as run() checks it.
   * Undefined for any other op, which run() applies here.
   */
  whole(op: OpHeader, payload: Buffer): WholeOp | undefined {
    if (op.type !== OpType.REPLACE && op.type !== OpType.TRANSPOSED) return undefined
    this.checkLength(op)
    const stride = op.type === OpType.TRANSPOSED ? decodeTransposeDescriptor(payload) : 0
    const stream = stride > 0 ? payload.subarray(TRANSPOSE_DESCRIPTOR_SIZE) : payload
    if (!DecodeWorker.takes(op.targetLength, stream.length)) return undefined
    const what = stride > 0 ? 'transposed' : 'replace'
    checkWindow(stream, what)
    return { stride, stream, targetLength: op.targetLength, what }
  }

  /** Decodes a whole op (from whole()) here, into `into` (at least its length); resolves with its bytes there. */
  async decodeInto(w: WholeOp, into: Buffer): Promise<Buffer> {
    let at = 0
    const keep = async (b: Buffer) => void (at += b.copy(into, at))
    if (w.stride > 0) await this.transposed(w.stride, w.stream, w.targetLength, keep)
    else await this.replace(w.stream, w.targetLength, keep)
    return into.subarray(0, at)
  }

  close(): void {
    for (const r of [this.ctrl, this.diff, this.extra]) r.close()
  }

  private checkLength(op: OpHeader) {
    if (op.targetLength > this.maxOpTarget) {
      throw new DeltaError('DELTA_SIZE_LIMIT', `op target length ${op.targetLength} exceeds the limit ${this.maxOpTarget}`, {
        targetLength: op.targetLength,
        limit: this.maxOpTarget,
      })
    }
  }

  private checkExtent(op: OpHeader) {
    if (op.srcOffset + op.srcLength > this.sourceSize) {
      throw new DeltaError('DELTA_OUT_OF_SOURCE', 'op source extent lies outside the source image', {
        srcOffset: op.srcOffset,
        srcLength: op.srcLength,
        sourceSize: this.sourceSize,
      })
    }
  }

  /** source bytes in halves of the scratch buffer: the next half is read while this one is hashed and queued */
  private async copy(op: OpHeader) {
    this.checkExtent(op)
    const half = IO_CHUNK / 2
    const read = (i: number, done: number) => {
      const buf = this.scratch.subarray(i * half, i * half + Math.min(half, op.targetLength - done))
      const p = readExactly(this.source, buf, op.srcOffset + done).then(() => buf)
      p.catch(() => {}) // awaited below; this only avoids an unhandled rejection if a push fails first
      return p
    }
    let next = op.targetLength > 0 ? read(0, 0) : undefined
    for (let done = 0, i = 0; next; i ^= 1) {
      const buf = await next
      done += buf.length
      next = done < op.targetLength ? read(i ^ 1, done) : undefined
      await this.out.push(buf)
    }
  }

  private async replace(stream: Buffer, targetLength: number, emit: (b: Buffer) => Promise<void>) {
    const r = this.diff
    r.begin(stream, targetLength, 'replace')
    for (let done = 0; done < targetLength; ) {
      const piece = r.read(targetLength - done)
      if (piece.length === 0) throw new DeltaError('DELTA_CORRUPT', 'replace data has the wrong length')
      await emit(piece)
      done += piece.length
    }
    r.expectEnd()
  }

  /**
   * New bytes stored column by column (format v3), in slabs of 1 MiB: each slab is
   * decoded whole (a column holds one byte of every row), then put back in order and
   * written.
   */
  private async transposed(stride: number, stream: Buffer, targetLength: number, emit: (b: Buffer) => Promise<void>) {
    const r = this.diff
    r.begin(stream, targetLength, 'transposed')
    for (let done = 0; done < targetLength; ) {
      const slab = (this.untransposer ??= new Untransposer())
      const columns = slab.columns.subarray(0, Math.min(SLAB, targetLength - done))
      for (let got = 0; got < columns.length; ) {
        const piece = r.read(columns.length - got)
        if (piece.length === 0) throw new DeltaError('DELTA_CORRUPT', 'transposed data has the wrong length')
        got += piece.copy(columns, got)
      }
      for (const piece of slab.pieces(columns.length, stride)) await emit(piece)
      done += columns.length
    }
    r.expectEnd()
  }

  /**
   * A compressed member (format v2): decode the source's member, run the inner bsdiff
   * streams against its decoded bytes, re-encode the result with the recorded parameters
   * and check it byte for byte before any of it is written. Decoded sizes are declared in
   * the descriptor and capped by the op limit before anything is allocated.
   */
  private async member(op: OpHeader, payload: Buffer) {
    const d = decodeDescriptor(payload)
    const limit = d.codec === MemberCodec.SPOOL ? this.spool.maxBytes : this.maxOpTarget
    const sizes = [['targetLength', op.targetLength], ['sourceRawLength', d.sourceRawLength], ['targetRawLength', d.targetRawLength], ['srcLength', op.srcLength]] as const
    for (const [field, v] of sizes) {
      if (v > limit) throw new DeltaError('DELTA_SIZE_LIMIT', `member ${field} ${v} exceeds the limit ${limit}`, { field, limit })
    }
    this.checkExtent(op)
    if (op.srcLength === 0 && d.sourceRawLength !== 0) throw new DeltaError('DELTA_CORRUPT', 'member op without a source declares source bytes')
    if (d.codec === MemberCodec.SPOOL) return this.spooled(op, d, payload)
    const compressed = Buffer.allocUnsafe(op.srcLength)
    await readExactly(this.source, compressed, op.srcOffset)
    const old = op.srcLength > 0 ? inflateMember(compressed, d.sourceRawLength, 'source', d.codec) : Buffer.alloc(0)
    const raw = Buffer.allocUnsafe(d.targetRawLength)
    let at = 0
    const read = async (buf: Buffer, pos: number) => void old.copy(buf, 0, pos, pos + buf.length)
    const emit = async (b: Buffer) => void (at += b.copy(raw, at))
    await this.bsdiff(payload.subarray(MEMBER_DESCRIPTOR_SIZE), op, d.targetRawLength, old.length, read, emit)
    await this.out.push(recompressMember(d, raw, op.targetLength, op.sha256))
  }

  /**
   * A spooled member (codec 3): the same steps as member(), through a spool file instead
   * of memory (spool.ts): the source member is copied there and puffed window by window,
   * the inner bsdiff reads that puff and writes the target's puff there, which is huffed
   * window by window into the target's deflate stream, hashed as it is made. Only once
   * its length and sha256 are right is it copied to the target: nothing of a mismatching
   * op is written, as in member().
   */
  private async spooled(op: OpHeader, d: MemberDescriptor, payload: Buffer) {
    const spool = Spool.open(this.spool.dir)
    try {
      const chunk = (done: number, length: number) => this.scratch.subarray(0, Math.min(IO_CHUNK, length - done))
      for (let done = 0; done < op.srcLength; ) {
        const buf = chunk(done, op.srcLength)
        await readExactly(this.source, buf, op.srcOffset + done)
        spool.write(buf, done)
        done += buf.length
      }
      const oldAt = op.srcLength
      const puffed = new SpoolWriter(spool, oldAt, (this.spoolBuf ??= Buffer.allocUnsafe(WINDOW)))
      const oldLength = op.srcLength > 0 ? puffStream(spool.region(0, op.srcLength), d.sourceRawLength, (c) => puffed.push(c)) : 0
      puffed.flush()
      if (oldLength !== d.sourceRawLength) throw new DeltaError('DELTA_CORRUPT', `source member puffs to ${oldLength} bytes, not the declared ${d.sourceRawLength}`)
      const newAt = oldAt + oldLength
      const rebuilt = new SpoolWriter(spool, newAt, this.spoolBuf)
      const read = async (buf: Buffer, at: number) => spool.read(buf, oldAt + at)
      await this.bsdiff(payload.subarray(MEMBER_DESCRIPTOR_SIZE), op, d.targetRawLength, oldLength, read, async (b) => rebuilt.push(b))
      rebuilt.flush()
      const outAt = newAt + d.targetRawLength
      const hash = createHash('sha256')
      let at = outAt
      const length = huffStream(spool.region(newAt, d.targetRawLength), op.targetLength, (c) => {
        hash.update(c)
        spool.write(c, at)
        at += c.length
      })
      checkMember(op.targetLength, length, op.sha256, hash.digest())
      for (let done = 0; done < length; ) {
        const buf = chunk(done, length)
        spool.read(buf, outAt + done)
        await this.out.push(buf)
        done += buf.length
      }
    } finally {
      spool.close()
    }
  }

  /**
   * bsdiff semantics (Percival's BSDIFF40, streams re-encoded with brotli): each control
   * entry (x, y, z) adds x diff bytes to the source at oldpos, copies y extra bytes, then
   * moves oldpos by z. oldpos is relative to the extent (`srcLength` bytes that `read`
   * serves) and must stay inside it. `targetLength` bytes go to `emit`.
   *
   * Entries run in batches: a batch's control entries are decoded and checked first, the
   * source bytes they add to are gathered into the scratch buffer (in entry order, read
   * in source order with nearby pieces merged into one read), then the batch is applied
   * from memory. An ext4 op has thousands of entries of a few KiB scattered over the
   * source: read one at a time through a page cache they cost 240,000 awaited reads and
   * 4.3 GB of page copies on the dev OS pair, most of its apply time.
   */
  private async bsdiff(
    payload: Buffer,
    lengths: Pick<OpHeader, 'ctrlLength' | 'diffLength'>,
    targetLength: number,
    srcLength: number,
    read: (buf: Buffer, at: number) => Promise<void>,
    emit: (b: Buffer) => Promise<void>,
  ) {
    const { ctrl, diff, extra, scratch, adder, batch, sparse } = this
    const op = { ...lengths, targetLength, srcLength }
    // a control entry writes ≥ 1 byte (seek-only entries may not repeat) and takes ≤ 30 bytes;
    // real ones take ~4, so 4 bytes per output byte is generous and still bounded
    ctrl.begin(payload.subarray(0, op.ctrlLength), 4 * op.targetLength + 64, 'control')
    diff.begin(payload.subarray(op.ctrlLength, op.ctrlLength + op.diffLength), sparse ? sparseStreamLimit(op.targetLength) : op.targetLength, 'diff')
    sparse?.begin()
    extra.begin(payload.subarray(op.ctrlLength + op.diffLength), op.targetLength, 'extra')
    const varints = new VarintReader(ctrl)
    let produced = 0
    let oldpos = 0
    let idle = 0
    /** the next entry, decoded and checked: x, y and the oldpos its x bytes start at */
    const next = (): boolean => {
      const x = varints.next()
      const y = varints.next()
      const zz = varints.next()
      if (x < 0 || y < 0 || zz < 0) throw new DeltaError('DELTA_CORRUPT', 'control stream ends before the op output is complete')
      const z = zz % 2 === 1 ? -(zz + 1) / 2 : zz / 2
      if (x + y > op.targetLength - produced) throw new DeltaError('DELTA_CORRUPT', 'control entry out of range', { x, y, z })
      // entries that write nothing only move oldpos; two in a row are never needed
      idle = x + y === 0 ? idle + 1 : 0
      if (idle > 1) throw new DeltaError('DELTA_CORRUPT', 'control stream has consecutive empty entries')
      if (x > 0 && (oldpos < 0 || oldpos + x > op.srcLength)) {
        throw new DeltaError('DELTA_OUT_OF_SOURCE', 'bsdiff control reads outside the op source extent', {
          oldpos,
          length: x,
          srcLength: op.srcLength,
        })
      }
      batch.push(x, y, oldpos)
      produced += x + y
      oldpos += x + z
      return true
    }
    let carried = false // the batch's first entry was decoded by the previous batch
    while (carried || produced < op.targetLength) {
      // decode until the entries' source bytes fill the scratch buffer; an entry that
      // does not fit is carried to the next batch, where an entry larger than the whole
      // buffer is alone and streams its source through the buffer in chunks
      let fill = carried ? batch.x(0) : 0
      if (!carried) batch.clear()
      carried = false
      while (batch.length < Batch.MAX && produced < op.targetLength && next()) {
        const x = batch.x(batch.length - 1)
        if (fill + x <= IO_CHUNK) {
          fill += x
          continue
        }
        carried = true // the last entry starts the next batch
        break
      }
      const count = carried ? batch.length - 1 : batch.length
      const streamed = fill > IO_CHUNK // a carried entry larger than the buffer, alone
      if (!streamed) await this.gatherer.gather(batch, count, read, scratch)
      for (let i = 0, off = 0; i < count; i++) {
        const x = batch.x(i)
        const y = batch.y(i)
        for (let done = 0; done < x; ) {
          let buf: Buffer
          if (streamed) {
            buf = scratch.subarray(0, Math.min(IO_CHUNK, x - done))
            await read(buf, batch.oldpos(i) + done)
          } else buf = scratch.subarray(off, off + x)
          if (sparse) sparse.addTo(buf)
          else for (let at = 0; at < buf.length; ) {
            const d = diff.read(buf.length - at)
            if (d.length === 0) throw new DeltaError('DELTA_CORRUPT', 'diff stream ends before its control says', { x })
            adder.add(buf.subarray(at), d)
            at += d.length
          }
          await emit(buf)
          done += buf.length
        }
        off += x
        for (let done = 0; done < y; ) {
          const e = extra.read(y - done)
          if (e.length === 0) throw new DeltaError('DELTA_CORRUPT', 'extra stream ends before its control says', { y })
          await emit(e)
          done += e.length
        }
      }
      if (carried) batch.keepLast()
    }
    // an op must consume each of its streams exactly: leftovers mean a forged or damaged op
    varints.expectEnd()
    if (sparse) sparse.expectEnd()
    else diff.expectEnd()
    extra.expectEnd()
  }
}
