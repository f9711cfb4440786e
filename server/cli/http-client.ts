/** The CLI's view of a remote server: SLIPWAY_URL + SLIPWAY_TOKEN, API errors as ApiError. */

export interface CliEnv {
  url: string
  token: string
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(status ? `${code} (${status}): ${message}` : `${code}: ${message}`)
  }
}

export function cliEnv(env: Record<string, string | undefined> = process.env): CliEnv {
  const url = (env.SLIPWAY_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '')
  const token = env.SLIPWAY_TOKEN
  if (!token) throw new ApiError(0, 'SLIPWAY_TOKEN_MISSING', 'set SLIPWAY_TOKEN to an API token (slipway token create --role ci)')
  return { url, token }
}

/** fetch() says only "fetch failed"; its cause says what (ECONNREFUSED, ENOTFOUND, a TLS error). */
export function unreachable(url: string, e: unknown): ApiError {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause
  const why = cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e)
  return new ApiError(0, 'SERVER_UNREACHABLE', `cannot reach ${url} (${why}); check SLIPWAY_URL`)
}

export async function apiRequest(env: CliEnv, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  let res: Response
  try {
    res = await fetch(`${env.url}${path}`, {
      method,
      // bytes go as they are (an SBOM); anything else as JSON
      headers: { authorization: `Bearer ${env.token}`, ...(body === undefined ? {} : { 'content-type': body instanceof Uint8Array ? 'application/octet-stream' : 'application/json' }) },
      body: body === undefined ? undefined : body instanceof Uint8Array ? new Blob([new Uint8Array(body)]) : JSON.stringify(body),
    })
  } catch (e) {
    throw unreachable(env.url, e)
  }
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {
    /* not JSON: keep the text */
  }
  if (res.status >= 400) {
    const err = (parsed as { error?: { code?: string; message?: string } })?.error
    throw new ApiError(res.status, err?.code ?? 'HTTP_ERROR', err?.message ?? text.slice(0, 200))
  }
  return { status: res.status, body: parsed }
}
