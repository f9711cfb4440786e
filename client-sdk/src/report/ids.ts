/** Event ids made by the device (DEVICE-API.md: the same id twice counts once). */
import { createHash, randomUUID } from 'node:crypto'

/**
 * A UUID (RFC 9562 version 8) derived from `parts`, so an agent that restarts
 * and reports the same state of the same update again sends the same id, and
 * the server counts it once.
 */
export function stableId(...parts: (string | number)[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest()
  h[6] = ((h[6] as number) & 0x0f) | 0x80
  h[8] = ((h[8] as number) & 0x3f) | 0x80
  const x = h.subarray(0, 16).toString('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`
}

export const newId = (): string => randomUUID()
