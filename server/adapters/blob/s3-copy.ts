/**
 * Server-side copy inside one bucket, for objects of any size. A single
 * CopyObject is limited to 5 GiB on AWS S3, and models reach 10 GB, so larger
 * objects are copied part by part with UploadPartCopy. (minio-js 8.0.7's
 * `composeObject` would do this, but it gives every part of a single source the
 * same part number and swallows errors, so it is not used.)
 */
import type { Client } from 'minio'

/** AWS S3 CopyObject limit: 5 GiB. */
const MAX_SINGLE_COPY_BYTES = 5 * 1024 ** 3
/** 1 GiB parts: a 5 TiB object (the S3 maximum) needs 5,120 parts, under the 10,000 limit. */
const COPY_PART_BYTES = 1024 ** 3

export async function copyObjectAnySize(
  client: Client,
  bucket: string,
  fromKey: string,
  toKey: string,
  length: number,
): Promise<void> {
  if (length <= MAX_SINGLE_COPY_BYTES) {
    await client.copyObject(bucket, toKey, `/${bucket}/${fromKey}`)
    return
  }
  const uploadId = await client.initiateNewMultipartUpload(bucket, toKey, {})
  try {
    const parts: { part: number; etag: string }[] = []
    for (let part = 1, start = 0; start < length; part++, start += COPY_PART_BYTES) {
      const end = Math.min(start + COPY_PART_BYTES, length) - 1
      const { etag } = await client.uploadPart({
        bucketName: bucket,
        objectName: toKey,
        uploadID: uploadId,
        partNumber: part,
        headers: { 'x-amz-copy-source': `${bucket}/${fromKey}`, 'x-amz-copy-source-range': `bytes=${start}-${end}` },
      })
      parts.push({ part, etag })
    }
    // Only this call makes the object visible, and only as a whole.
    await client.completeMultipartUpload(bucket, toKey, uploadId, parts)
  } catch (e) {
    await client.abortMultipartUpload(bucket, toKey, uploadId).catch(() => undefined)
    throw e
  }
}
