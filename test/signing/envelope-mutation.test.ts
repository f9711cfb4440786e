/**
 * Issue 11, the trust verifier's fuzz sweep: fast-check mutates really signed
 * envelopes (root, release, assignment) at the byte level (flip, insert, delete,
 * splice in hostile tokens) and at the JSON level (replace any value with a hostile
 * one). A mutated envelope is either refused with a TrustError code, or what it
 * signs is byte-identical to the valid one (TUF §5.3.4: a corrupted extra signature
 * beside a met threshold is ignored, the content is the original). Nothing else: no
 * crash, no other error, no acceptance of changed signed bytes.
 */
import t from 'tap'
import fc from 'fast-check'
import { TrustError } from '../../signing/errors.js'
import { TrustedRoot, decodeEnvelope, verifyAssignment, verifyRelease } from '../../signing/verify/index.js'
import { assignment, assignmentDoc, keys, releaseDoc, rootSigned, signed } from './fixtures.js'

const k = keys({ root: 3, release: 2, online: 1 })
const rootBytes = await signed(rootSigned(k, { thresholds: { release: 2 } }), k.root)
const trusted = TrustedRoot.fromPinned(rootBytes)
const a = assignment()
const docs: Record<string, { bytes: Buffer; verify: (b: Buffer) => unknown }> = {
  root: { bytes: rootBytes, verify: (b) => TrustedRoot.fromPinned(b) },
  release: { bytes: await signed(releaseDoc(), k.release), verify: (b) => verifyRelease(trusted, b) },
  assignment: { bytes: await signed(assignmentDoc(a), k.online), verify: (b) => verifyAssignment(trusted, b, { deviceId: a.deviceId }) },
}

const HOSTILE_TOKENS = ['\u0000', '\ud800', '"', '\\', '{', '}', '[', ']', ',', ':', '1e400', '-0', '9007199254740993', 'null', 'true', ' ', '\n', 'é', '\u2028']
const hostileValue = fc.oneof(
  fc.constantFrom<unknown>(null, true, 0, -1, 1.5, 2 ** 31, 2 ** 53 + 2, '', '\u0000', '\ud800', 'a'.repeat(10_000), [], {}, [[[[[]]]]]),
  fc.string({ maxLength: 12 }),
  fc.integer(),
)

type Mutation = { kind: 'flip'; at: number; bit: number } | { kind: 'insert'; at: number; text: string } | { kind: 'delete'; at: number; n: number } | { kind: 'json'; slot: number; value: unknown }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...HOSTILE_TOKENS) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('json' as const), slot: fc.nat(), value: hostileValue }),
)

function paths(v: unknown, at: string[] = [], out: string[][] = []): string[][] {
  if (at.length) out.push(at)
  if (v && typeof v === 'object') for (const [key, c] of Object.entries(v)) paths(c, [...at, key], out)
  return out
}

function apply(bytes: Buffer, m: Mutation): Buffer {
  switch (m.kind) {
    case 'flip': {
      const out = Buffer.from(bytes)
      out[m.at % out.length]! ^= 1 << m.bit
      return out
    }
    case 'insert': {
      const at = m.at % (bytes.length + 1)
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(m.text), bytes.subarray(at)])
    }
    case 'delete': {
      const at = m.at % bytes.length
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.n)])
    }
    case 'json': {
      const doc = JSON.parse(bytes.toString('utf8'))
      const all = paths(doc)
      const path = all[m.slot % all.length]!
      let o = doc
      for (const key of path.slice(0, -1)) o = o[key]
      o[path.at(-1)!] = m.value
      return Buffer.from(JSON.stringify(doc))
    }
  }
}

for (const [name, d] of Object.entries(docs)) {
  t.test(`${name}: a mutated envelope is refused with a code or is byte-identical`, async (t) => {
    d.verify(d.bytes) // the original verifies
    const original = decodeEnvelope(d.bytes, 1 << 20)
    const codes = new Map<string, number>()
    fc.assert(
      fc.property(mutation, (m) => {
        const bytes = apply(d.bytes, m)
        try {
          d.verify(bytes)
        } catch (e) {
          if (!(e instanceof TrustError)) throw new Error(`${m.kind}: not a TrustError: ${String(e)}`)
          codes.set(e.code, (codes.get(e.code) ?? 0) + 1)
          return
        }
        const same = bytes.equals(d.bytes)
        if (!same && !decodeEnvelope(bytes, 1 << 20).signedBytes.equals(original.signedBytes))
          throw new Error(`${m.kind}: changed signed bytes were accepted: ${bytes.toString('utf8').slice(0, 300)}`)
        const label = same ? 'identical, accepted' : 'signed part identical (a spare signature corrupted), accepted'
        codes.set(label, (codes.get(label) ?? 0) + 1)
      }),
      { numRuns: 1500 },
    )
    t.pass(`1500 mutations: ${[...codes].map(([c, n]) => `${c}×${n}`).join(', ')}`)
  })
}
