/**
 * A device key that lives in the TPM 2.0 and cannot be copied off the device
 * (issue 10, "TPM"): an ECC P-256 signing key created inside the TPM under the
 * owner hierarchy with fixedTPM|fixedParent|sensitiveDataOrigin, made persistent at
 * a handle, and used through tpm2-tools. After a restart the agent finds it at the
 * same handle; nothing the agent stores holds key material (the wrapped private
 * blob `tpm2_create` writes is deleted with its work folder once the key is
 * persistent).
 */
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ATTR, RESIDENT, TPM_ALG, keyObjectOf, parseEccPublic, unwrapTpm2bPublic, type TpmEccPublic } from '../../../signing/attestation/tpm-structures.js'
import { AgentError } from '../errors.js'
import type { DeviceKey } from './device-key-port.js'
import { DEFAULT_KEY_HANDLE, TpmTools, isHandleMissing, type TpmConfig } from './tpm-tools.js'

/** Attributes of the key we create: TPM-resident, usable with an empty auth value, signing only. */
const KEY_ATTRIBUTES = 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign'

export class TpmDeviceKey implements DeviceKey {
  readonly keyType = 'ecdsa' as const

  private constructor(
    readonly tools: TpmTools,
    /** persistent handle, e.g. 0x81010002 */
    readonly handle: string,
    readonly publicKeyPem: string,
    /** the key's TPMT_PUBLIC, which key attestation certifies */
    readonly publicArea: Buffer,
  ) {}

  /** The key at `config.keyHandle`, created there first when the handle is empty. */
  static async open(config: TpmConfig): Promise<TpmDeviceKey> {
    const handle = (config.keyHandle ?? DEFAULT_KEY_HANDLE).toLowerCase()
    if (!/^0x81[0-7][0-9a-f]{5}$/.test(handle))
      throw new AgentError('CONFIG_INVALID', `config: tpm.keyHandle must be a persistent owner handle 0x81000000–0x817fffff, got ${handle}`, { field: 'tpm.keyHandle' })
    const tools = new TpmTools(config)
    let pub = await readPublic(tools, handle).catch((e) => {
      if (isHandleMissing(e)) return undefined
      throw e
    })
    if (!pub) {
      await createPersistentKey(tools, handle)
      pub = await readPublic(tools, handle)
    }
    checkUsable(pub, handle)
    const pem = keyObjectOf(pub).export({ type: 'spki', format: 'pem' }).toString()
    return new TpmDeviceKey(tools, handle, pem, pub.bytes)
  }

  /**
   * DER ECDSA-Sig-Value over SHA-256(data), signed by the TPM. The digest is computed
   * here (`tpm2_sign -d`): the same signature, without streaming the message through
   * TPM hash-sequence objects, so the call loads nothing that would need a flush.
   */
  async sign(data: Uint8Array): Promise<Uint8Array> {
    return this.tools.withWorkDir(async (dir) => {
      const digest = join(dir, 'digest')
      const sig = join(dir, 'signature')
      await writeFile(digest, createHash('sha256').update(data).digest())
      await this.tools.run(['tpm2_sign', '-c', this.handle, '-g', 'sha256', '-s', 'ecdsa', '-d', '-f', 'plain', '-o', sig, digest], { flushOnErrorOnly: true })
      return new Uint8Array(await readFile(sig))
    })
  }
}

async function readPublic(tools: TpmTools, handle: string): Promise<TpmEccPublic> {
  return tools.withWorkDir(async (dir) => {
    const out = join(dir, 'key.pub')
    await tools.run(['tpm2_readpublic', '-c', handle, '-o', out])
    const bytes = unwrapTpm2bPublic(await readFile(out))
    try {
      return parseEccPublic(bytes)
    } catch (e) {
      throw new AgentError('TPM_KEY_INVALID', `TPM handle ${handle} holds a key that is not ECC P-256: ${(e as Error).message}; set another tpm.keyHandle or evict it`, { handle }, { cause: e })
    }
  })
}

/**
 * createprimary (an owner storage key from the default template) → create the
 * signing key under it → load → evictcontrol to the persistent handle. The primary
 * is regenerated from the owner seed whenever needed, so it is never persisted.
 */
async function createPersistentKey(tools: TpmTools, handle: string): Promise<void> {
  await tools.withWorkDir(async (dir) => {
    const f = (n: string) => join(dir, n)
    await tools.run(['tpm2_createprimary', '-C', 'o', '-G', 'ecc256', '-c', f('primary.ctx')])
    await tools.run(['tpm2_create', '-C', f('primary.ctx'), '-G', 'ecc256:ecdsa-sha256', '-a', KEY_ATTRIBUTES, '-u', f('key.pub'), '-r', f('key.priv')])
    await tools.run(['tpm2_load', '-C', f('primary.ctx'), '-u', f('key.pub'), '-r', f('key.priv'), '-c', f('key.ctx')])
    await tools.run(['tpm2_evictcontrol', '-C', 'o', '-c', f('key.ctx'), handle])
  })
}

function checkUsable(pub: TpmEccPublic, handle: string): void {
  const need = RESIDENT | ATTR.sign
  const ok = (pub.attributes & need) === need && !(pub.attributes & (ATTR.restricted | ATTR.decrypt)) && (pub.scheme === TPM_ALG.NULL || pub.schemeHash === TPM_ALG.SHA256)
  if (!ok)
    throw new AgentError('TPM_KEY_INVALID', `TPM handle ${handle} holds a key with attributes 0x${pub.attributes.toString(16)}: not a TPM-resident unrestricted signing key; set another tpm.keyHandle or evict it`, { handle })
}
