import t from 'tap'
import { signAssignment, signDelta } from '../../signing/online-documents.js'
import { TrustedRoot, verifyAssignment, verifyDelta } from '../../signing/verify/index.js'
import { assignment, keys, rootSigned, signed } from './fixtures.js'

t.test('server-side signing of assignments and deltas verifies on the device', async (t) => {
  const k = keys()
  const trust = TrustedRoot.fromPinned(await signed(rootSigned(k), k.root))
  const now = new Date()
  const a = await signAssignment(assignment(), k.online, { now })
  const v = verifyAssignment(trust, a, { deviceId: 'dev-001', lastCounter: 6 })
  t.equal(v.assignment.counter, 7)
  t.equal(new Date(v.signed.expires).getTime(), Math.floor(now.getTime() / 1000) * 1000 + 86400_000, 'one day by default')
  const d = { sourceSha256: 'a'.repeat(64), targetSha256: 'b'.repeat(64), patchSha256: 'c'.repeat(64), patchLength: 42, format: 'bsdiff40-windowed' }
  t.same(verifyDelta(trust, await signDelta(d, k.online)).delta, d)
  t.throws(() => verifyDelta(trust, a), { code: 'DOC_WRONG_TYPE' }, 'an assignment is not a delta')
  const byCi = await signDelta(d, k.release)
  t.throws(() => verifyDelta(trust, byCi), { code: 'SIGNATURE_UNKNOWN_KEY' }, 'only the online role signs deltas')
})
