#!/bin/bash
# A pair with compressed members for format v2: ext4 images of the OS pair's
# usr/share/{doc,man} (from os-pair.sh's root-old/root-new), every .gz re-made by
# node:zlib at level 9. Debian's .gz come from GNU gzip, whose bytes zlib never
# reproduces, so the OS pair itself has no member format v2 can use.
#   usage: gz-pair.sh OSDIR OUTDIR     writes OUTDIR/gz-old.ext4, gz-new.ext4
set -euo pipefail
os=${1:?usage: gz-pair.sh OSDIR OUTDIR}; out=${2:?usage: gz-pair.sh OSDIR OUTDIR}
mkdir -p "$out"
for v in old new; do
  r=$out/root-$v; rm -rf "$r"; mkdir -p "$r/usr/share"
  cp -a "$os/root-$v/usr/share/doc" "$os/root-$v/usr/share/man" "$r/usr/share/"
  node -e '
    const { readdirSync, readFileSync, writeFileSync, lstatSync } = require("node:fs")
    const { join } = require("node:path")
    const { gunzipSync, gzipSync } = require("node:zlib")
    const walk = (d) => { for (const n of readdirSync(d)) { const p = join(d, n), s = lstatSync(p)
      if (s.isDirectory()) walk(p)
      else if (s.isFile() && n.endsWith(".gz")) try { writeFileSync(p, gzipSync(gunzipSync(readFileSync(p)), { level: 9 })) } catch {} } }
    walk(process.argv[1])' "$r"
  find "$r" -exec touch -h -d @1700000000 {} +
done
kib=$(du -sk "$out/root-new" | cut -f1); size=$(( kib * 13 / 10 / 1024 + 16 ))M
for v in old new; do
  E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -F -b 4096 -d "$out/root-$v" -U 0b5e55ed-0000-4000-8000-000000000001 \
    -E hash_seed=0b5e55ed-0000-4000-8000-000000000002,root_owner=0:0 -L docs "$out/gz-$v.ext4" "$size"
done
ls -l "$out"/gz-*.ext4
