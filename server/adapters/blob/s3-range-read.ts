/**
 * Ranged reads from S3 that return exactly the bytes asked for, even when the
 * server answers a Range request with more: a proxy may ignore Range and send
 * 200 with the whole object, and s3rver 3.7 reads `bytes=0-0` as `bytes=0-`.
 * minio accepts both answers, so the adapter checks Content-Range itself.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import type { Client } from 'minio'
import type { ByteRange } from '../../domain/ports/infrastructure.js'

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/

export async function getRange(client: Client, bucket: string, key: string, range: ByteRange): Promise<Readable> {
  const res = (await client.getPartialObject(bucket, key, range.start, range.end - range.start + 1)) as IncomingMessage
  // 206 with a Content-Range of its own: the bytes start at its first position.
  // 200 (Range ignored): they start at 0.
  const served = CONTENT_RANGE.exec(String(res.headers['content-range'] ?? ''))
  const first = res.statusCode === 206 && served ? Number(served[1]) : 0
  const last = res.statusCode === 206 && served ? Number(served[2]) : Number.POSITIVE_INFINITY
  if (first === range.start && last <= range.end) return res
  if (first > range.start) {
    res.destroy()
    throw new Error(`S3 served bytes from ${first} for a range starting at ${range.start}`)
  }
  return window(res, range.start - first, range.end - range.start + 1)
}

/** The `take` bytes of `source` after its first `skip`; stops (and closes) the source when done. */
function window(source: Readable, skip: number, take: number): Readable {
  async function* bytes() {
    let toSkip = skip
    let toTake = take
    // Leaving the loop early destroys the source: no need to download the rest.
    for await (const chunk of source as AsyncIterable<Buffer>) {
      const from = Math.min(toSkip, chunk.length)
      toSkip -= from
      const slice = chunk.subarray(from, from + toTake)
      toTake -= slice.length
      if (slice.length > 0) yield slice
      if (toTake === 0) return
    }
  }
  return Readable.from(bytes(), { objectMode: false })
}
