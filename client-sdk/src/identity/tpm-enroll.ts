/**
 * At enrollment, a TPM-resident key proves where it lives (DEVICE-API.md "TPM key
 * attestation"): credential activation with the server, then `tpm2_certify`. A server
 * without an EK CA configured answers ATTESTATION_NOT_SUPPORTED: the agent then enrolls
 * without the proof (the key is still in the TPM; a `requireTpm` token refuses it with
 * ENROLL_TPM_REQUIRED). Every other failure stops the enrollment with its code.
 */
import type { DeviceApi } from '../net/device-api.js'
import type { Log } from '../log.js'
import { attestTpmKey, type TpmKeyAttestation } from './tpm-attest.js'
import type { TpmDeviceKey } from './tpm-key.js'

export async function tpmAttestationFor(api: DeviceApi, key: TpmDeviceKey, enrollmentToken: string, log: Log): Promise<{ attestation?: TpmKeyAttestation }> {
  try {
    return { attestation: await attestTpmKey(key, (r) => api.attestationChallenge({ enrollmentToken, ...r })) }
  } catch (e) {
    if ((e as { details?: { serverCode?: string } }).details?.serverCode !== 'ATTESTATION_NOT_SUPPORTED') throw e
    log('warn', 'the server checks no TPM key attestation: enrolling without one', { code: 'ATTESTATION_NOT_SUPPORTED' })
    return {}
  }
}
