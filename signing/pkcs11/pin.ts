/** Read the token PIN from its source. The PIN never goes into an error or log. */
import { readFile } from 'node:fs/promises'
import { TrustError } from '../errors.js'
import type { PinSource } from './config.js'

export async function readPin(source: PinSource): Promise<string> {
  let pin: string | undefined
  if ('value' in source) pin = source.value
  else if ('env' in source) {
    pin = process.env[source.env]
    if (pin === undefined) throw new TrustError('PKCS11_PIN_MISSING', `environment variable ${source.env} (the token PIN) is not set`, { env: source.env })
  } else {
    try {
      pin = (await readFile(source.file, 'utf8')).replace(/\r?\n$/, '')
    } catch (e) {
      throw new TrustError('PKCS11_PIN_MISSING', `cannot read the PIN file ${source.file}`, { file: source.file }, { cause: (e as NodeJS.ErrnoException).code })
    }
  }
  if (pin.length === 0) throw new TrustError('PKCS11_PIN_MISSING', 'the token PIN is empty')
  return pin
}
