#!/usr/bin/env bash
# Unpacks Debian's plasma-workspace-wallpapers (real photos, JPEG up to 5120x2880) into
# bench/out/wallpapers with apt-get download + dpkg -x: nothing is installed. Idempotent.
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)/out"
mkdir -p "$out/debs"
if [ ! -d "$out/wallpapers" ]; then
  if ! ls "$out"/debs/plasma-workspace-wallpapers_*.deb >/dev/null 2>&1; then
    (cd "$out/debs" && apt-get download plasma-workspace-wallpapers)
  fi
  rm -rf "$out/wallpapers.tmp"
  dpkg -x "$(ls "$out"/debs/plasma-workspace-wallpapers_*.deb | tail -1)" "$out/wallpapers.tmp"
  mv "$out/wallpapers.tmp" "$out/wallpapers"
fi
