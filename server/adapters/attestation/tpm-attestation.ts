/**
 * The TPM key-attestation verifier from config: reads the operator's EK CA file
 * and the activation challenge key (created 0600 on first start when missing, like
 * the dev keys; replicas must share one: copy the file or point every replica at
 * the same path). A file that cannot be used stops the start, naming its variable.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { TpmAttestationVerifier } from '../../../signing/attestation/index.js'
import { ConfigError, type TpmAttestationConfig } from '../../config.js'

async function challengeKey(path: string): Promise<Buffer> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    await writeFile(path, randomBytes(32).toString('hex') + '\n', { flag: 'wx', mode: 0o600 })
  } catch (e) {
    // present already (or a replica wrote it first): that file is the key
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new ConfigError('SLIPWAY_TPM_CHALLENGE_KEY_FILE', `cannot create ${path}: ${(e as Error).message}`)
  }
  let text: string
  try {
    text = (await readFile(path, 'utf8')).trim()
  } catch (e) {
    throw new ConfigError('SLIPWAY_TPM_CHALLENGE_KEY_FILE', `cannot read ${path}: ${(e as Error).message}`)
  }
  if (!/^([0-9a-f]{2}){32,}$/i.test(text)) throw new ConfigError('SLIPWAY_TPM_CHALLENGE_KEY_FILE', `${path} must hold at least 32 bytes as hex`)
  return Buffer.from(text, 'hex')
}

export async function loadTpmAttestationVerifier(c: TpmAttestationConfig, now?: () => Date): Promise<TpmAttestationVerifier> {
  let ekCaPem: string
  try {
    ekCaPem = await readFile(c.ekCaFile, 'utf8')
  } catch (e) {
    throw new ConfigError('SLIPWAY_TPM_EK_CA_FILE', `cannot read ${c.ekCaFile}: ${(e as Error).message}`)
  }
  const key = await challengeKey(c.challengeKeyFile)
  try {
    return new TpmAttestationVerifier({ ekCaPem, challengeKey: key, challengeTtlSeconds: c.challengeTtlSeconds, ...(now ? { now } : {}) })
  } catch (e) {
    throw new ConfigError('SLIPWAY_TPM_EK_CA_FILE', `${c.ekCaFile}: ${(e as Error).message}`)
  }
}
