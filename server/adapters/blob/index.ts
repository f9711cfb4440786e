/** Blob store adapters: local files (embedded default) and S3 (scale-out). */
export { FileBlobStore, type FileBlobStoreOptions } from './file-blob-store.js'
export { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.js'
