/**
 * Credential-activation challenges that need no storage, so any replica can check
 * the answer to a challenge another replica issued. The challenge names what it
 * binds (EK certificate digest, AK Name) and when it expires; the secret wrapped
 * for the TPM is HMAC(challengeKey, challenge), so only a holder of the key can
 * know it, and changing a byte of the challenge (a later expiry, another AK)
 * changes the secret the server expects.
 *
 * A challenge may be answered more than once until it expires: each answer proves
 * the same timeless fact (this AK sits in the TPM of this EK), and the device key's
 * own signature on the enrollment request is what makes enrollment fresh.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { TrustError } from '../errors.js'

const DOMAIN = 'slipway-tpm-activation-v1\0'

interface Claims {
  v: 1
  /** expiry, Unix seconds */
  exp: number
  /** sha256 hex of the EK certificate DER */
  ek: string
  /** AK Name, hex */
  ak: string
  n: string
}

export class ActivationChallenges {
  constructor(
    private readonly key: Uint8Array,
    private readonly ttlSeconds: number,
  ) {
    if (key.length < 32) throw new TrustError('ATTESTATION_MALFORMED', 'the TPM challenge key must be at least 32 bytes')
  }

  /** A new challenge and the secret to wrap into it. */
  issue(ekCertificateDer: Buffer, akName: Buffer, now: Date): { challenge: string; secret: Buffer } {
    const claims: Claims = { v: 1, exp: Math.floor(now.getTime() / 1000) + this.ttlSeconds, ek: digest(ekCertificateDer), ak: akName.toString('hex'), n: randomBytes(16).toString('hex') }
    const challenge = Buffer.from(JSON.stringify(claims)).toString('base64url')
    return { challenge, secret: this.secretOf(challenge) }
  }

  /** Throws ATTESTATION_ACTIVATION_FAILED unless `secret` answers `challenge` for this EK and AK, in time. */
  check(challenge: string, secret: Buffer, ekCertificateDer: Buffer, akName: Buffer, now: Date): void {
    const fail = (why: string) => new TrustError('ATTESTATION_ACTIVATION_FAILED', `attestation key not shown to be in the EK's TPM: ${why}`)
    let claims: Claims
    try {
      claims = JSON.parse(Buffer.from(challenge, 'base64url').toString('utf8')) as Claims
    } catch {
      throw fail('the challenge is not one this server issued')
    }
    if (claims?.v !== 1 || typeof claims.exp !== 'number') throw fail('the challenge is not one this server issued')
    const expected = this.secretOf(challenge)
    if (secret.length !== expected.length || !timingSafeEqual(secret, expected)) throw fail('the activated secret is wrong (another TPM, another AK, or an altered challenge)')
    if (claims.ek !== digest(ekCertificateDer)) throw fail('the challenge was issued for another EK certificate')
    if (claims.ak !== akName.toString('hex')) throw fail('the challenge was issued for another attestation key')
    if (now.getTime() / 1000 > claims.exp) throw fail(`the challenge expired at ${new Date(claims.exp * 1000).toISOString()}`)
  }

  private secretOf(challenge: string): Buffer {
    return createHmac('sha256', this.key).update(DOMAIN).update(challenge).digest()
  }
}

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex')
