/**
 * The poll's 200 body (wire `PollOffer`, client-sdk/src/wire/offer.ts) for an offer the
 * domain decided: the signed envelopes as they are, and the download URLs of the blob
 * route (blobs.ts). Written once per issued assignment and stored with it, so the
 * stored document is what every later poll sends, and it is read back here for the
 * blobs it names.
 */
import type { BlobLink, PollOffer } from '../../../client-sdk/src/wire/index.js'
import type { GrantedBlob, OfferFormat } from '../../domain/rollouts/offer-format.js'

/** Where a device downloads a blob (GET /v1/blobs/:sha256, relative to the server). */
export const blobUrl = (sha256: string): string => `/v1/blobs/${sha256}`
const BLOB_URL = /^\/v1\/blobs\/([0-9a-f]{64})$/

const link = (b: GrantedBlob): BlobLink => ({ url: blobUrl(b.sha256), length: b.length })

type Envelope = PollOffer['assignment']

export const offerFormat: OfferFormat = {
  write(o) {
    const body: PollOffer = {
      assignment: o.assignment as Envelope,
      release: o.release as Envelope,
      ...(o.delta !== undefined && o.patch && { delta: o.delta as Envelope, patch: link(o.patch) }),
      artifact: link(o.artifact),
      action: o.action,
      pollIntervalSeconds: o.pollIntervalSeconds,
    }
    return JSON.stringify(body)
  },

  blobs(document) {
    const body = JSON.parse(document) as Partial<Pick<PollOffer, 'artifact' | 'patch'>>
    const out: GrantedBlob[] = []
    for (const ref of [body.artifact, body.patch]) {
      const m = ref && BLOB_URL.exec(ref.url)
      if (m) out.push({ sha256: m[1]!, length: ref!.length })
    }
    return out
  },
}
