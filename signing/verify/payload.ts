/**
 * Payload check while streaming (TUF 1.0 §5.7.3): hash every byte, and stop as
 * soon as more bytes arrive than the signed length (endless data attack).
 */
import { createHash, type Hash } from 'node:crypto'
import { TrustError } from '../errors.js'

export class PayloadVerifier {
  readonly #hash: Hash = createHash('sha256')
  #seen = 0

  constructor(readonly expected: { sha256: string; length: number }) {}

  update(chunk: Uint8Array): void {
    this.#seen += chunk.byteLength
    if (this.#seen > this.expected.length)
      throw new TrustError('PAYLOAD_LENGTH_MISMATCH', `payload exceeds its signed length ${this.expected.length}`, { length: this.expected.length })
    this.#hash.update(chunk)
  }

  /** Call after the last chunk. */
  finish(): void {
    if (this.#seen !== this.expected.length)
      throw new TrustError('PAYLOAD_LENGTH_MISMATCH', `payload is ${this.#seen} bytes, signed length ${this.expected.length}`, { length: this.#seen, expected: this.expected.length })
    const actual = this.#hash.digest('hex')
    if (actual !== this.expected.sha256)
      throw new TrustError('PAYLOAD_HASH_MISMATCH', `payload sha256 ${actual} is not the signed ${this.expected.sha256}`, { actual, expected: this.expected.sha256 })
  }
}

/** Check a whole payload, from bytes or any (async) iterable of chunks. */
export async function verifyPayload(data: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>, expected: { sha256: string; length: number }): Promise<void> {
  const v = new PayloadVerifier(expected)
  if (data instanceof Uint8Array) v.update(data)
  else for await (const chunk of data) v.update(chunk)
  v.finish()
}
