/**
 * Re-check a slot from disk against the CI-signed release: the first `length`
 * bytes must hash to `sha256`. Used when the agent resumes after the slot was
 * written but before it was verified (the streaming hash of the writer died
 * with the process that computed it), and before a slot-switch trusts a slot
 * that claims to hold the target already.
 */
import { open } from 'node:fs/promises'
import { PayloadVerifier } from '../../../signing/verify/index.js'
import { AgentError } from '../errors.js'

export async function verifySlot(path: string, expected: { sha256: string; length: number }): Promise<void> {
  const fh = await open(path, 'r')
  try {
    const v = new PayloadVerifier(expected)
    const buf = Buffer.allocUnsafe(1 << 20)
    for (let at = 0; at < expected.length; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, expected.length - at), at)
      if (bytesRead === 0) throw new AgentError('SLOT_WRITE_FAILED', `slot ${path} holds ${at} bytes, the image has ${expected.length}`)
      v.update(buf.subarray(0, bytesRead))
      at += bytesRead
    }
    v.finish()
  } finally {
    await fh.close()
  }
}

/** True when the slot holds exactly the signed image; false on any mismatch, short or unreadable slot. */
export async function slotHolds(path: string, expected: { sha256: string; length: number }): Promise<boolean> {
  try {
    await verifySlot(path, expected)
    return true
  } catch {
    return false
  }
}
