import { open, type FileHandle } from 'node:fs/promises'
import { encodeHeader, encodeOpHeader, HEADER_SIZE, type DeltaHeader, type OpHeader } from '../../client-sdk/src/delta/index.js'

/**
 * Writes a patch file: ops are appended as they are built, the header (op count,
 * largest payload) is written last at offset 0, so the builder never holds the patch.
 */
export class PatchWriter {
  opCount = 0
  private maxPayload = 0
  private offset = HEADER_SIZE
  /** next target offset the writer expects, so ops cannot be appended out of order */
  targetOffset = 0

  private constructor(private readonly fh: FileHandle) {}

  static async create(path: string): Promise<PatchWriter> {
    const fh = await open(path, 'w')
    await fh.write(Buffer.alloc(HEADER_SIZE), 0, HEADER_SIZE, 0)
    return new PatchWriter(fh)
  }

  async append(op: OpHeader, payload: Buffer): Promise<void> {
    if (op.targetOffset !== this.targetOffset) throw new Error(`op at ${op.targetOffset}, expected ${this.targetOffset}`)
    if (payload.length !== op.payloadLength) throw new Error('payload length does not match its op header')
    const head = encodeOpHeader(op)
    await this.fh.write(head, 0, head.length, this.offset)
    this.offset += head.length
    if (payload.length > 0) await this.fh.write(payload, 0, payload.length, this.offset)
    this.offset += payload.length
    this.opCount++
    this.maxPayload = Math.max(this.maxPayload, payload.length)
    this.targetOffset += op.targetLength
  }

  /** Writes the header and closes; returns the patch size in bytes. */
  async finish(h: Omit<DeltaHeader, 'opCount' | 'maxPayload'>): Promise<number> {
    const head = encodeHeader({ ...h, opCount: this.opCount, maxPayload: this.maxPayload })
    await this.fh.write(head, 0, head.length, 0)
    await this.fh.sync()
    await this.fh.close()
    return this.offset
  }

  async abort(): Promise<void> {
    await this.fh.close()
  }
}
