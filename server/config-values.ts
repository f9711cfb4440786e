/** The primitives every configuration value is read with: each refusal names its variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID'
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`)
    this.name = 'ConfigError'
  }
}

export type Source = Record<string, string | undefined>

export function integer(src: Source, name: string, dflt: number, min: number, max: number): number {
  const raw = src[name]
  if (raw === undefined || raw === '') return dflt
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`)
  const n = Number(raw)
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`)
  return n
}

export function fraction(src: Source, name: string, dflt: number): number {
  const raw = src[name]
  if (raw === undefined || raw === '') return dflt
  const n = Number(raw)
  if (!/^\s*(0|[1-9]\d*)?(\.\d+)?\s*$/.test(raw) || !Number.isFinite(n) || n <= 0 || n > 1)
    throw new ConfigError(name, `must be a number above 0 and at most 1, got "${raw}"`)
  return n
}

export function url(src: Source, name: string, protocols: string[]): string | undefined {
  const raw = src[name]
  if (raw === undefined || raw === '') return undefined
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new ConfigError(name, 'must be a URL')
  }
  if (!protocols.includes(u.protocol)) throw new ConfigError(name, `must use ${protocols.join(' or ')}`)
  return raw
}

export function bool(src: Source, name: string, dflt: boolean): boolean {
  const raw = src[name]
  if (raw === undefined || raw === '') return dflt
  if (/^(1|true|yes)$/i.test(raw)) return true
  if (/^(0|false|no)$/i.test(raw)) return false
  throw new ConfigError(name, `must be true or false, got "${raw}"`)
}
