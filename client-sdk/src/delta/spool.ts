import { randomBytes } from 'node:crypto'
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { ByteSource } from './pull-window.js'

/**
 * Scratch space on disk for one spooled MEMBER op (member codec 3, DELTA-FORMAT.md
 * "Spooled members"): the source member's compressed bytes, its puff, the rebuilt target
 * puff and the target's deflate stream, each in a region of its own, so that a member of
 * hundreds of MiB (a gzip kernel, an initramfs) costs the device a few buffers of memory
 * and at most four times the member's size on disk, for the length of the op.
 *
 * The file is created in the spool folder under a random name, readable by its owner
 * only, and unlinked at once: it is never seen by anything else, and a crash or a power
 * cut leaves nothing behind. Its I/O is synchronous: the puff and huff parsers are tight
 * synchronous loops, and page-cache reads of 256 KiB cost less than an await.
 *
 * A failing system call throws node's error with `spool: true` added (a full disk here is
 * the data folder's, not the target slot's).
 */
export class Spool {
  private constructor(private readonly fd: number) {}

  static open(dir: string): Spool {
    const path = join(dir, `.slipway-spool-${process.pid}-${randomBytes(6).toString('hex')}`)
    const fd = io(() => openSync(path, 'wx+', 0o600))
    try {
      io(() => unlinkSync(path))
    } catch (e) {
      closeSync(fd)
      throw e
    }
    return new Spool(fd)
  }

  /** the spool's bytes [at, at + total) as a stream for puff/huff */
  region(at: number, total: number): ByteSource {
    return { total, fill: (buf, pos) => this.read(buf, at + pos) }
  }

  read(buf: Uint8Array, position: number): void {
    for (let done = 0; done < buf.length; ) {
      const n = io(() => readSync(this.fd, buf, done, buf.length - done, position + done))
      if (n === 0) throw Object.assign(new Error('spool file ends before what was written to it'), { spool: true })
      done += n
    }
  }

  write(buf: Uint8Array, position: number): void {
    for (let done = 0; done < buf.length; ) done += io(() => writeSync(this.fd, buf, done, buf.length - done, position + done))
  }

  close(): void {
    closeSync(this.fd)
  }
}

/** Sequential writes into the spool from `at` on, gathered into `buf` (the inner bsdiff emits pieces of a few bytes). */
export class SpoolWriter {
  private fill = 0

  constructor(
    private readonly spool: Spool,
    private at: number,
    private readonly buf: Buffer,
  ) {}

  push(b: Uint8Array): void {
    for (let i = 0; i < b.length; ) {
      const n = Math.min(b.length - i, this.buf.length - this.fill)
      this.buf.set(b.subarray(i, i + n), this.fill)
      this.fill += n
      i += n
      if (this.fill === this.buf.length) this.flush()
    }
  }

  flush(): void {
    this.spool.write(this.buf.subarray(0, this.fill), this.at)
    this.at += this.fill
    this.fill = 0
  }
}

function io<T>(f: () => T): T {
  try {
    return f()
  } catch (e) {
    if (e && typeof e === 'object') Object.assign(e, { spool: true })
    throw e
  }
}
