import t from 'tap'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileKeySigner, fileKeyWarning } from '../../signing/file-signer.js'
import { signerContract } from './signer-contract.js'

for (const type of ['ed25519', 'ecdsa'] as const) {
  t.test(`file signer contract (${type})`, (t) => signerContract(t, async () => FileKeySigner.generate(type), type))
}

t.test('save and load a PEM key: mode 0600, never overwrites', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-key-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  for (const type of ['ed25519', 'ecdsa'] as const) {
    const s = FileKeySigner.generate(type)
    const path = join(dir, `${type}.pem`)
    await s.save(path)
    t.equal((await stat(path)).mode & 0o777, 0o600)
    const loaded = await FileKeySigner.load(path)
    t.equal(loaded.keyId, s.keyId)
    t.same(loaded.publicKey, s.publicKey)
    await t.rejects(s.save(path), { code: 'EEXIST' })
  }
  await t.rejects(FileKeySigner.load(join(dir, 'absent.pem')), { code: 'SIGNER_FILE_INVALID' })
  t.throws(() => FileKeySigner.fromPem('not a key'), { code: 'SIGNER_FILE_INVALID' })
  t.throws(() => FileKeySigner.fromPem('not a key'), { code: 'SIGNER_FILE_INVALID' })
})

t.test('a file key in the online role gets a loud warning; other signers none', async (t) => {
  const s = FileKeySigner.generate('ecdsa')
  t.match(fileKeyWarning(s, 'online'), new RegExp(`WARNING: the online key ${s.keyId} is a FILE key`))
  t.equal(fileKeyWarning({ keyId: s.keyId, publicKey: s.publicKey, sign: (d) => s.sign(d) }, 'online'), undefined)
})
