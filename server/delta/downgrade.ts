import { open, rm, type FileHandle } from 'node:fs/promises'
import { decodeHeader, decodeOpHeader, HEADER_SIZE, OP_HEADER_SIZE, OpType } from '../../client-sdk/src/delta/index.js'
import { DeltaBuildError } from './bsdiff-window.js'
import { replaceOp } from './encode-op.js'
import { PatchWriter } from './patch-writer.js'
import { readAt } from './region.js'

export interface DowngradeResult {
  /** size of the version-1 patch, bytes */
  size: number
  /** MEMBER ops that became REPLACE ops */
  replaced: number
}

/**
 * The version-1 twin of a version-2 patch, for devices whose applier does not take
 * version 2 (an older agent, another zlib): every MEMBER op becomes a REPLACE op of the
 * member's compressed target bytes, read from the target image; every other op is the
 * same in both versions and is copied as it is. A changed compressed member costs about
 * its own size in any byte diff, so the twin is within a few percent of a version-1
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
    if (header.version !== 2) return undefined
    target = await open(targetPath, 'r')
    writer = await PatchWriter.create(outPath)
    let at = HEADER_SIZE
    let replaced = 0
    for (let i = 0; i < header.opCount; i++) {
      const op = decodeOpHeader(await readAt(patch, at, OP_HEADER_SIZE), header.version)
      at += OP_HEADER_SIZE
      if (op.type === OpType.MEMBER) {
        const member = await replaceOp(op.targetOffset, await readAt(target, op.targetOffset, op.targetLength), quality)
        if (!member.op.sha256.equals(op.sha256)) {
          throw new DeltaBuildError('DELTA_BUILD_INPUT', `member at ${op.targetOffset} of the target does not hash to what the patch records`)
        }
        await writer.append(member.op, member.payload)
        replaced++
      } else {
        await writer.append(op, op.payloadLength > 0 ? await readAt(patch, at, op.payloadLength) : Buffer.alloc(0))
      }
      at += op.payloadLength
    }
    if (writer.targetOffset !== header.targetSize) throw new DeltaBuildError('DELTA_BUILD_INPUT', 'the patch does not cover its target')
    const { sourceSize, targetSize, sourceSha256, targetSha256 } = header
    const size = await writer.finish({ version: 1, sourceSize, targetSize, sourceSha256, targetSha256 })
    ok = true
    return { size, replaced }
  } finally {
    if (!ok) await writer?.abort().catch(() => {})
    await Promise.all([patch.close(), target?.close()])
    if (!ok && writer) await rm(outPath, { force: true })
  }
}
