/**
 * Pulls exact byte counts out of an async stream of chunks (a patch arriving over HTTP,
 * or a brotli decoder). Holds at most one pending read's worth of bytes plus one chunk,
 * so memory follows what the caller asks for, never the length of the stream.
 */
export class ByteReader {
  private chunks: Buffer[] = []
  private buffered = 0
  private ended = false
  /** bytes handed out so far: the offset of the next byte in the stream */
  position = 0

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  static from(stream: AsyncIterable<Uint8Array>): ByteReader {
    return new ByteReader(stream[Symbol.asyncIterator]())
  }

  private async fill(min: number): Promise<void> {
    while (this.buffered < min && !this.ended) {
      const r = await this.source.next()
      if (r.done) {
        this.ended = true
        break
      }
      if (r.value.length === 0) continue
      const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.length)
      this.chunks.push(chunk)
      this.buffered += chunk.length
    }
  }

  private take(n: number): Buffer {
    let out: Buffer
    const first = this.chunks[0]!
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let at = 0
      while (at < n) {
        const c = this.chunks[0]!
        const k = Math.min(c.length, n - at)
        c.copy(out, at, 0, k)
        at += k
        if (k === c.length) this.chunks.shift()
        else this.chunks[0] = c.subarray(k)
      }
    }
    this.buffered -= n
    this.position += n
    return out
  }

  /** Exactly n bytes, or null when the stream ends first (the caller picks the error). */
  async read(n: number): Promise<Buffer | null> {
    if (n === 0) return Buffer.alloc(0)
    await this.fill(n)
    if (this.buffered < n) return null
    return this.take(n)
  }

  /** Exactly n bytes copied into `into` (reused by the caller); false when the stream ends first. */
  async readInto(into: Buffer, n: number): Promise<boolean> {
    let at = 0
    while (at < n) {
      await this.fill(1)
      if (this.buffered === 0) return false
      const c = this.chunks[0]!
      const k = Math.min(c.length, n - at)
      c.copy(into, at, 0, k)
      at += k
      if (k === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(k)
      this.buffered -= k
      this.position += k
    }
    return true
  }

  /** Between 1 and n bytes; an empty buffer only at the end of the stream. */
  async readSome(n: number): Promise<Buffer> {
    await this.fill(1)
    // at the end there is no chunk to take from (take(0) would read chunks[0] of nothing)
    if (this.buffered === 0) return Buffer.alloc(0)
    return this.take(Math.min(n, this.buffered))
  }

  /** Skips n bytes without keeping them; false when the stream ends first. */
  async skip(n: number): Promise<boolean> {
    let left = n
    while (left > 0) {
      const got = await this.readSome(Math.min(left, 1 << 20))
      if (got.length === 0) return false
      left -= got.length
    }
    return true
  }

  async atEnd(): Promise<boolean> {
    await this.fill(1)
    return this.buffered === 0
  }
}
