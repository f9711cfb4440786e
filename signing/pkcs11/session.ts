/**
 * One logged-in session on one token, and the translation of PKCS#11 failures into
 * TrustErrors with codes a operator can act on at startup. Modules are loaded and
 * initialised once per process and path (C_Initialize is process-wide), and
 * finalised when the last session on them closes.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { access } from 'node:fs/promises'
import pkcs11js from 'pkcs11js'
import { TrustError, type TrustErrorCode } from '../errors.js'
import type { Pkcs11Config } from './config.js'
import { readPin } from './pin.js'

type Module = { lib: pkcs11js.PKCS11; sessions: number; logins: Map<string, Buffer> }
const modules = new Map<string, Module>()

// PKCS#11 login is per token and application: once one session logged in, C_Login
// on another answers CKR_USER_ALREADY_LOGGED_IN without checking the PIN. So that
// a wrong PIN still fails at startup, we keep an HMAC (under a per-process random
// key, never the PIN itself) of the PIN that logged in to each token.
const pinKey = randomBytes(32)
const pinDigest = (pin: string) => createHmac('sha256', pinKey).update(pin).digest()

/** Name of a PKCS#11 return value, e.g. `CKR_PIN_INCORRECT`, or undefined. */
export function ckrName(e: unknown): string | undefined {
  return e instanceof pkcs11js.Pkcs11Error ? e.message.split(/[:\s]/)[0] : undefined
}

/** Wrap anything a PKCS#11 call threw. */
export function pkcs11Failure(what: string, e: unknown, code: TrustErrorCode = 'PKCS11_FAILED'): TrustError {
  if (e instanceof TrustError) return e
  const ckr = ckrName(e)
  return new TrustError(code, `${what} failed${ckr ? `: ${ckr}` : ''}`, ckr ? { ckr } : undefined, { cause: e })
}

async function loadModule(path: string): Promise<Module> {
  const known = modules.get(path)
  if (known) return known
  try {
    await access(path)
  } catch {
    throw new TrustError('PKCS11_MODULE_NOT_FOUND', `PKCS#11 module ${path} does not exist`, { modulePath: path })
  }
  const lib = new pkcs11js.PKCS11()
  try {
    lib.load(path)
  } catch (e) {
    throw new TrustError('PKCS11_MODULE_NOT_FOUND', `cannot load PKCS#11 module ${path}: ${(e as Error).message}`, { modulePath: path }, { cause: e })
  }
  try {
    lib.C_Initialize()
  } catch (e) {
    if (ckrName(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw pkcs11Failure(`C_Initialize of ${path}`, e)
  }
  const m: Module = { lib, sessions: 0, logins: new Map() }
  modules.set(path, m)
  return m
}

export class TokenSession {
  private constructor(
    readonly lib: pkcs11js.PKCS11,
    readonly handle: Buffer,
    private readonly modulePath: string,
  ) {}

  /** Load the module, find the token by label, open a R/W session and log in as user. */
  static async open(config: Pick<Pkcs11Config, 'modulePath' | 'tokenLabel' | 'pin'>): Promise<TokenSession> {
    const pin = await readPin(config.pin) // before touching the module: a missing PIN is the clearer error
    const m = await loadModule(config.modulePath)
    const { lib } = m
    let slot: Buffer | undefined
    try {
      slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === config.tokenLabel)
    } catch (e) {
      throw pkcs11Failure('listing tokens', e)
    }
    if (!slot) throw new TrustError('PKCS11_TOKEN_NOT_FOUND', `no token labelled "${config.tokenLabel}" in ${config.modulePath}`, { tokenLabel: config.tokenLabel })
    let handle: Buffer
    try {
      handle = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION)
    } catch (e) {
      throw pkcs11Failure('C_OpenSession', e)
    }
    m.sessions++
    const session = new TokenSession(lib, handle, config.modulePath)
    const wrongPin = (ckr: string) =>
      new TrustError('PKCS11_PIN_INCORRECT', `token "${config.tokenLabel}" refused the PIN (${ckr})`, { tokenLabel: config.tokenLabel, ckr })
    const digest = pinDigest(pin)
    try {
      lib.C_Login(handle, pkcs11js.CKU_USER, pin)
      m.logins.set(config.tokenLabel, digest)
    } catch (e) {
      const ckr = ckrName(e)
      const known = m.logins.get(config.tokenLabel)
      if (ckr === 'CKR_USER_ALREADY_LOGGED_IN' && (!known || timingSafeEqual(known, digest))) return session
      session.close()
      if (ckr === 'CKR_USER_ALREADY_LOGGED_IN') throw wrongPin('PIN differs from the one the token is logged in with')
      if (ckr === 'CKR_PIN_INCORRECT' || ckr === 'CKR_PIN_LEN_RANGE' || ckr === 'CKR_PIN_LOCKED') throw wrongPin(ckr)
      throw pkcs11Failure('C_Login', e)
    }
    return session
  }

  /** Object handles with the given class and label. */
  find(cls: number, label: string): Buffer[] {
    const { lib, handle } = this
    lib.C_FindObjectsInit(handle, [
      { type: pkcs11js.CKA_CLASS, value: cls },
      { type: pkcs11js.CKA_LABEL, value: label },
    ])
    try {
      return lib.C_FindObjects(handle, 16)
    } finally {
      lib.C_FindObjectsFinal(handle)
    }
  }

  /** Close the session; finalise the module when it was the last one. */
  close(): void {
    const m = modules.get(this.modulePath)
    try {
      this.lib.C_CloseSession(this.handle)
    } catch {
      // already closed (token removed, module finalised): nothing left to release
    }
    if (m && --m.sessions === 0) {
      modules.delete(this.modulePath)
      try {
        m.lib.C_Finalize()
        m.lib.close()
      } catch {
        // finalising is best effort at shutdown
      }
    }
  }
}
