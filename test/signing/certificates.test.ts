/**
 * Device certificates: our CA (file key and SoftHSM key behind the Signer port)
 * issues client certificates from CSRs; OpenSSL and Node's TLS stack accept them
 * and honour our revocation list.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, createServer, type TLSSocket } from 'node:tls'
import { promisify } from 'node:util'
import { DeviceCa, createCsr, parseCsr, parseRevocationList, verifyDeviceCertificate } from '../../signing/certs/index.js'
import { FileKeySigner } from '../../signing/file-signer.js'
import { generateTokenKey } from '../../signing/pkcs11/index.js'
import type { KeyType } from '../../signing/keys.js'
import { softhsm, USER_PIN } from './softhsm.js'

const run = promisify(execFile)
const hsm = await softhsm(['device-ca'])
const dir = await mkdtemp(join(tmpdir(), 'slipway-certs-'))
t.teardown(async () => {
  await rm(dir, { recursive: true, force: true })
  await hsm.cleanup()
})
const file = async (name: string, text: string) => {
  const p = join(dir, name)
  await writeFile(p, text)
  return p
}
const openssl = async (...args: string[]) => (await run('openssl', args)).stdout

for (const caType of ['ecdsa', 'ed25519'] as KeyType[]) {
  t.test(`CA with a ${caType} file key`, async (t) => {
    const ca = await DeviceCa.create(FileKeySigner.generate(caType), { commonName: 'Slipway Device CA', organization: 'Slipway' })
    t.ok(ca.certificate.ca, 'is a CA')
    t.match(ca.certificate.subject, /CN=Slipway Device CA/)
    const caPath = await file(`ca-${caType}.pem`, ca.certificatePem)
    t.match(await openssl('x509', '-in', caPath, '-noout', '-text'), /CA:TRUE, pathlen:0/)

    for (const devType of ['ecdsa', 'ed25519'] as KeyType[]) {
      const device = FileKeySigner.generate(devType)
      const csr = await createCsr('dev-001', device)
      const csrPath = await file(`csr-${caType}-${devType}.pem`, csr)
      t.match((await run('openssl', ['req', '-in', csrPath, '-verify', '-noout'])).stderr, /verify OK/i, `OpenSSL verifies our ${devType} CSR`)
      const issued = await ca.issue(csr, { deviceId: 'dev-001' })
      const certPath = await file(`dev-${caType}-${devType}.pem`, issued.pem)
      t.match(await openssl('verify', '-CAfile', caPath, '-purpose', 'sslclient', certPath), /OK/, `OpenSSL verifies the ${devType} device certificate`)
      t.same(verifyDeviceCertificate(issued.pem, ca.certificatePem), { deviceId: 'dev-001', serial: issued.serial })
      t.match(await openssl('x509', '-in', certPath, '-noout', '-text'), /TLS Web Client Authentication[\s\S]*URI:urn:slipway:device:dev-001/)
    }

    // A CSR made by OpenSSL, not by us.
    const keyPath = join(dir, `openssl-key-${caType}.pem`)
    await openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath)
    const osslCsr = await openssl('req', '-new', '-key', keyPath, '-subj', '/O=Acme/CN=dev-xyz')
    t.equal(parseCsr(osslCsr).commonName, 'dev-xyz')
    t.ok((await ca.issue(osslCsr, { deviceId: 'dev-xyz' })).pem)
  })
}

t.test('refusals: wrong device, no proof of possession, other CA, expiry, revocation', async (t) => {
  const ca = await DeviceCa.create(FileKeySigner.generate('ecdsa'), { commonName: 'CA' })
  const device = FileKeySigner.generate('ecdsa')
  const csr = await createCsr('dev-001', device)
  await t.rejects(ca.issue(csr, { deviceId: 'dev-002' }), { code: 'CERT_CSR_INVALID' }, 'CSR for another device')
  const forged = await createCsr('dev-001', { ...device, sign: async () => Buffer.from(await FileKeySigner.generate('ecdsa').sign(Buffer.from('x'))) })
  await t.rejects(ca.issue(forged, { deviceId: 'dev-001' }), { code: 'CERT_CSR_SIGNATURE_INVALID' }, 'CSR signature by another key')
  t.throws(() => parseCsr('garbage'), { code: 'CERT_CSR_INVALID' })

  const issued = await ca.issue(csr, { deviceId: 'dev-001', validityDays: 30 })
  const other = await DeviceCa.create(FileKeySigner.generate('ecdsa'), { commonName: 'CA' })
  t.throws(() => verifyDeviceCertificate(issued.pem, other.certificatePem), { code: 'CERT_CHAIN_INVALID' }, 'same CA name, other key')
  t.throws(() => verifyDeviceCertificate(ca.certificatePem, ca.certificatePem), { code: 'CERT_CHAIN_INVALID' }, 'the CA is not a device')
  t.throws(() => verifyDeviceCertificate(issued.pem, ca.certificatePem, { now: new Date(Date.now() + 31 * 86400_000) }), { code: 'CERT_EXPIRED' })

  const crl = await ca.revocationList([{ serial: issued.serial, revokedAt: new Date() }], { number: 1, nextUpdate: new Date(Date.now() + 7 * 86400_000) })
  t.ok(parseRevocationList(crl, ca.certificatePem).serials.has(issued.serial))
  t.throws(() => verifyDeviceCertificate(issued.pem, ca.certificatePem, { crlPem: crl }), { code: 'CERT_REVOKED' })
  const fresh = await ca.issue(await createCsr('dev-003', FileKeySigner.generate('ed25519')), { deviceId: 'dev-003' })
  t.equal(verifyDeviceCertificate(fresh.pem, ca.certificatePem, { crlPem: crl }).deviceId, 'dev-003', 'others still pass')
  const foreignCrl = await other.revocationList([], { number: 1, nextUpdate: new Date(Date.now() + 86400_000) })
  t.throws(() => verifyDeviceCertificate(fresh.pem, ca.certificatePem, { crlPem: foreignCrl }), { code: 'CERT_CHAIN_INVALID' }, 'CRL by another CA')
  const [caPath, crlPath, revokedPath] = await Promise.all([file('r-ca.pem', ca.certificatePem), file('r-crl.pem', crl), file('r-dev.pem', issued.pem)])
  t.match((await run('openssl', ['crl', '-in', crlPath, '-CAfile', caPath, '-noout'])).stderr, /verify OK/, 'OpenSSL checks the CRL signature')
  const res = await run('openssl', ['verify', '-crl_check', '-CAfile', caPath, '-CRLfile', crlPath, revokedPath]).catch((e: { stdout: string; stderr: string }) => e)
  t.match(res.stdout + res.stderr, /certificate revoked/, 'OpenSSL honours our CRL')
  t.throws(() => DeviceCa.fromCertificate(FileKeySigner.generate('ecdsa'), ca.certificatePem), { code: 'SIGNER_KEY_MISMATCH' })
})

t.test('CA key in a PKCS#11 token; mTLS with Node TLS honours certificate and CRL', async (t) => {
  const caSigner = await generateTokenKey({ modulePath: hsm.modulePath, tokenLabel: 'device-ca', pin: { value: USER_PIN }, keyLabel: 'device-ca' }, 'ecdsa')
  t.teardown(() => caSigner.close())
  const ca = await DeviceCa.create(caSigner, { commonName: 'Slipway HSM Device CA' })
  const good = FileKeySigner.generate('ecdsa')
  const bad = FileKeySigner.generate('ecdsa')
  const goodCert = await ca.issue(await createCsr('dev-good', good), { deviceId: 'dev-good' })
  const badCert = await ca.issue(await createCsr('dev-bad', bad), { deviceId: 'dev-bad' })
  const crl = await ca.revocationList([{ serial: badCert.serial, revokedAt: new Date() }], { number: 1, nextUpdate: new Date(Date.now() + 86400_000) })
  const reopened = DeviceCa.fromCertificate(caSigner, ca.certificatePem)
  t.equal(verifyDeviceCertificate((await reopened.issue(await createCsr('dev-2', good), { deviceId: 'dev-2' })).pem, ca.certificatePem).deviceId, 'dev-2')

  const serverKey = join(dir, 'server.key')
  await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', serverKey, '-out', join(dir, 'server.crt'), '-subj', '/CN=localhost', '-days', '1')
  const { readFile } = await import('node:fs/promises')
  const server = createServer({
    key: await readFile(serverKey),
    cert: await readFile(join(dir, 'server.crt')),
    ca: ca.certificatePem,
    crl,
    requestCert: true,
    rejectUnauthorized: false, // we look at the verdict ourselves
  })
  const verdicts: { authorized: boolean; error: string | undefined; cn: string | undefined }[] = []
  server.on('secureConnection', (s: TLSSocket) => {
    const error = s.authorizationError
    verdicts.push({ authorized: s.authorized, error: error === null || error === undefined ? undefined : String((error as Error).message ?? error), cn: String(s.getPeerCertificate().subject?.CN) })
    s.end('bye')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const port = (server.address() as { port: number }).port
  const hello = (signer: FileKeySigner, certPem: string) =>
    new Promise<void>((resolve, reject) => {
      const c = connect({ host: '127.0.0.1', port, key: signer.toPem(), cert: certPem, rejectUnauthorized: false }, () => c.resume())
      c.on('end', resolve)
      c.on('error', reject)
    })
  await hello(good, goodCert.pem)
  await hello(bad, badCert.pem)
  t.match(verdicts[0], { authorized: true, cn: 'dev-good' }, 'issued certificate authenticates')
  t.match(verdicts[1], { authorized: false, error: /CERT_REVOKED|revoked/i, cn: 'dev-bad' }, 'revoked certificate is refused')
})
