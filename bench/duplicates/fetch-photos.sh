#!/usr/bin/env bash
# Unpacks the Debian packages that ship real photos and pictures (wallpapers, scikit-image's
# and OpenCV's sample images, Tux Paint's photographed stamps, Palapeli's puzzles) into
# bench/out/packages/NAME with apt-get download + dpkg -x: nothing is installed. Idempotent.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/out"
mkdir -p "$out/debs" "$out/packages"
for package in plasma-workspace-wallpapers gnome-backgrounds mate-backgrounds desktop-base ukui-wallpapers \
               sway-backgrounds lomiri-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 \
               python3-skimage opencv-doc tuxpaint-stamps-default palapeli-data; do
  [ -d "$out/packages/$package" ] && continue
  if ! ls "$out/debs/${package}"_*.deb >/dev/null 2>&1; then
    (cd "$out/debs" && apt-get download "$package" >&2)
  fi
  rm -rf "$out/packages/$package.tmp"
  dpkg -x "$(ls "$out/debs/${package}"_*.deb | tail -1)" "$out/packages/$package.tmp"
  mv "$out/packages/$package.tmp" "$out/packages/$package"
done
