/**
 * A/B model payloads: `<dir>/a/` and `<dir>/b/` each hold one model file and its
 * manifest; `<dir>/current` links to the slot the app uses (the app opens
 * `<dir>/current/<fileName>`), `<dir>/previous` to the one kept for instant rollback.
 *
 * Never a half-written model where the app looks:
 * - installs go only into the slot `current` does not point at;
 * - the model is written to a temp file in the slot folder, hashed while written,
 *   fsync'ed, checked against the signed sha256 and length, and only then renamed to
 *   `<fileName>` (a reader that already opened the old file keeps reading the old inode);
 * - the manifest, written last, is the mark of a complete slot;
 * - `current` is swapped by rename over a temp symlink.
 *
 * Crash safety: `activate(slot)` is idempotent, so an agent records the slot in its
 * journal and repeats the call after a restart; leftover temp files are removed by
 * the next install into that slot.
 */
import { createHash } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fsyncDir, tempSibling, writeFileAtomic } from '../slots/atomic-write.js'
import { otherSlot, type SlotName } from '../slots/port.js'
import { ModelError } from './errors.js'
import { readSlotLink, removeSlotLink, writeSlotLink } from './links.js'

export interface ModelStoreOptions {
  /** the models folder (e.g. /var/lib/slipway-models); holds a/, b/, current, previous */
  dir: string
  /** the model's file name inside a slot folder; default `model.gguf` */
  fileName?: string
}

/** What a slot holds: written after the model file is complete and verified. */
export interface ModelManifest {
  sha256: string
  /** bytes */
  length: number
  /** release name / version, for reports and the app */
  name?: string
  version?: string
  /** ISO 8601 */
  installedAt: string
}

export interface ModelExpectation {
  /** lowercase hex sha256 the signed release names */
  sha256: string
  /** bytes, when known */
  length?: number
  name?: string
  version?: string
}

export interface ModelStoreStatus {
  current?: SlotName
  previous?: SlotName
  /** manifests of the slots holding a complete model */
  slots: Partial<Record<SlotName, ModelManifest>>
}

/** A file path, or the bytes as a stream (e.g. a download body). */
export type ModelSource = string | AsyncIterable<Uint8Array>

const MANIFEST = 'manifest.json'

export class ModelStore {
  readonly dir: string
  readonly fileName: string

  constructor(opts: ModelStoreOptions) {
    this.dir = opts.dir
    this.fileName = opts.fileName ?? 'model.gguf'
  }

  slotDir(slot: SlotName): string {
    return join(this.dir, slot)
  }

  modelPath(slot: SlotName): string {
    return join(this.dir, slot, this.fileName)
  }

  /** The path the app opens: resolves through the `current` link. */
  currentPath(): string {
    return join(this.dir, 'current', this.fileName)
  }

  async status(): Promise<ModelStoreStatus> {
    const [current, previous, a, b] = await Promise.all([readSlotLink(this.dir, 'current'), readSlotLink(this.dir, 'previous'), this.manifest('a'), this.manifest('b')])
    const slots: Partial<Record<SlotName, ModelManifest>> = {}
    if (a) slots.a = a
    if (b) slots.b = b
    return { ...(current ? { current } : {}), ...(previous ? { previous } : {}), slots }
  }

  /** The slot to install into: the one `current` does not point at (a, on a fresh store). */
  async inactive(): Promise<SlotName> {
    const current = await readSlotLink(this.dir, 'current')
    return current ? otherSlot(current) : 'a'
  }

  /** The manifest of a slot holding a complete model; undefined otherwise. */
  async manifest(slot: SlotName): Promise<ModelManifest | undefined> {
    try {
      return JSON.parse(await readFile(join(this.slotDir(slot), MANIFEST), 'utf8')) as ModelManifest
    } catch {
      return undefined
    }
  }

  /**
   * Write, verify and place a model in `slot` (not the current one). The previous link
   * is dropped first when it points at `slot`: rollback must never reach a slot being
   * rewritten. On a hash or length mismatch nothing is left behind.
   */
  async install(slot: SlotName, source: ModelSource, expect: ModelExpectation): Promise<ModelManifest> {
    await this.prepare(slot)
    const tmp = tempSibling(this.modelPath(slot))
    const written = await writeHashed(tmp, typeof source === 'string' ? fileChunks(source) : source).catch(async (e: unknown) => {
      await rm(tmp, { force: true })
      throw e
    })
    return this.#place(slot, tmp, written, expect)
  }

  /**
   * Make `slot` ready to be written by someone else (the delta applier writes
   * `partialPath(slot)`): not the current slot, no previous link to it, no manifest,
   * no temp files. From here on the slot is incomplete until `adopt`.
   */
  async prepare(slot: SlotName): Promise<void> {
    if ((await readSlotLink(this.dir, 'current')) === slot) {
      throw new ModelError('MODEL_SLOT_IN_USE', `slot ${slot} is the current model: install into ${otherSlot(slot)}`, { slot })
    }
    if ((await readSlotLink(this.dir, 'previous')) === slot) await removeSlotLink(this.dir, 'previous')
    const dir = this.slotDir(slot)
    await mkdir(dir, { recursive: true })
    // the manifest goes first: from here on the slot is incomplete
    await rm(join(dir, MANIFEST), { force: true })
    for (const f of await readdir(dir)) if (f.endsWith('.tmp')) await rm(join(dir, f), { force: true })
  }

  /** Where an outside writer (the delta applier) builds the model of a prepared slot; stable across restarts. */
  partialPath(slot: SlotName): string {
    return join(this.slotDir(slot), `${this.fileName}.partial.tmp`)
  }

  /** Hash a model written by someone else into `partialPath(slot)` and place it as `install` does. */
  async adopt(slot: SlotName, expect: ModelExpectation): Promise<ModelManifest> {
    if ((await readSlotLink(this.dir, 'current')) === slot) throw new ModelError('MODEL_SLOT_IN_USE', `slot ${slot} is the current model`, { slot })
    const path = this.partialPath(slot)
    return this.#place(slot, path, await hashFile(path), expect)
  }

  /** Hash a slot's model file (integrity checks, slot-switch). */
  async hash(slot: SlotName): Promise<{ sha256: string; length: number }> {
    return hashFile(this.modelPath(slot))
  }

  async #place(slot: SlotName, tmp: string, got: { sha256: string; length: number }, expect: ModelExpectation): Promise<ModelManifest> {
    const { sha256, length } = got
    if (sha256 !== expect.sha256.toLowerCase() || (expect.length !== undefined && length !== expect.length)) {
      await rm(tmp, { force: true })
      throw new ModelError('MODEL_HASH_MISMATCH', `model for slot ${slot} hashes to ${sha256} (${length} bytes), expected ${expect.sha256}${expect.length !== undefined ? ` (${expect.length} bytes)` : ''}`, {
        slot,
        sha256,
        length,
        expected: expect,
      })
    }
    const dir = this.slotDir(slot)
    await rename(tmp, this.modelPath(slot))
    await fsyncDir(dir)
    const manifest: ModelManifest = {
      sha256,
      length,
      ...(expect.name !== undefined ? { name: expect.name } : {}),
      ...(expect.version !== undefined ? { version: expect.version } : {}),
      installedAt: new Date().toISOString(),
    }
    await writeFileAtomic(join(dir, MANIFEST), JSON.stringify(manifest) + '\n')
    return manifest
  }

  /** Point `current` at `slot`, keeping the old current as `previous`. Idempotent. */
  async activate(slot: SlotName): Promise<void> {
    if (!(await this.manifest(slot))) throw new ModelError('MODEL_NOT_INSTALLED', `slot ${slot} holds no complete model`, { slot })
    const current = await readSlotLink(this.dir, 'current')
    if (current === slot) return
    if (current !== undefined) await writeSlotLink(this.dir, 'previous', current)
    await writeSlotLink(this.dir, 'current', slot)
  }

  /** Back to the previous model: activate(previous). Returns the slot now current. */
  async rollback(): Promise<SlotName> {
    const previous = await readSlotLink(this.dir, 'previous')
    if (previous === undefined) throw new ModelError('MODEL_NO_PREVIOUS', 'no previous model kept')
    await this.activate(previous)
    return previous
  }
}

/**
 * A file in 1 MiB chunks, all in ONE buffer: each chunk is valid until the consumer asks
 * for the next (writeHashed and hashFile are done with it by then). A read stream
 * allocates a fresh buffer per chunk, and V8 frees those late (external memory): hashing
 * a 185 MiB model that way left tens of MB of them at the agent's peak RSS.
 */
async function* fileChunks(path: string): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.allocUnsafe(1 << 20)
    for (let at = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, at)
      if (bytesRead === 0) return
      at += bytesRead
      yield buf.subarray(0, bytesRead)
    }
  } finally {
    await fh.close()
  }
}

async function hashFile(path: string): Promise<{ sha256: string; length: number }> {
  const hash = createHash('sha256')
  let length = 0
  for await (const chunk of fileChunks(path)) {
    hash.update(chunk)
    length += chunk.length
  }
  return { sha256: hash.digest('hex'), length }
}

async function writeHashed(path: string, source: AsyncIterable<Uint8Array>): Promise<{ sha256: string; length: number }> {
  const hash = createHash('sha256')
  let length = 0
  const fd = await open(path, 'wx', 0o644)
  try {
    for await (const chunk of source) {
      hash.update(chunk)
      length += chunk.length
      let off = 0
      while (off < chunk.length) off += (await fd.write(chunk, off)).bytesWritten
    }
    await fd.sync()
  } finally {
    await fd.close()
  }
  return { sha256: hash.digest('hex'), length }
}
