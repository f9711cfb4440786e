/**
 * The TUF 1.0 envelope (§4.2): `{"signed": {...}, "signatures": [{"keyid", "sig"}]}`.
 * Signatures are over the canonical JSON bytes of `signed`; `sig` is lowercase hex.
 * We always transmit the whole envelope in canonical wire form too, so a verifier
 * can refuse anything else, duplicate keys in particular (see `parseCanonical`).
 */
import { canonicalBytes, canonicalWire, parseCanonical } from './canonical-json.js'
import { TrustError } from './errors.js'
import { fail, obj, str } from './metadata/guard.js'
import type { Signer } from './signer.js'

export interface SignatureEntry {
  keyid: string
  /** hex of the signature bytes (see `Signer` for the encoding) */
  sig: string
}

export interface Envelope<T = unknown> {
  signed: T
  signatures: SignatureEntry[]
}

/** Sign `signed` with each signer; signers that share a keyid sign once. */
export async function signEnvelope<T>(signed: T, signers: readonly Signer[]): Promise<Envelope<T>> {
  return addSignatures({ signed, signatures: [] }, signers)
}

/**
 * Add (or replace) signatures on an envelope, e.g. each root key holder in turn
 * during a ceremony. Returns a new envelope; signatures stay sorted by keyid.
 */
export async function addSignatures<T>(env: Envelope<T>, signers: readonly Signer[]): Promise<Envelope<T>> {
  const data = canonicalBytes(env.signed)
  const byId = new Map(env.signatures.map((s) => [s.keyid, s]))
  for (const signer of signers) {
    const sig = await signer.sign(data)
    byId.set(signer.keyId, { keyid: signer.keyId, sig: Buffer.from(sig).toString('hex') })
  }
  const signatures = [...byId.values()].sort((a, b) => (a.keyid < b.keyid ? -1 : a.keyid > b.keyid ? 1 : 0))
  return { signed: env.signed, signatures }
}

/** The wire bytes of an envelope: canonical wire form (valid JSON). */
export function encodeEnvelope(env: Envelope): Buffer {
  return Buffer.from(canonicalWire(env), 'utf8')
}

export interface DecodedEnvelope {
  signed: Record<string, unknown>
  signatures: { keyid: string; sig: Buffer }[]
  /** canonical bytes of `signed`: what the signatures cover */
  signedBytes: Buffer
}

const HEX = /^(?:[0-9a-f]{2})+$/

/** Parse envelope bytes: size cap, canonical form, shape. Signatures are not checked here. */
export function decodeEnvelope(bytes: Uint8Array, maxBytes: number): DecodedEnvelope {
  const doc = obj(parseCanonical(bytes, maxBytes), 'document')
  const signed = obj(doc.signed, 'signed')
  if (!Array.isArray(doc.signatures)) fail('signatures', 'an array')
  const signatures = (doc.signatures as unknown[]).map((s, i) => {
    const e = obj(s, `signatures[${i}]`)
    const keyid = str(e.keyid, `signatures[${i}].keyid`, 64)
    const sig = str(e.sig, `signatures[${i}].sig`, 1024)
    if (!HEX.test(sig)) throw new TrustError('DOC_MALFORMED', `signatures[${i}].sig is not hex`)
    return { keyid, sig: Buffer.from(sig, 'hex') }
  })
  return { signed, signatures, signedBytes: canonicalBytes(signed) }
}
