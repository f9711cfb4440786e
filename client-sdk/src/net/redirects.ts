/**
 * Redirect policy of artifact downloads. Integrity never depends on it (every
 * byte is checked against the CI-signed sha256), but the device credential must
 * not leak to another host, and a device must not be steered to arbitrary hosts:
 *   - same origin (scheme, host, port): followed, with the credential;
 *   - another host listed in `allowedRedirectHosts` (e.g. the S3/MinIO endpoint
 *     whose presigned URLs the server hands out): followed WITHOUT the credential;
 *   - anything else, and any https → http downgrade: DOWNLOAD_REDIRECT_REFUSED.
 * A presigned URL expires, so a resumed download always starts again at the
 * server's URL and gets a fresh redirect rather than reusing an old one.
 */
import { AgentError } from '../errors.js'

export const MAX_REDIRECTS = 5

export interface RedirectDecision {
  url: URL
  /** send the device credential to it */
  withCredential: boolean
}

export function followRedirect(from: URL, location: string | undefined, origin: URL, allowedHosts: readonly string[]): RedirectDecision {
  if (!location) throw new AgentError('SERVER_RESPONSE_INVALID', `redirect from ${from.href} without a Location`)
  let to: URL
  try {
    to = new URL(location, from)
  } catch {
    throw new AgentError('DOWNLOAD_REDIRECT_REFUSED', `redirect to an invalid URL ${location.slice(0, 200)}`)
  }
  if (from.protocol === 'https:' && to.protocol !== 'https:')
    throw new AgentError('DOWNLOAD_REDIRECT_REFUSED', `redirect downgrades https to ${to.protocol}`, { location: to.origin })
  if (to.protocol !== 'https:' && to.protocol !== 'http:')
    throw new AgentError('DOWNLOAD_REDIRECT_REFUSED', `redirect to scheme ${to.protocol}`, { location: to.origin })
  if (to.origin === origin.origin) return { url: to, withCredential: true }
  if (allowedHosts.includes(to.host) || allowedHosts.includes(to.hostname)) return { url: to, withCredential: false }
  throw new AgentError('DOWNLOAD_REDIRECT_REFUSED', `redirect to ${to.host} (not the server, not in download.allowedRedirectHosts)`, { location: to.origin })
}
