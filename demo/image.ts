/**
 * The demo's release images: a small real ext4 file system (mkfs.ext4 -d, 2 MiB) with
 * /etc/os-release and the demo app's health setting inside. Where e2fsprogs is missing,
 * the same files laid out as plain text in a 2 MiB image instead: the agent only moves
 * bytes and checks hashes, so the story is the same, and the start says which it made.
 */
import { spawnSync } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const SIZE = 2 * 1024 * 1024
/** The marker the demo health check looks for in the booted slot: a release built with it fails on fragile devices. */
export const BROKEN_MARKER = 'slipway-demo-health=broken'

export interface ImageSpec {
  version: string
  /** the demo app of this build crashes on fragile hardware (30% of the fleet) */
  broken: boolean
}

function files(spec: ImageSpec): Record<string, string> {
  return {
    'etc/os-release': `NAME="Slipway demo OS"\nVERSION_ID="${spec.version}"\nID=slipway-demo\n`,
    'etc/demo-app.conf': `# read by the demo app at start\n${spec.broken ? BROKEN_MARKER : 'slipway-demo-health=ok'}\n`,
    'usr/bin/demo-app': `#!/bin/sh\necho "demo app ${spec.version}"\n`,
  }
}

/** mkfs.ext4 on PATH, or where Debian puts it (/usr/sbin is not on a normal user's PATH) */
const mkfs = (): string | undefined => ['mkfs.ext4', '/usr/sbin/mkfs.ext4', '/sbin/mkfs.ext4'].find((c) => spawnSync(c, ['-V'], { stdio: 'ignore' }).status === 0)

/** Builds the image for `spec` in `workDir`; `ext4` says whether it is a real file system. */
export async function makeImage(workDir: string, spec: ImageSpec): Promise<{ data: Buffer; ext4: boolean }> {
  const root = join(workDir, `rootfs-${spec.version}`)
  for (const [path, text] of Object.entries(files(spec))) {
    await mkdir(join(root, path, '..'), { recursive: true })
    await writeFile(join(root, path), text)
  }
  const file = join(workDir, `rootfs-${spec.version}.ext4`)
  try {
    const cmd = mkfs()
    if (cmd) {
      const r = spawnSync(cmd, ['-q', '-F', '-L', 'demo-rootfs', '-E', 'root_owner=0:0', '-d', root, file, '2M'], { stdio: 'ignore' })
      if (r.status === 0) return { data: await readFile(file), ext4: true }
    }
    const text = Buffer.from(Object.entries(files(spec)).map(([p, s]) => `--- /${p}\n${s}`).join(''))
    return { data: Buffer.concat([text, Buffer.alloc(SIZE - text.length)]), ext4: false }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}
