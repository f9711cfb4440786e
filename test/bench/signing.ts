/**
 * Signing benchmark (issue 3): sign and verify 10,000 device assignments with file
 * keys and with SoftHSM2 keys; print per-operation latency, throughput, and the
 * ratio of our full verify (size cap, canonical parse, shape, threshold, expiry,
 * device binding, counter) to a bare crypto.verify of the same signed bytes.
 * Goal: ratio >= 0.5, i.e. our checks cost no more than the crypto itself.
 *
 *   node --import tsx test/bench/signing.ts [count]
 */
import { verify as cryptoVerify } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { decodeEnvelope, encodeEnvelope, signEnvelope } from '../../signing/envelope.js'
import { FileKeySigner } from '../../signing/file-signer.js'
import { decodeKey, type KeyType } from '../../signing/keys.js'
import { buildAssignment } from '../../signing/metadata/assignment.js'
import { expiresIn } from '../../signing/metadata/common.js'
import { buildRoot } from '../../signing/metadata/root.js'
import { generateTokenKey, type Pkcs11Signer } from '../../signing/pkcs11/index.js'
import type { Signer } from '../../signing/signer.js'
import { TrustedRoot, verifyAssignment } from '../../signing/verify/index.js'
import { softhsm, USER_PIN } from '../signing/softhsm.js'

const COUNT = Number(process.argv[2] ?? 10_000)
const sha = 'ab'.repeat(32)

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

function stats(label: string, samples: Float64Array, totalMs: number): string {
  const s = Float64Array.from(samples).sort()
  const mean = totalMs / samples.length
  return `${label.padEnd(14)} mean ${(mean * 1000).toFixed(1).padStart(7)} µs  p50 ${(percentile(s, 0.5) * 1000).toFixed(1).padStart(7)} µs  p99 ${(percentile(s, 0.99) * 1000).toFixed(1).padStart(7)} µs  ${Math.round(samples.length / (totalMs / 1000)).toLocaleString('en-US').padStart(8)} ops/s`
}

async function bench(name: string, online: Signer, rootSigner: Signer): Promise<void> {
  const rootDoc = buildRoot({
    version: 1,
    expires: expiresIn(86400 * 365),
    roles: {
      root: { keys: [rootSigner.publicKey], threshold: 1 },
      release: { keys: [rootSigner.publicKey], threshold: 1 },
      online: { keys: [online.publicKey], threshold: 1 },
    },
  })
  const trust = TrustedRoot.fromPinned(encodeEnvelope(await signEnvelope(rootDoc, [rootSigner])))
  const expires = expiresIn(86400)

  // sign: build the document, canonicalise, sign, encode the envelope
  const docs: Buffer[] = new Array(COUNT)
  const signT = new Float64Array(COUNT)
  let t0 = performance.now()
  for (let i = 0; i < COUNT; i++) {
    const s = performance.now()
    const doc = buildAssignment({ deviceId: `dev-${i}`, release: { name: 'edge-os', version: '2.1.0', sha256: sha }, rolloutId: 'ro-1', counter: i + 1 }, { expires })
    docs[i] = encodeEnvelope(await signEnvelope(doc, [online]))
    signT[i] = performance.now() - s
  }
  const signTotal = performance.now() - t0

  // our verify: everything the device does with an assignment
  const verifyT = new Float64Array(COUNT)
  t0 = performance.now()
  for (let i = 0; i < COUNT; i++) {
    const s = performance.now()
    verifyAssignment(trust, docs[i] as Buffer, { deviceId: `dev-${i}`, lastCounter: i })
    verifyT[i] = performance.now() - s
  }
  const verifyTotal = performance.now() - t0

  // raw crypto.verify on the same signed bytes and signatures
  const key = decodeKey(online.publicKey)
  const alg = key.tuf.keytype === 'ed25519' ? null : 'sha256'
  const raw = docs.map((d) => {
    const e = decodeEnvelope(d, 1 << 20)
    return { data: e.signedBytes, sig: (e.signatures[0] as { sig: Buffer }).sig }
  })
  const rawT = new Float64Array(COUNT)
  t0 = performance.now()
  for (let i = 0; i < COUNT; i++) {
    const s = performance.now()
    const r = raw[i] as { data: Buffer; sig: Buffer }
    if (!cryptoVerify(alg, r.data, key.object, r.sig)) throw new Error('raw verify failed')
    rawT[i] = performance.now() - s
  }
  const rawTotal = performance.now() - t0

  console.log(`\n${name}  (${COUNT.toLocaleString('en-US')} assignments, ${docs[0]!.length} bytes each)`)
  console.log('  ' + stats('sign', signT, signTotal))
  console.log('  ' + stats('verify (ours)', verifyT, verifyTotal))
  console.log('  ' + stats('crypto.verify', rawT, rawTotal))
  console.log(`  ratio ours/raw throughput: ${(rawTotal / verifyTotal).toFixed(2)} (goal >= 0.5)`)
}

const hsm = await softhsm(['slipway-bench'])
const opened: Pkcs11Signer[] = []
try {
  const rootSigner = FileKeySigner.generate('ed25519')
  console.log(`node ${process.version}, SoftHSM2 at ${hsm.modulePath}`)
  for (const type of ['ed25519', 'ecdsa'] as KeyType[]) await bench(`file key ${type}`, FileKeySigner.generate(type), rootSigner)
  for (const type of ['ed25519', 'ecdsa'] as KeyType[]) {
    const signer = await generateTokenKey({ modulePath: hsm.modulePath, tokenLabel: 'slipway-bench', pin: { value: USER_PIN }, keyLabel: `bench-${type}` }, type)
    opened.push(signer)
    await bench(`SoftHSM ${type}`, signer, rootSigner)
  }
} finally {
  for (const s of opened) await s.close()
  await hsm.cleanup()
}
