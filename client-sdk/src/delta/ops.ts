import { MAX_CONTROL_ENTRY, OpType, readVarint, unzigzag, type OpHeader } from './format.js'
import { DeltaError } from './errors.js'
import { BrotliPull, IO_CHUNK, readExactly, type SourceReader, type TargetWriter } from './streams.js'

/**
 * Executes one operation: reads its source bytes at random, streams its output into
 * the writer. Memory: the (bounded) payload the caller holds plus ~1 MiB chunks and
 * three brotli decoders, whatever targetLength is.
 */
export async function runOp(op: OpHeader, payload: Buffer, source: SourceReader, sourceSize: number, out: TargetWriter) {
  if (op.type === OpType.COPY) return runCopy(op, source, sourceSize, out)
  if (op.type === OpType.REPLACE) return runReplace(op, payload, out)
  return runBsdiff(op, payload, source, sourceSize, out)
}

function checkExtent(op: OpHeader, sourceSize: number) {
  if (op.srcOffset + op.srcLength > sourceSize) {
    throw new DeltaError('DELTA_OUT_OF_SOURCE', 'op source extent lies outside the source image', {
      srcOffset: op.srcOffset,
      srcLength: op.srcLength,
      sourceSize,
    })
  }
}

async function runCopy(op: OpHeader, source: SourceReader, sourceSize: number, out: TargetWriter) {
  checkExtent(op, sourceSize)
  for (let done = 0; done < op.targetLength; ) {
    const n = Math.min(IO_CHUNK, op.targetLength - done)
    const buf = Buffer.allocUnsafe(n)
    await readExactly(source, buf, op.srcOffset + done)
    await out.push(buf)
    done += n
  }
}

async function runReplace(op: OpHeader, payload: Buffer, out: TargetWriter) {
  const data = new BrotliPull(payload, 'replace')
  try {
    for (let done = 0; done < op.targetLength; ) {
      const b = await data.read(Math.min(IO_CHUNK, op.targetLength - done))
      await out.push(b)
      done += b.length
    }
    await data.expectEnd()
  } finally {
    data.destroy()
  }
}

/**
 * bsdiff semantics (Percival's BSDIFF40, streams re-encoded with brotli): each control
 * entry (x, y, z) adds x diff bytes to the source at oldpos, copies y extra bytes, then
 * moves oldpos by z. oldpos is relative to the op's source extent and must stay inside it.
 */
async function runBsdiff(op: OpHeader, payload: Buffer, source: SourceReader, sourceSize: number, out: TargetWriter) {
  checkExtent(op, sourceSize)
  const ctrl = new ControlReader(new BrotliPull(payload.subarray(0, op.ctrlLength), 'control'))
  const diff = new BrotliPull(payload.subarray(op.ctrlLength, op.ctrlLength + op.diffLength), 'diff')
  const extra = new BrotliPull(payload.subarray(op.ctrlLength + op.diffLength), 'extra')
  try {
    let produced = 0
    let oldpos = 0
    let idle = 0
    while (produced < op.targetLength) {
      const e = await ctrl.entry()
      if (!e) throw new DeltaError('DELTA_CORRUPT', 'control stream ends before the op output is complete')
      const [x, y, z] = e
      if (x < 0 || y < 0 || x + y > op.targetLength - produced || !Number.isSafeInteger(z)) {
        throw new DeltaError('DELTA_CORRUPT', 'control entry out of range', { x, y, z })
      }
      // entries that write nothing only move oldpos; two in a row are never needed,
      // so refusing them bounds the work a forged control stream can cause
      idle = x + y === 0 ? idle + 1 : 0
      if (idle > 1) throw new DeltaError('DELTA_CORRUPT', 'control stream has consecutive empty entries')
      if (x > 0 && (oldpos < 0 || oldpos + x > op.srcLength)) {
        throw new DeltaError('DELTA_OUT_OF_SOURCE', 'bsdiff control reads outside the op source extent', {
          oldpos,
          length: x,
          srcLength: op.srcLength,
        })
      }
      for (let done = 0; done < x; ) {
        const n = Math.min(IO_CHUNK, x - done)
        const buf = Buffer.allocUnsafe(n)
        await readExactly(source, buf, op.srcOffset + oldpos + done)
        const d = await diff.read(n)
        for (let i = 0; i < n; i++) buf[i] = buf[i]! + d[i]! // Uint8Array store wraps mod 256, as bspatch does
        await out.push(buf)
        done += n
      }
      for (let done = 0; done < y; ) {
        const b = await extra.read(Math.min(IO_CHUNK, y - done))
        await out.push(b)
        done += b.length
      }
      produced += x + y
      oldpos += x + z
    }
    await ctrl.expectEnd()
    await diff.expectEnd()
    await extra.expectEnd()
  } finally {
    ctrl.destroy()
    diff.destroy()
    extra.destroy()
  }
}

/**
 * Decodes varint control entries from a pulled brotli stream with a small buffer:
 * refills only when fewer than one maximal entry is left, then decodes synchronously.
 */
class ControlReader {
  private buf = Buffer.alloc(0)
  private at = 0
  private ended = false

  constructor(private readonly stream: BrotliPull) {}

  private async refill(): Promise<void> {
    if (this.ended || this.buf.length - this.at >= MAX_CONTROL_ENTRY) return
    const more = await this.stream.readOrEnd(64 * 1024, true)
    if (!more) this.ended = true
    else this.buf = Buffer.concat([this.buf.subarray(this.at), more])
    if (more) this.at = 0
  }

  async entry(): Promise<[number, number, number] | null> {
    while (!this.ended && this.buf.length - this.at < MAX_CONTROL_ENTRY) await this.refill()
    const end = this.buf.length
    if (this.at === end) return null
    const x = readVarint(this.buf, this.at, end)
    const y = x && readVarint(this.buf, x[1], end)
    const z = y && readVarint(this.buf, y[1], end)
    if (!x || !y || !z) throw new DeltaError('DELTA_CORRUPT', 'control stream ends inside an entry')
    this.at = z[1]
    return [x[0], y[0], unzigzag(z[0])]
  }

  async expectEnd(): Promise<void> {
    if (this.at !== this.buf.length) throw new DeltaError('DELTA_CORRUPT', 'control stream has trailing bytes')
    await this.stream.expectEnd()
  }

  destroy(): void {
    this.stream.destroy()
  }
}
