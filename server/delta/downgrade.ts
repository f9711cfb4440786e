import { createHash } from 'node:crypto'
import { open, rm, type FileHandle } from 'node:fs/promises'
import { brotliDecompressSync } from 'node:zlib'
import { decodeHeader, decodeOpHeader, expandSparseDiff, HEADER_SIZE, OP_HEADER_SIZE, OpType, sparseStreamLimit, type OpHeader } from '../../client-sdk/src/delta/index.js'
import { decodeTransposeDescriptor, TRANSPOSE_DESCRIPTOR_SIZE, untranspose } from '../../client-sdk/src/delta/transpose.js'
import { DeltaBuildError } from './bsdiff-window.js'
import { brotli, replaceOp } from './encode-op.js'
import { PatchWriter } from './patch-writer.js'
import { readAt } from './region.js'

const REPLACE_MAX = 4 << 20

export interface DowngradeResult {
  /** size of the version-1 patch, bytes */
  size: number
  /** MEMBER ops that became REPLACE ops */
  replaced: number
  /** BSDIFF ops whose sparse diff stream (version 3) was written out dense */
  densified: number
  /** TRANSPOSED ops (version 3) that became REPLACE ops of their bytes in order */
  untransposed: number
}

/**
 * The version-1 twin of a version-2 or 3 patch, for devices whose applier does not take
 * its version (an older agent, another zlib): every MEMBER op becomes a REPLACE op of the
 * member's compressed target bytes, read from the target image; in version 3 every
 * BSDIFF op's sparse diff stream is expanded and compressed again dense, and every
 * TRANSPOSED op becomes a REPLACE op of its bytes in order; every other op
 * is the same in all versions and is copied as it is. A changed compressed member costs
 * about its own size in any byte diff, so the twin is within a few percent of a version-1
 * build, without a second build. Returns undefined when the patch is already version 1.
 * The caller verifies the twin (it applies it like any built patch).
 */
export async function downgradeToV1(patchPath: string, targetPath: string, outPath: string, quality = 9): Promise<DowngradeResult | undefined> {
  const patch = await open(patchPath, 'r')
  let target: FileHandle | undefined
  let writer: PatchWriter | undefined
  let ok = false
  try {
    const header = decodeHeader(await readAt(patch, 0, HEADER_SIZE))
    if (header.version === 1) return undefined
    target = await open(targetPath, 'r')
    writer = await PatchWriter.create(outPath)
    let at = HEADER_SIZE
    let replaced = 0
    let densified = 0
    let untransposed = 0
    for (let i = 0; i < header.opCount; i++) {
      const op = decodeOpHeader(await readAt(patch, at, OP_HEADER_SIZE), header.version)
      at += OP_HEADER_SIZE
      if (op.type === OpType.MEMBER) {
        // a spooled member (codec 3) may be tens of MiB: REPLACE ops of ≤ 4 MiB, as the builder cuts them
        const whole = createHash('sha256')
        for (let done = 0; done < op.targetLength; ) {
          const bytes = await readAt(target, op.targetOffset + done, Math.min(REPLACE_MAX, op.targetLength - done))
          whole.update(bytes)
          const member = await replaceOp(op.targetOffset + done, bytes, quality)
          await writer.append(member.op, member.payload)
          done += bytes.length
        }
        if (!whole.digest().equals(op.sha256)) {
          throw new DeltaBuildError('DELTA_BUILD_INPUT', `member at ${op.targetOffset} of the target does not hash to what the patch records`)
        }
        replaced++
      } else if (op.type === OpType.TRANSPOSED) {
        const plain = await replaceOp(op.targetOffset, untransposeOp(op, await readAt(patch, at, op.payloadLength)), quality)
        if (!plain.op.sha256.equals(op.sha256)) throw new DeltaBuildError('DELTA_BUILD_INPUT', `transposed op at ${op.targetOffset} does not hash to what the patch records`)
        await writer.append(plain.op, plain.payload)
        untransposed++
      } else if (op.type === OpType.BSDIFF && header.version === 3) {
        const dense = await densify(op, await readAt(patch, at, op.payloadLength), quality)
        await writer.append(dense.op, dense.payload)
        densified++
      } else {
        await writer.append(op, op.payloadLength > 0 ? await readAt(patch, at, op.payloadLength) : Buffer.alloc(0))
      }
      at += op.payloadLength
    }
    if (writer.targetOffset !== header.targetSize) throw new DeltaBuildError('DELTA_BUILD_INPUT', 'the patch does not cover its target')
    const { sourceSize, targetSize, sourceSha256, targetSha256 } = header
    const size = await writer.finish({ version: 1, sourceSize, targetSize, sourceSha256, targetSha256 })
    ok = true
    return { size, replaced, densified, untransposed }
  } finally {
    if (!ok) await writer?.abort().catch(() => {})
    await Promise.all([patch.close(), target?.close()])
    if (!ok && writer) await rm(outPath, { force: true })
  }
}

/** A version-3 BSDIFF op with its diff stream dense, as version 1 has it; control and extra are kept. */
async function densify(op: OpHeader, payload: Buffer, quality: number): Promise<{ op: OpHeader; payload: Buffer }> {
  const ctrl = payload.subarray(0, op.ctrlLength)
  const extra = payload.subarray(op.ctrlLength + op.diffLength)
  let dense: Buffer
  try {
    const records = brotliDecompressSync(payload.subarray(op.ctrlLength, op.ctrlLength + op.diffLength), { maxOutputLength: sparseStreamLimit(op.targetLength) })
    dense = expandSparseDiff(records, op.targetLength)
  } catch (e) {
    throw new DeltaBuildError('DELTA_BUILD_INPUT', `diff stream of the op at ${op.targetOffset} does not decode: ${String(e)}`, { cause: e })
  }
  const diff = await brotli(dense, quality)
  return { op: { ...op, diffLength: diff.length, payloadLength: ctrl.length + diff.length + extra.length }, payload: Buffer.concat([ctrl, diff, extra]) }
}

/** A TRANSPOSED op's bytes in target order. */
function untransposeOp(op: OpHeader, payload: Buffer): Buffer {
  try {
    const stride = decodeTransposeDescriptor(payload)
    const columns = brotliDecompressSync(payload.subarray(TRANSPOSE_DESCRIPTOR_SIZE), { maxOutputLength: Math.max(1, op.targetLength) })
    if (columns.length !== op.targetLength) throw new Error(`${columns.length} bytes, not ${op.targetLength}`)
    return untranspose(columns, stride)
  } catch (e) {
    throw new DeltaBuildError('DELTA_BUILD_INPUT', `transposed op at ${op.targetOffset} does not decode: ${String(e)}`, { cause: e })
  }
}
