/**
 * Test TLS material made with the openssl CLI at test time (never committed): a
 * self-signed server certificate for 127.0.0.1 / localhost, and a device CA with one
 * client certificate, laid out as deploy/nginx.conf expects its /etc/nginx/tls folder.
 */
import { execFileSync } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'

export interface TlsFiles {
  dir: string
  serverCert: string
  serverKey: string
  deviceCa: string
  /** a client certificate issued by the device CA, and its key */
  clientCert: string
  clientKey: string
}

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

export async function makeTls(dir: string): Promise<TlsFiles> {
  await mkdir(dir, { recursive: true })
  const f = (n: string) => join(dir, n)
  openssl(['req', '-x509', ...EC, '-keyout', f('server.key'), '-out', f('server.crt'), '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'])
  openssl(['req', '-x509', ...EC, '-keyout', f('device-ca.key'), '-out', f('device-ca.crt'), '-days', '2', '-subj', '/CN=Slipway test device CA'])
  openssl(['req', ...EC, '-keyout', f('client.key'), '-out', f('client.csr'), '-subj', '/CN=test-device'])
  openssl(['x509', '-req', '-in', f('client.csr'), '-CA', f('device-ca.crt'), '-CAkey', f('device-ca.key'), '-CAcreateserial', '-out', f('client.crt'), '-days', '2'])
  return { dir, serverCert: f('server.crt'), serverKey: f('server.key'), deviceCa: f('device-ca.crt'), clientCert: f('client.crt'), clientKey: f('client.key') }
}
