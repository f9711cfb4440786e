/**
 * HTTP Message Signatures (RFC 9421) in the one profile Slipway devices use, and
 * Content-Digest (RFC 9530). Both sides import this file (the agent signs, the server
 * verifies), so it uses Node built-ins only.
 *
 * Profile (client-sdk/DEVICE-API.md "Request signatures"):
 *   Content-Digest: sha-256=:<base64 sha-256 of the body, empty body included>:
 *   Signature-Input: sig1=("@method" "@path" "@query" "content-digest");created=<unix s>;nonce="<16-64 chars>";keyid="<cert serial>";alg="ecdsa-p256-sha256"|"ed25519"
 *   Signature: sig1=:<base64 signature>:
 * ECDSA signatures are r‖s (RFC 9421 §3.3.4), Ed25519 the raw 64 bytes (§3.3.6).
 */
import { createHash } from 'node:crypto'

export const SIGNATURE_LABEL = 'sig1'
/** Covered components, in this order (§2.2.1 @method, §2.2.6 @path, §2.2.7 @query, RFC 9530 content-digest). */
export const COVERED_COMPONENTS = ['@method', '@path', '@query', 'content-digest'] as const
export type SignatureAlg = 'ecdsa-p256-sha256' | 'ed25519'

export interface SignatureParams {
  /** signing time, unix seconds */
  created: number
  /** single-use value, 16-64 characters of [A-Za-z0-9_-] */
  nonce: string
  /** the device certificate's serial (lowercase hex) */
  keyid: string
  alg: SignatureAlg
}

export interface SignedRequest {
  method: string
  /** request target as sent: path and query, e.g. `/v1/device/update?x=1` */
  target: string
  /** the `content-digest` header value */
  contentDigest: string
}

export class MessageSignatureError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MessageSignatureError'
  }
}

const NONCE = /^[A-Za-z0-9_-]{16,64}$/
const KEYID = /^[0-9a-f]{1,40}$/

/** RFC 9530 §2: `sha-256=:…:` over the exact body bytes (an absent body is the empty string). */
export function contentDigest(body: Uint8Array | string | undefined): string {
  return `sha-256=:${createHash('sha256').update(body ?? '').digest('base64')}:`
}

/** The sha-256 value of a Content-Digest header (other algorithms are ignored), or undefined. */
export function digestOf(header: string | undefined): string | undefined {
  if (!header) return undefined
  for (const part of header.split(',')) {
    const m = /^\s*sha-256=:([A-Za-z0-9+/]+={0,2}):\s*$/.exec(part)
    if (m) return m[1]
  }
  return undefined
}

/** The serialized inner list with parameters (§2.3): the value after `sig1=` and in `@signature-params`. */
export function serializeParams(p: SignatureParams): string {
  const list = COVERED_COMPONENTS.map((c) => `"${c}"`).join(' ')
  return `(${list});created=${p.created};nonce="${p.nonce}";keyid="${p.keyid}";alg="${p.alg}"`
}

/** The signature base (§2.5): one line per covered component, then `@signature-params`. */
export function signatureBase(r: SignedRequest, p: SignatureParams): string {
  const q = r.target.indexOf('?')
  const path = (q < 0 ? r.target : r.target.slice(0, q)) || '/'
  const query = q < 0 ? '?' : r.target.slice(q)
  return [
    `"@method": ${r.method.toUpperCase()}`,
    `"@path": ${path}`,
    `"@query": ${query}`,
    `"content-digest": ${r.contentDigest}`,
    `"@signature-params": ${serializeParams(p)}`,
  ].join('\n')
}

/**
 * Parse `Signature-Input` and `Signature` (RFC 8941 dictionaries) strictly to this
 * profile: the `sig1` member must cover exactly COVERED_COMPONENTS and carry
 * created, nonce, keyid and alg; other members (a proxy's own signature) are ignored.
 */
export function parseSignatureHeaders(input: string, signature: string): { params: SignatureParams; signature: Buffer } {
  const inMember = member(input, SIGNATURE_LABEL)
  const sigMember = member(signature, SIGNATURE_LABEL)
  if (!inMember) throw new MessageSignatureError(`Signature-Input has no ${SIGNATURE_LABEL} member`)
  if (!sigMember) throw new MessageSignatureError(`Signature has no ${SIGNATURE_LABEL} member`)
  const m = /^\(([^()]*)\)((?:;[a-z]+=(?:"[^"\\]*"|-?\d{1,15}))*)$/.exec(inMember)
  if (!m) throw new MessageSignatureError('Signature-Input is not an inner list with parameters')
  const covered = m[1]!.split(' ').filter(Boolean)
  if (covered.join(' ') !== COVERED_COMPONENTS.map((c) => `"${c}"`).join(' '))
    throw new MessageSignatureError(`the signature must cover exactly ${COVERED_COMPONENTS.join(' ')}`)
  const params = new Map<string, string>()
  for (const p of m[2]!.split(';').slice(1)) {
    const eq = p.indexOf('=')
    const k = p.slice(0, eq)
    if (params.has(k)) throw new MessageSignatureError(`parameter ${k} appears twice`)
    params.set(k, p.slice(eq + 1))
  }
  const str = (k: string) => {
    const v = params.get(k)
    if (!v || !v.startsWith('"')) throw new MessageSignatureError(`parameter ${k} (a string) is missing`)
    return v.slice(1, -1)
  }
  const createdRaw = params.get('created')
  if (!createdRaw || !/^\d+$/.test(createdRaw)) throw new MessageSignatureError('parameter created (an integer) is missing')
  const nonce = str('nonce')
  const keyid = str('keyid')
  const alg = str('alg')
  if (!NONCE.test(nonce)) throw new MessageSignatureError('nonce must be 16-64 characters of A-Z a-z 0-9 _ -')
  if (!KEYID.test(keyid)) throw new MessageSignatureError('keyid must be the certificate serial in lowercase hex')
  if (alg !== 'ecdsa-p256-sha256' && alg !== 'ed25519') throw new MessageSignatureError(`alg ${alg} is not ecdsa-p256-sha256 or ed25519`)
  const unknown = [...params.keys()].find((k) => !['created', 'nonce', 'keyid', 'alg'].includes(k))
  if (unknown) throw new MessageSignatureError(`unknown parameter ${unknown}`)
  const b = /^:([A-Za-z0-9+/]+={0,2}):$/.exec(sigMember)
  if (!b) throw new MessageSignatureError('Signature is not a byte sequence')
  return { params: { created: Number(createdRaw), nonce, keyid, alg }, signature: Buffer.from(b[1]!, 'base64') }
}

/** The value of dictionary member `label` (top-level commas outside quotes and parentheses split members). */
function member(dict: string, label: string): string | undefined {
  let depth = 0
  let quoted = false
  let start = 0
  const parts: string[] = []
  for (let i = 0; i < dict.length; i++) {
    const c = dict[i]
    if (quoted) {
      if (c === '\\') i++
      else if (c === '"') quoted = false
    } else if (c === '"') quoted = true
    else if (c === '(') depth++
    else if (c === ')') depth--
    else if (c === ',' && depth === 0) {
      parts.push(dict.slice(start, i))
      start = i + 1
    }
  }
  parts.push(dict.slice(start))
  const found = parts.map((p) => p.trim()).filter((p) => p.startsWith(`${label}=`))
  if (found.length !== 1) return undefined
  return found[0]!.slice(label.length + 1)
}

/** DER ECDSA-Sig-Value → r‖s of 32 bytes each (what RFC 9421 puts on the wire for P-256). */
export function ecdsaDerToRaw(der: Uint8Array): Buffer {
  const b = Buffer.from(der)
  const fail = () => new MessageSignatureError('not a DER ECDSA signature')
  if (b[0] !== 0x30) throw fail()
  let off = 2
  if ((b[1]! & 0x80) !== 0) off = 2 + (b[1]! & 0x7f)
  const out = Buffer.alloc(64)
  for (let k = 0; k < 2; k++) {
    if (b[off] !== 0x02) throw fail()
    const len = b[off + 1]!
    let v = b.subarray(off + 2, off + 2 + len)
    while (v.length > 32 && v[0] === 0) v = v.subarray(1)
    if (v.length > 32) throw fail()
    v.copy(out, k * 32 + (32 - v.length))
    off += 2 + len
  }
  return out
}
