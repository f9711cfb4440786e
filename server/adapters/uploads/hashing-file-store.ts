/**
 * tus's FileStore, hashing the bytes as they stream to disk so that binding a
 * multi-GB upload need not read it back. The running hash is kept per upload in
 * this process and trusted only while it provably covers exactly the bytes on disk:
 * a PATCH that starts at another offset (a resume that went to another replica, or
 * after a restart) or that fails part-way drops it, and the release service then
 * re-hashes the file.
 */
import { createHash, type Hash } from 'node:crypto'
import { Transform, type Readable } from 'node:stream'
import { FileStore } from '@tus/file-store'

interface RunningHash {
  hash: Hash
  /** bytes covered by `hash` */
  offset: number
}

export class HashingFileStore extends FileStore {
  /** Called with the size of every chunk received, as it is received (upload-bytes metric). */
  onBytes: (n: number) => void = () => {}
  private readonly running = new Map<string, RunningHash>()

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    let state = this.running.get(id)
    if (offset === 0) state = { hash: createHash('sha256'), offset: 0 }
    else if (state?.offset !== offset) state = undefined
    this.running.delete(id)
    let hashed = 0
    const tee = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.onBytes(chunk.length)
        state?.hash.update(chunk)
        hashed += chunk.length
        done(null, chunk)
      },
    })
    // a client abort must reach the file store's pipeline as an error, not a hang
    readable.on('error', (e) => tee.destroy(e))
    const end = await super.write(readable.pipe(tee), id, offset)
    // the hash is good only if it saw exactly the bytes that reached the file
    if (state && end === offset + hashed) this.running.set(id, { hash: state.hash, offset: end })
    return end
  }

  /** sha256 of the first `length` bytes, when the running hash covers exactly those. */
  digest(id: string, length: number): string | undefined {
    const state = this.running.get(id)
    return state && state.offset === length ? state.hash.copy().digest('hex') : undefined
  }

  override async remove(id: string): Promise<void> {
    this.running.delete(id)
    await super.remove(id)
  }
}
