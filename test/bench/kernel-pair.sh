#!/bin/bash
# Pairs of large gzip members, for member codec 3 (spool): two Debian bookworm arm64
# kernels (6.1.170 → 6.1.176, `apt-get download`; needs `dpkg --add-architecture arm64`
# and `apt-get update` once). Debian's arm64 kernel is an uncompressed Image; vendor
# kernels and older initramfs images are gzip, so each is gzipped as those are:
#   kernel-{old,new}.gz   the Image, gzip -9n (~33 MB decoded, ~11 MB compressed)
#   initrd-{old,new}.gz   a newc cpio of the kernel's fs, crypto and lib modules, gzip -9n
#                         (an initramfs of ~37 MB decoded)
#   usage: kernel-pair.sh OUTDIR
set -euo pipefail
command -v cpio >/dev/null || { echo 'kernel-pair.sh needs cpio: apt-get install -y cpio' >&2; exit 1; }
out=${1:?usage: kernel-pair.sh OUTDIR}
mkdir -p "$out"; cd "$out"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then dpkg --add-architecture arm64; apt-get update -qq; fi
i=0
for v in 47 50; do
  name=$([ $i = 0 ] && echo old || echo new); i=1
  ls linux-image-6.1.0-$v-arm64_*_arm64.deb >/dev/null 2>&1 || apt-get download -q "linux-image-6.1.0-$v-arm64:arm64"
  rm -rf "d$v"; dpkg-deb -x linux-image-6.1.0-$v-arm64_*_arm64.deb "d$v"
  gzip -9n -c "d$v/boot/vmlinuz-6.1.0-$v-arm64" > "kernel-$name.gz"
  (cd "d$v" && find lib/modules/*/kernel/fs lib/modules/*/kernel/crypto lib/modules/*/kernel/lib | LC_ALL=C sort |
    cpio -o -H newc --reproducible --quiet) | gzip -9n > "initrd-$name.gz"
  rm -rf "d$v"
done
ls -l "$out"/kernel-*.gz "$out"/initrd-*.gz
