/** mTLS: the agent's HTTP client presents the device certificate from PEM files; a server that requires one refuses a client without. */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { DeviceApi, HttpClient } from '../../../client-sdk/src/index.js'
import { loadTls } from '../../../client-sdk/src/identity/tls.js'

t.test('a device certificate in PEM files opens an mTLS connection; without it the server refuses', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'agent-mtls-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=test device CA', '-days', '2')
  const issue = async (name: string, cn: string, ext: string) => {
    await writeFile(join(dir, `${name}.ext`), `${ext}\n`)
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`)
  }
  await issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1')
  await issue('device', 'dev-1', 'extendedKeyUsage=clientAuth')
  const read = (f: string) => readFile(join(dir, f))
  const seen: string[] = []
  const server = https.createServer({ key: await read('server.key'), cert: await read('server.pem'), ca: await read('ca.pem'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    seen.push((req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN as string)
    res.writeHead(204, { 'slipway-poll-interval': '60' }).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`)

  const withCert = new HttpClient({ tls: await loadTls({ certFile: join(dir, 'device.pem'), keyFile: join(dir, 'device.key'), caFile: join(dir, 'ca.pem') }) })
  t.teardown(() => withCert.close())
  const poll = await new DeviceApi(url, withCert, () => 'sld_x').poll()
  t.same(poll, { kind: 'none', pollIntervalSeconds: 60 })
  t.same(seen, ['dev-1'], 'the server saw the device certificate')

  const without = new HttpClient({ tls: await loadTls({ caFile: join(dir, 'ca.pem') }) })
  t.teardown(() => without.close())
  await t.rejects(new DeviceApi(url, without, () => 'sld_x').poll(), { code: 'NETWORK_ERROR' }, 'no client certificate: the handshake fails')
})
