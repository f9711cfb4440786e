/**
 * What an assignment offers a device, and the port that writes it down as the
 * document the poll serves (the HTTP layer's wire body, with its download URLs). The
 * document is written once, when the assignment is issued, and stored with it: a poll
 * that changes nothing sends the stored bytes as they are.
 */

/** A blob a device may download, by content. */
export interface GrantedBlob {
  sha256: string
  length: number
}

export interface AssignmentOffer {
  /** the assignment envelope, signed by the online key */
  assignment: unknown
  /** the release metadata envelope, signed in CI */
  release: unknown
  /** the delta metadata envelope, when a delta from what the device runs is ready */
  delta?: unknown
  artifact: GrantedBlob
  /** the delta's patch */
  patch?: GrantedBlob
  action: 'install' | 'rollback'
  pollIntervalSeconds: number
}

export interface OfferFormat {
  /** the document a poll serves for this offer */
  write(offer: AssignmentOffer): string
  /** the blobs a stored document names (what the device may download) */
  blobs(document: string): GrantedBlob[]
}
