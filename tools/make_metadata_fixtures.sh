#!/usr/bin/env bash
# Writes Tests/Fixtures/metadata: copies of image fixtures with EXIF written by exiftool
# (libimage-exiftool-perl; pixels untouched), one with a malformed EXIF block, and a real
# camera photo from Debian's plasma-workspace-wallpapers (bench/fetch-wallpapers.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
images=Tests/Fixtures/images
out=Tests/Fixtures/metadata
mkdir -p "$out"
write() {  # source, target, exiftool arguments...
  local source=$1 target=$2; shift 2
  cp "$images/$source" "$out/$target"
  exiftool -q -overwrite_original "$@" "$out/$target"
}
paris=(-DateTimeOriginal="2023:07:14 18:30:05" -OffsetTimeOriginal="+02:00" -Make=Canon -Model="Canon EOS R6"
       -GPSLatitude=48.8584 -GPSLatitudeRef=N -GPSLongitude=2.2945 -GPSLongitudeRef=E)
write progressive.jpg exif.jpg "${paris[@]}"
write orient_6.png exif.png "${paris[@]}"            # PNG eXIf (the fixture's orientation kept)
write orient_8.tiff exif.tiff "${paris[@]}"
write photo.webp exif.webp -DateTimeOriginal="2022:12:31 23:59:59" -Make=Google -Model="Pixel 7" \
  -GPSLatitude=33.8568 -GPSLatitudeRef=S -GPSLongitude=151.2153 -GPSLongitudeRef=E
write photo.heic exif.heic -DateTimeOriginal="2024:01:02 03:04:05" -OffsetTimeOriginal="-05:00" -Make=Apple \
  -Model="iPhone 15" -GPSLatitude=40.6892 -GPSLatitudeRef=N -GPSLongitude=74.0445 -GPSLongitudeRef=W
# A JPEG whose APP1 says Exif but holds garbage: read as "no EXIF", never a failure.
python3 - "$images/progressive.jpg" "$out/bad-exif.jpg" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
garbage = b"Exif\0\0MM\0*\0\0\0\x08\xff\xff" + bytes(range(40))
segment = b"\xff\xe1" + (len(garbage) + 2).to_bytes(2, "big") + garbage
open(sys.argv[2], "wb").write(data[:2] + segment + data[2:])
PY
bench/fetch-wallpapers.sh
cp bench/out/wallpapers/usr/share/wallpapers/ColorfulCups/contents/screenshot.jpg "$out/colorful-cups.jpg"
