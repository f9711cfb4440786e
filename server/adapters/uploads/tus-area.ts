/**
 * What the tus HTTP handler needs of an upload area beyond the domain's port: the tus
 * DataStore that writes the bytes and the locker that serialises requests per upload.
 * Two implementations: a folder (TusUploadArea) and S3 multipart (S3UploadArea).
 */
import type { DataStore, Locker } from '@tus/utils'
import type { UploadArea } from '../../domain/ports/upload-area.js'

export interface TusUploadArea extends UploadArea {
  readonly store: DataStore
  /** undefined: tus's in-process MemoryLocker */
  readonly locker: Locker | undefined
  /** called with the size of every chunk received, as it is received */
  onBytes: (n: number) => void
  close(): Promise<void>
}
