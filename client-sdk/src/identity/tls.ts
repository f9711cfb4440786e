/**
 * mTLS material for the HTTP client: a device certificate and its key in PEM
 * files. A key inside a PKCS#11 token (TPM, secure element) is not supported
 * yet: Node's TLS stack needs an OpenSSL engine/provider for that, which is a
 * native dependency this agent does not take; `keyPkcs11Uri` is refused with
 * CONFIG_INVALID so a device never silently falls back to no client cert.
 */
import { readFile } from 'node:fs/promises'
import { AgentError } from '../errors.js'
import type { TlsOptions } from '../net/http-client.js'

export interface TlsConfig {
  /** PEM device certificate (chain) file */
  certFile?: string
  /** PEM private key file of the certificate */
  keyFile?: string
  /** PKCS#11 URI of the key: not supported yet */
  keyPkcs11Uri?: string
  /** PEM CA bundle for the server certificate (default: the system store) */
  caFile?: string
}

export async function loadTls(c: TlsConfig | undefined): Promise<TlsOptions | undefined> {
  if (!c) return undefined
  if (c.keyPkcs11Uri) throw new AgentError('CONFIG_INVALID', 'tls.keyPkcs11Uri: PKCS#11 client keys are not supported yet; use tls.keyFile')
  if (Boolean(c.certFile) !== Boolean(c.keyFile)) throw new AgentError('CONFIG_INVALID', 'tls.certFile and tls.keyFile go together')
  const read = async (what: string, p: string) => {
    try {
      return await readFile(p)
    } catch (e) {
      throw new AgentError('CONFIG_INVALID', `tls.${what} ${p}: ${(e as Error).message}`, { path: p }, { cause: e })
    }
  }
  return {
    ...(c.certFile ? { cert: await read('certFile', c.certFile) } : {}),
    ...(c.keyFile ? { key: await read('keyFile', c.keyFile) } : {}),
    ...(c.caFile ? { ca: await read('caFile', c.caFile) } : {}),
  }
}
