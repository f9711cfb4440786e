// bsdiff-node 2.5 ships no types. Both calls run on the libuv pool and take file paths
// only; the callback reports progress in percent (0–100).
declare module 'bsdiff-node' {
  export function diff(oldFile: string, newFile: string, patchFile: string, cb?: (percent: number) => void): Promise<void>
  export function patch(oldFile: string, newFile: string, patchFile: string, cb?: (percent: number) => void): Promise<void>
}
