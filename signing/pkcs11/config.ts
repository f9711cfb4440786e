/** How to reach one key in one PKCS#11 token. */
export type PinSource =
  /** name of an environment variable holding the PIN, e.g. `SLIPWAY_PKCS11_PIN` */
  | { env: string }
  /** path of a file holding the PIN (trailing newline ignored), e.g. a systemd credential */
  | { file: string }
  /** the PIN itself, e.g. typed at a ceremony prompt; never written anywhere by us */
  | { value: string }

export interface Pkcs11Config {
  /** path of the vendor's PKCS#11 library, e.g. `/usr/lib/softhsm/libsofthsm2.so` */
  modulePath: string
  /** token label as set at token initialisation (trailing blanks ignored) */
  tokenLabel: string
  /** user PIN source; the PIN is read at open and never logged or kept */
  pin: PinSource
  /** CKA_LABEL of the key pair (private and public objects share it) */
  keyLabel: string
}

/** A config safe to log: everything but the PIN (the source kind is kept). */
export function describeConfig(c: Pkcs11Config): Record<string, string> {
  const pin = 'env' in c.pin ? `env:${c.pin.env}` : 'file' in c.pin ? `file:${c.pin.file}` : 'value:<redacted>'
  return { modulePath: c.modulePath, tokenLabel: c.tokenLabel, keyLabel: c.keyLabel, pin }
}
