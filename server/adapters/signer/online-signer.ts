/**
 * OnlineSigner adapters: the signing library's Signer port (a file key or a
 * PKCS#11 key) wrapped with the two documents the online key may sign.
 */
import { FileKeySigner, Pkcs11Signer, signAssignment, signDelta, type Signer } from '../../../signing/index.js'
import type { Assignment, Delta } from '../../../signing/verify/index.js'
import type { OnlineKeyConfig } from '../../config.js'
import type { OnlineSigner, OnlineSignOptions } from '../../domain/ports/infrastructure.js'

export class SignerOnlineSigner implements OnlineSigner {
  readonly keyId: string

  constructor(
    private readonly signer: Signer & { close?: () => Promise<void> },
    readonly keyKind: 'file' | 'pkcs11',
  ) {
    this.keyId = signer.keyId
  }

  signDelta(delta: Delta, opts: OnlineSignOptions = {}): Promise<Buffer> {
    return signDelta(delta, [this.signer], opts)
  }

  signAssignment(assignment: Assignment, opts: OnlineSignOptions = {}): Promise<Buffer> {
    return signAssignment(assignment, [this.signer], opts)
  }

  async close(): Promise<void> {
    await this.signer.close?.()
  }
}

/**
 * Open the configured online key. PKCS#11 failures surface as TrustErrors with the
 * library's codes (PKCS11_MODULE_NOT_FOUND, PKCS11_PIN_INCORRECT,
 * PKCS11_KEY_NOT_FOUND, …) so a misconfigured start says what to fix.
 */
export async function openOnlineSigner(c: OnlineKeyConfig): Promise<SignerOnlineSigner> {
  if (c.kind === 'file') return new SignerOnlineSigner(await FileKeySigner.load(c.path), 'file')
  const signer = await Pkcs11Signer.open({ modulePath: c.modulePath, tokenLabel: c.tokenLabel, pin: c.pin, keyLabel: c.keyLabel })
  return new SignerOnlineSigner(signer, 'pkcs11')
}
