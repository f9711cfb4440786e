import { createHash, type Hash } from 'node:crypto'
import { createBrotliDecompress } from 'node:zlib'
import { ByteReader } from './byte-reader.js'
import { DeltaError } from './errors.js'

/** Random-access source image: a file or a block device (the inactive slot's peer). */
export interface SourceReader {
  /** bytes available; a partition may be larger than the image it holds */
  readonly size: number
  /** reads buf.length bytes at position; returns how many were read */
  read(buf: Buffer, position: number): Promise<number>
}

/** Where the target goes: written strictly in increasing offsets, never read except on resume. */
export interface TargetSink {
  write(buf: Buffer, position: number): Promise<void>
  /** reads back the written prefix when resuming; a sink without it cannot resume */
  read?(buf: Buffer, position: number): Promise<number>
  /** makes written bytes durable before progress is recorded */
  sync?(): Promise<void>
}

/** 1 MiB: large enough for sequential I/O speed, small against the 64 MB budget. */
export const IO_CHUNK = 1 << 20

export async function readExactly(src: SourceReader, buf: Buffer, position: number): Promise<void> {
  let at = 0
  while (at < buf.length) {
    const n = await src.read(at === 0 ? buf : buf.subarray(at), position + at)
    if (n === 0) throw new DeltaError('DELTA_SOURCE_MISMATCH', 'source image is shorter than the patch expects', { position })
    at += n
  }
}

/**
 * Coalesces the many small pieces an op emits (bsdiff extra runs can be a few bytes)
 * into 1 MiB sequential writes, and hashes every byte once for the op and once for the image.
 */
export class TargetWriter {
  private readonly buf = Buffer.allocUnsafe(IO_CHUNK)
  private fill = 0
  op: Hash = createHash('sha256')

  constructor(
    private readonly sink: TargetSink,
    readonly image: Hash,
    /** offset of the next byte to write */
    public offset: number,
  ) {}

  async push(b: Buffer): Promise<void> {
    this.op.update(b)
    this.image.update(b)
    if (b.length >= IO_CHUNK) {
      await this.flush()
      await this.sink.write(b, this.offset)
      this.offset += b.length
      return
    }
    if (this.fill + b.length > IO_CHUNK) await this.flush()
    b.copy(this.buf, this.fill)
    this.fill += b.length
  }

  async flush(): Promise<void> {
    if (this.fill === 0) return
    // the sink may keep the buffer (a test sink does): hand it a copy, keep ours reusable
    await this.sink.write(Buffer.from(this.buf.subarray(0, this.fill)), this.offset)
    this.offset += this.fill
    this.fill = 0
  }

  /** the pending-inclusive offset: where the next pushed byte lands */
  get position(): number {
    return this.offset + this.fill
  }
}

/**
 * A brotli stream inside an op payload, read on demand. Decoding is pulled, so a
 * decompression bomb costs time for the bytes we ask for and nothing more.
 */
export class BrotliPull {
  private readonly decoder = createBrotliDecompress({ chunkSize: 64 * 1024 })
  private readonly reader: ByteReader
  private failed: unknown

  constructor(compressed: Buffer, private readonly what: string) {
    // the decoder starts work at once; an error before anyone reads must not become an
    // unhandled 'error' event (found by the fuzz test): keep it and report it on read
    this.decoder.on('error', (e) => {
      this.failed ??= e
    })
    this.decoder.end(compressed)
    this.reader = ByteReader.from(this.decoder)
  }

  private corrupt(cause?: unknown): DeltaError {
    return new DeltaError('DELTA_CORRUPT', `bad ${this.what} stream in op payload`, { stream: this.what }, { cause })
  }

  async read(n: number): Promise<Buffer> {
    let b: Buffer | null
    if (this.failed) throw this.corrupt(this.failed)
    try {
      b = await this.reader.read(n)
    } catch (e) {
      throw this.corrupt(e)
    }
    if (!b) throw this.corrupt()
    return b
  }

  /** n bytes (up to n with `some`), or null when the stream has no bytes left */
  async readOrEnd(n: number, some = false): Promise<Buffer | null> {
    if (this.failed) throw this.corrupt(this.failed)
    try {
      if (await this.reader.atEnd()) return null
      const b = some ? await this.reader.readSome(n) : await this.reader.read(n)
      if (!b) throw this.corrupt()
      return b
    } catch (e) {
      throw e instanceof DeltaError ? e : this.corrupt(e)
    }
  }

  /** an op must consume each of its streams exactly: leftovers mean a forged or damaged op */
  async expectEnd(): Promise<void> {
    let end: boolean
    if (this.failed) throw this.corrupt(this.failed)
    try {
      end = await this.reader.atEnd()
    } catch (e) {
      throw this.corrupt(e)
    }
    if (!end) throw new DeltaError('DELTA_CORRUPT', `${this.what} stream has trailing bytes`, { stream: this.what })
  }

  destroy(): void {
    this.decoder.destroy()
  }
}
