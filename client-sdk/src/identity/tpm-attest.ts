/**
 * Agent side of TPM key attestation (DEVICE-API.md "TPM key attestation"): evidence
 * that the device key is TPM-resident, for the enrollment body's `attestation`.
 *
 *   1. read the EK certificate from NV (0x01c00002, RSA 2048 EK), recreate the EK
 *      (`tpm2_createek`, template L-1) and make an attestation key under it
 *      (`tpm2_createak`: restricted ECDSA P-256 signing key);
 *   2. send both to the server (`requestChallenge`), which wraps a secret to the
 *      EK for the AK's Name; unwrap it (`tpm2_activatecredential`, with the
 *      endorsement hierarchy's PolicySecret session the EK template requires):
 *      possible only in this TPM with this AK loaded;
 *   3. `tpm2_certify` the device key with the AK.
 * The AK lives for this call only; nothing is stored.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { unwrapTpm2bPublic } from '../../../signing/attestation/tpm-structures.js'
import type { ActivationChallenge, ActivationRequest, TpmKeyAttestation } from '../../../signing/attestation/wire.js'
import { AgentError } from '../errors.js'
import type { TpmDeviceKey } from './tpm-key.js'

export type { ActivationChallenge, ActivationRequest, TpmKeyAttestation }

/** TCG EK Credential Profile §2.2.1.4: NV index of the RSA 2048 EK certificate */
export const RSA_EK_CERT_INDEX = '0x01c00002'

/** tpm2-tools' file header for a credential (tpm2_makecredential output): magic, version */
const CRED_HEADER = Buffer.from('badcc0de00000001', 'hex')

export async function attestTpmKey(key: Pick<TpmDeviceKey, 'tools' | 'handle' | 'publicArea'>, requestChallenge: (r: ActivationRequest) => Promise<ActivationChallenge>): Promise<TpmKeyAttestation> {
  const tools = key.tools
  return tools.withWorkDir(async (dir) => {
    const f = (n: string) => join(dir, n)
    await tools.run(['tpm2_nvread', RSA_EK_CERT_INDEX, '-o', f('ek.der')])
    await tools.run(['tpm2_createek', '-c', f('ek.ctx'), '-G', 'rsa', '-u', f('ek.pub')])
    await tools.run(['tpm2_createak', '-C', f('ek.ctx'), '-c', f('ak.ctx'), '-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa', '-u', f('ak.pub'), '-n', f('ak.name')])
    const request: ActivationRequest = {
      ekCertificate: (await readFile(f('ek.der'))).toString('base64'),
      akPublic: unwrapTpm2bPublic(await readFile(f('ak.pub'))).toString('base64'),
    }

    const c = await requestChallenge(request)
    if (!c || typeof c.challenge !== 'string' || typeof c.credentialBlob !== 'string' || typeof c.encryptedSecret !== 'string')
      throw new AgentError('SERVER_RESPONSE_INVALID', 'activation challenge lacks challenge, credentialBlob or encryptedSecret')
    await writeFile(f('credential'), Buffer.concat([CRED_HEADER, Buffer.from(c.credentialBlob, 'base64'), Buffer.from(c.encryptedSecret, 'base64')]))
    await tools.runSequence([
      ['tpm2_startauthsession', '--policy-session', '-S', f('session.ctx')],
      ['tpm2_policysecret', '-S', f('session.ctx'), '-c', 'e'],
      ['tpm2_activatecredential', '-c', f('ak.ctx'), '-C', f('ek.ctx'), '-i', f('credential'), '-o', f('secret'), '-P', `session:${f('session.ctx')}`],
    ])
    await tools.run(['tpm2_certify', '-c', key.handle, '-C', f('ak.ctx'), '-g', 'sha256', '-o', f('attest'), '-s', f('attest.sig'), '-f', 'plain'])

    const b64 = async (n: string) => (await readFile(f(n))).toString('base64')
    return {
      format: 'tpm2-certify',
      ...request,
      keyPublic: key.publicArea.toString('base64'),
      certifyInfo: await b64('attest'),
      certifySignature: await b64('attest.sig'),
      activation: { challenge: c.challenge, secret: await b64('secret') },
    }
  })
}
