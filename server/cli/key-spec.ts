/**
 * Keys named on the command line. A key is either
 *   - a PEM private key file (`./ci-release.pem`), or
 *   - a PKCS#11 key, RFC 7512 style: `pkcs11:token=<token label>;object=<key label>`,
 *     with the module from PKCS11_MODULE and the PIN from PKCS11_PIN or
 *     PKCS11_PIN_FILE (the same variables the server reads);
 * and where only a public key is needed (adding a CI key someone else holds), also
 * a JSON file holding a TUF public key as `slipway keys generate` prints it.
 */
import { readFile } from 'node:fs/promises'
import { decodeKey, FileKeySigner, generateTokenKey, Pkcs11Signer, type KeyType, type Pkcs11Config, type Signer, type TufKey } from '../../signing/index.js'
import { UsageError } from './args.js'

export type ClosableSigner = Signer & { close?: () => Promise<void> }

type Env = Record<string, string | undefined>

function pkcs11Config(spec: string, env: Env): Pkcs11Config | undefined {
  if (!spec.startsWith('pkcs11:')) return undefined
  const attrs = new Map(
    spec
      .slice('pkcs11:'.length)
      .split(';')
      .map((kv) => kv.split('=', 2).map(decodeURIComponent) as [string, string]),
  )
  const tokenLabel = attrs.get('token')
  const keyLabel = attrs.get('object')
  if (!tokenLabel || !keyLabel) throw new UsageError(`${spec}: a PKCS#11 key is pkcs11:token=<token label>;object=<key label>`)
  const modulePath = env.PKCS11_MODULE
  if (!modulePath) throw new UsageError(`${spec}: set PKCS11_MODULE to the PKCS#11 module (.so) path`)
  if (env.PKCS11_PIN && env.PKCS11_PIN_FILE) throw new UsageError('set either PKCS11_PIN or PKCS11_PIN_FILE, not both')
  const pin = env.PKCS11_PIN_FILE ? { file: env.PKCS11_PIN_FILE } : { env: 'PKCS11_PIN' }
  return { modulePath, tokenLabel, keyLabel, pin }
}

/** Open a key that will sign. */
export async function openSigner(spec: string, env: Env = process.env): Promise<ClosableSigner> {
  const p11 = pkcs11Config(spec, env)
  return p11 ? Pkcs11Signer.open(p11) : FileKeySigner.load(spec)
}

/** Create a new key: a file (never overwritten, mode 0600) or a non-extractable key pair in a token. */
export async function generateKey(spec: string, type: KeyType, env: Env = process.env): Promise<ClosableSigner> {
  const p11 = pkcs11Config(spec, env)
  if (p11) return generateTokenKey(p11, type)
  const key = FileKeySigner.generate(type)
  await key.save(spec)
  return key
}

/** The public key of a key spec, or of a TUF public key JSON file. */
export async function publicKeyOf(spec: string, env: Env = process.env): Promise<TufKey> {
  if (!spec.startsWith('pkcs11:') && spec.endsWith('.json')) {
    const key = JSON.parse(await readFile(spec, 'utf8')) as TufKey
    decodeKey(key) // KEY_MALFORMED / KEY_TYPE_NOT_ALLOWED before it can reach a root
    return key
  }
  const signer = await openSigner(spec, env)
  await signer.close?.()
  return signer.publicKey
}

/** Open every spec; close them all with the returned function. */
export async function openSigners(specs: readonly string[], env: Env = process.env): Promise<{ signers: ClosableSigner[]; close: () => Promise<void> }> {
  const signers: ClosableSigner[] = []
  const close = async () => {
    for (const s of signers) await s.close?.()
  }
  try {
    for (const spec of specs) signers.push(await openSigner(spec, env))
  } catch (e) {
    await close()
    throw e
  }
  return { signers, close }
}

export function keyType(v: string | undefined): KeyType {
  const t = v ?? 'ed25519'
  if (t !== 'ed25519' && t !== 'ecdsa') throw new UsageError('--type must be ed25519 or ecdsa (P-256)')
  return t
}
