#!/usr/bin/env python3
"""Builds the image-decoding test corpus under Tests/Fixtures/images/.

    .venv/bin/python tools/make_image_fixtures.py

Good files (decode must succeed) are derived from real photos shipped in Debian packages
(fetched with `apt-get download` + `dpkg -x`, nothing installed): the skimage photos
already in images/ (python3-skimage), a camera JPEG from plasma-workspace-wallpapers
(downscaled and re-encoded: the originals are too large to commit) and a WebP from
gnome-backgrounds (committed as shipped). From those it derives every variant the
decoder must handle: progressive / grayscale / CMYK JPEG, palette / 16-bit / RGBA PNG,
lossy / lossless / alpha / animated WebP, TIFF (LZW, JPEG, palette, bilevel,
orientation tag), GIF (animated, offset first frame), HEIC and AVIF (heif-enc from
libheif-examples), and the 8 EXIF orientations (JPEG, plus PNG eXIf and WebP EXIF).

malformed/ holds files that must fail with a typed error, plus two good files with the
wrong extension (they must decode: the format is chosen by content).

reference.json describes every file; reference/<name>.rgb<S> is the expected result of
the reference path, raw uint8 RGB, S*S*3 bytes, rows top to bottom:

    PIL.Image.open(f) -> ImageOps.exif_transpose -> convert("RGB") -> resize((S, S), BICUBIC)

(exif_transpose is a no-op without an orientation tag; files with "exif_rotated": true
differ from what BlipImageProcessor, which does not rotate, sees. TIFF: Pillow applies the
Orientation tag on load, so the reference is the loaded image, without exif_transpose). S = 64 for every file and
224 for three. HEIC/AVIF: PIL 9.4 cannot open them, so the reference decodes them with
libheif's heif-convert to PNG first (the same library the decoder uses) and continues
with PIL. For each reference the script checks that transformers' BlipImageProcessor
(4.46.3) on the same (transposed) image gives the normalised version of these bytes.

Deterministic: a re-run rewrites every file byte for byte (all encoders are run
single-threaded with fixed settings). Needs apt-get (Debian), heif-enc/heif-convert
(libheif-examples), and the .venv (PIL 9.4, numpy, transformers 4.46.3).
"""
from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "Tests" / "Fixtures" / "images"
REF_DIR = OUT / "reference"
MAL_DIR = OUT / "malformed"
DEB_CACHE = Path(os.environ.get("IMGSEARCH_DEB_CACHE", REPO / "bench" / "out" / "debs"))

SIZES_ALL = (64,)
SIZES_224 = {"photo.jpg", "photo.webp", "photo.heic"}
NEW_BUDGET = 3_000_000  # bytes of new files (everything but the three skimage PNGs)

# exif_transpose's methods, and their inverses (to store pixels that turn upright)
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
INVERSE = {2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}


# ---- sources --------------------------------------------------------------------------

def deb_files(package: str, patterns: list[str]) -> dict[str, bytes]:
    """Files of a Debian package (apt-get download into DEB_CACHE once, dpkg -x)."""
    DEB_CACHE.mkdir(parents=True, exist_ok=True)
    debs = sorted(glob.glob(str(DEB_CACHE / f"{package}_*.deb")))
    if not debs:
        subprocess.run(["apt-get", "download", package], cwd=DEB_CACHE, check=True)
        debs = sorted(glob.glob(str(DEB_CACHE / f"{package}_*.deb")))
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg", "-x", debs[-1], tmp], check=True)
        for pattern in patterns:
            (path,) = glob.glob(os.path.join(tmp, pattern))
            out[pattern] = Path(path).read_bytes()
    return out


def skimage_photo(name: str) -> Image.Image:
    """The skimage photos make_fixtures.py already committed (fetched there from python3-skimage)."""
    path = OUT / name
    if not path.exists():
        sys.path.insert(0, str(REPO / "tools"))
        from blip2_reference import fetch_photos  # noqa: E402

        fetch_photos(OUT)
    im = Image.open(path)
    im.load()
    return fresh(im.convert("RGB"))


def fresh(im: Image.Image) -> Image.Image:
    """The pixels without metadata (ICC profiles, EXIF) that encoders would copy."""
    return Image.frombytes(im.mode, im.size, im.tobytes())


# ---- encoders -------------------------------------------------------------------------

def save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_rgb16(arr: np.ndarray) -> bytes:
    """A 16-bit RGB PNG (PIL cannot write one): colour type 2, depth 16, filter 0."""
    h, w, _ = arr.shape
    raw = b"".join(b"\0" + arr[y].astype(">u2").tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def heif_enc(im: Image.Image, *args: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.png"), os.path.join(tmp, "out.heif")
        fresh(im).save(src)
        subprocess.run(["heif-enc", *args, "-o", dst, src], check=True, capture_output=True)
        return Path(dst).read_bytes()


def gif_with_offset_frame(im: Image.Image, screen: tuple[int, int], offset: tuple[int, int],
                          transparent: int) -> bytes:
    """PIL's one-frame GIF of `im`, re-framed: a larger logical screen, the image at an
    offset, and a graphic control extension with a transparent index."""
    data = bytearray(save(im, "GIF"))
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    out = bytearray(data[:6]) + struct.pack("<HH", *screen) + data[10:pos]
    out += b"\x21\xf9\x04\x01\x00\x00" + bytes([transparent]) + b"\x00"  # GCE, transparency on
    while data[pos] == 0x21:  # copy PIL's extensions (none expected), skipping sub-blocks
        end = pos + 2
        while data[end]:
            end += data[end] + 1
        out += data[pos:end + 1]
        pos = end + 1
    assert data[pos] == 0x2C, "image descriptor expected"
    out += b"\x2c" + struct.pack("<HH", *offset) + data[pos + 5:]
    return bytes(out)


def short_palette_gif() -> bytes:
    """PIL's GIF of indices 0..255, its global colour table cut to 4 entries."""
    im = Image.new("P", (16, 16))
    im.putdata(list(range(256)))
    im.putpalette([v for i in range(256) for v in (i, 255 - i, (i * 7) % 256)])
    d = save(im, "GIF", optimize=False)
    flags = d[10]
    assert flags & 0x80 and (flags & 7) == 7, "a 256-entry global colour table expected"
    return d[:10] + bytes([(flags & ~7) | 1]) + d[11:13] + d[13:25] + d[13 + 768:]


# ---- malformed ------------------------------------------------------------------------

def huge_png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))


def huge_jpeg(small_jpeg: bytes) -> bytes:
    """A real JPEG whose SOF declares 65500 x 65500."""
    data = bytearray(small_jpeg)
    pos = 2
    while True:
        assert data[pos] == 0xFF
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[pos + 5:pos + 9] = struct.pack(">HH", 65500, 65500)
            return bytes(data)
        pos += 2 + length


def huge_gif() -> bytes:
    return (b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x80\x00\x00" + b"\0\0\0\xff\xff\xff"
            + b"\x2c" + struct.pack("<HHHH", 0, 0, 65535, 65535) + b"\x00" + b"\x02\x02\x4c\x01\x00"
            + b"\x3b")


def huge_webp() -> bytes:
    """VP8X declaring a 16384 x 16384 canvas (268 M pixels), then a tiny VP8L frame."""
    vp8l = save(Image.new("RGB", (4, 4), (200, 10, 10)), "WEBP", lossless=True)
    inner = vp8l[12:]  # the VP8L chunk
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0\0\0\0" + (16383).to_bytes(3, "little") * 2
    body = b"WEBP" + vp8x + inner
    return b"RIFF" + struct.pack("<I", len(body)) + body


def huge_tiff() -> bytes:
    """Little-endian TIFF, one IFD declaring 100000 x 100000 RGB, one 3-byte strip."""
    entries = [(256, 4, 1, 100000), (257, 4, 1, 100000), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 2), (273, 4, 1, 8), (277, 3, 1, 3), (278, 4, 1, 100000),
               (279, 4, 1, 3)]
    ifd_offset = 8 + 8  # header, then 8 bytes of pixel data
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        packed = struct.pack("<H", value) + b"\0\0" if typ == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, typ, count) + packed
    ifd += b"\0\0\0\0"
    return b"II*\0" + struct.pack("<I", ifd_offset) + b"\x10\x20\x30" + b"\0" * 5 + ifd


# ---- references -----------------------------------------------------------------------

def open_for_reference(path: Path, fmt: str) -> Image.Image:
    if fmt in ("HEIF", "AVIF"):
        with tempfile.TemporaryDirectory() as tmp:
            png = os.path.join(tmp, "decoded.png")
            subprocess.run(["heif-convert", str(path), png], check=True, capture_output=True)
            im = Image.open(png)
            im.load()
            return im
    im = Image.open(path)
    if fmt == "TIFF":
        # Pillow turns a TIFF by its Orientation tag when loading it (8.0+); Pillow 9.4's
        # exif_transpose would then turn it a second time (fixed in 10.1): load only.
        im.load()
        return im
    upright = ImageOps.exif_transpose(im)
    upright.load()
    return upright


def reference_rgb(im: Image.Image, size: int) -> np.ndarray:
    return np.asarray(im.convert("RGB").resize((size, size), Image.BICUBIC), dtype=np.uint8)


def check_against_processor(im: Image.Image, ref: np.ndarray, size: int) -> None:
    """BlipImageProcessor (transformers 4.46.3, PIL backend) on `im` must give ref normalised."""
    sys.path.insert(0, str(REPO / "tools"))
    from blip2_reference import image_processor  # noqa: E402

    pixels = image_processor(size)(images=im, return_tensors="np")["pixel_values"][0]
    mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
    rescaled = (ref.astype(np.float64) * (1 / 255)).astype(np.float32)
    expected = ((rescaled - mean) / std).transpose(2, 0, 1)
    assert np.array_equal(pixels, expected), "BlipImageProcessor disagrees with the reference"


def pil_error(path: Path) -> str:
    try:
        with Image.open(path) as im:
            im.convert("RGB")
        return "decoded"
    except Exception as e:  # noqa: BLE001 — recorded for information
        return f"{type(e).__name__}: {e}".replace(str(path), "<file>")


# ---- the corpus -----------------------------------------------------------------------

def build():
    """(good files, their notes, malformed files, malformed expected errors, upright images)"""
    wallpapers = deb_files("plasma-workspace-wallpapers", [
        "usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg",
        "usr/share/wallpapers/Path/contents/images/2560x1600.jpg",
    ])
    cups_jpeg = wallpapers["usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg"]
    path_jpeg = wallpapers["usr/share/wallpapers/Path/contents/images/2560x1600.jpg"]
    gnome = deb_files("gnome-backgrounds", ["usr/share/backgrounds/gnome/vnc-d.webp"])

    cups = Image.open(io.BytesIO(cups_jpeg))
    cups_exif = cups.info["exif"]  # a real camera EXIF block (orientation 1)
    cups = fresh(cups.convert("RGB"))
    path_photo = fresh(Image.open(io.BytesIO(path_jpeg)).convert("RGB"))
    chelsea = skimage_photo("chelsea.png")      # 451 x 300
    coffee = skimage_photo("coffee.png")        # 600 x 400
    astronaut = skimage_photo("astronaut.png")  # 512 x 512

    good: dict[str, bytes] = {}
    notes: dict[str, dict] = {}

    def add(name: str, data: bytes, note: str, **extra) -> None:
        good[name] = data
        notes[name] = {"note": note, **extra}

    # JPEG
    photo = cups.resize((1280, 800), Image.LANCZOS)
    add("photo.jpg", save(photo, "JPEG", quality=88, exif=cups_exif),
        "plasma-workspace-wallpapers ColorfulCups (a camera JPEG, 2560x1600) downscaled to "
        "1280x800, re-encoded q88 4:2:0 with the camera's EXIF (orientation 1)")
    add("progressive.jpg", save(chelsea, "JPEG", quality=85, progressive=True),
        "chelsea.png as a progressive JPEG q85 (451x300: partial DCT blocks when scaled)")
    add("gray.jpg", save(coffee.convert("L"), "JPEG", quality=85),
        "coffee.png as a grayscale (1-component) JPEG")
    add("cmyk.jpg", save(chelsea.resize((300, 200), Image.LANCZOS).convert("CMYK"), "JPEG", quality=90),
        "chelsea.png at 300x200 as an Adobe CMYK JPEG (PIL writes inverted CMYK + APP14)")
    # PNG
    add("palette.png", save(chelsea.quantize(64, method=Image.Quantize.MEDIANCUT), "PNG",
                            optimize=False),
        "chelsea.png quantised to a 64-colour palette (colour type 3)")
    gray16 = np.asarray(coffee.convert("L").resize((240, 160), Image.LANCZOS), dtype=np.uint16) * 2
    add("gray16.png", save(Image.fromarray(gray16.astype(np.uint16), "I;16"), "PNG"),
        "16-bit grayscale, values 0..510: PIL's I;16 -> RGB clips above 255")
    rgb = np.asarray(astronaut.resize((128, 128), Image.LANCZOS), dtype=np.uint16)
    yy, xx = np.mgrid[0:128, 0:128]
    low = ((xx * 7 + yy * 13) % 256).astype(np.uint16)[..., None]
    add("rgb16.png", png_rgb16(rgb * 256 + low),
        "16-bit RGB (high byte = astronaut, low byte = a pattern): PIL keeps the high byte")
    rgba = astronaut.resize((200, 200), Image.LANCZOS).convert("RGBA")
    alpha = np.clip(255 - np.hypot(*(np.mgrid[0:200, 0:200] - 100)) * 2.6, 0, 255).astype(np.uint8)
    rgba.putalpha(Image.fromarray(alpha, "L"))
    add("rgba.png", save(rgba, "PNG"), "RGBA (radial alpha, 0 at the corners): alpha dropped")
    # WebP
    add("photo.webp", save(cups.resize((640, 400), Image.LANCZOS), "WEBP", quality=80, method=4),
        "the ColorfulCups photo at 640x400, lossy WebP q80")
    add("lossless.webp", save(chelsea.resize((225, 150), Image.LANCZOS), "WEBP", lossless=True,
                              method=4),
        "chelsea at 225x150, lossless WebP (VP8L)")
    add("alpha.webp", save(rgba, "WEBP", quality=80, method=4),
        "rgba.png as lossy WebP with alpha (VP8X + ALPH)")
    add("gnome-vnc.webp", gnome["usr/share/backgrounds/gnome/vnc-d.webp"],
        "gnome-backgrounds vnc-d.webp as shipped (256x256)")
    frame1 = path_photo.resize((240, 150), Image.LANCZOS)
    frame2 = ImageOps.invert(frame1)
    add("animated.webp", save(frame1, "WEBP", save_all=True, append_images=[frame2],
                              duration=[200, 200], loop=0, quality=80, method=4),
        "two-frame animated WebP (Path photo, then inverted): the first frame is expected")
    f1 = Image.new("RGBA", (120, 80), (0, 0, 0, 0))
    f1.paste(fresh(chelsea.resize((50, 30), Image.LANCZOS)).convert("RGBA"), (40, 30))
    add("offset.webp", save(f1, "WEBP", save_all=True, append_images=[ImageOps.invert(frame1)
                                                                      .resize((120, 80))],
                            duration=100, lossless=True, method=4),
        "animated WebP whose first frame is 50x30 at (40, 30) on a 120x80 canvas (the rest "
        "is transparent black, as WebPAnimDecoder gives it)")
    # TIFF
    add("lzw.tiff", save(chelsea.resize((200, 133), Image.LANCZOS), "TIFF", compression="tiff_lzw"),
        "RGB TIFF, LZW, strips (the direct path)")
    add("jpeg.tiff", save(coffee.resize((150, 100), Image.LANCZOS), "TIFF", compression="jpeg",
                          quality=85),
        "JPEG-compressed YCbCr TIFF (the TIFFRGBAImage path)")
    add("palette.tiff", save(chelsea.resize((150, 100), Image.LANCZOS).quantize(32), "TIFF"),
        "palette TIFF (the TIFFRGBAImage path)")
    add("bilevel.tiff", save(coffee.resize((160, 96), Image.LANCZOS).convert("1"), "TIFF",
                             compression="group4"),
        "1-bit CCITT G4 TIFF (the TIFFRGBAImage path)")
    # GIF
    g1 = path_photo.resize((200, 125), Image.LANCZOS).quantize(128)
    g2 = ImageOps.mirror(path_photo.resize((200, 125), Image.LANCZOS)).quantize(128)
    add("animated.gif", save(g1, "GIF", save_all=True, append_images=[g2], duration=200, loop=0),
        "two-frame animated GIF: the first frame is expected")
    add("offset.gif", gif_with_offset_frame(chelsea.resize((100, 66), Image.LANCZOS).quantize(16),
                                            (160, 120), (30, 20), transparent=5),
        "one frame 100x66 at (30, 20) on a 160x120 screen, transparent index 5: the canvas "
        "starts as index 5 (PIL's first frame)")
    add("short_palette.gif", short_palette_gif(),
        "16x16 indices 0..255 with a 4-entry global colour table: indices past the table "
        "are gray levels in Pillow 9.4 (black in Pillow 10+)")
    # HEIF / AVIF (libheif-examples' heif-enc: x265 / libaom)
    heic_src = path_photo.resize((480, 300), Image.LANCZOS)
    add("photo.heic", heif_enc(heic_src, "-q", "50"), "the Path photo at 480x300, heif-enc (x265) q50")
    add("alpha.heic", heif_enc(rgba.resize((120, 120), Image.LANCZOS), "-q", "60"),
        "RGBA source with alpha plane, heif-enc q60: alpha dropped")
    add("photo.avif", heif_enc(chelsea, "-A", "-q", "50"), "chelsea, heif-enc -A (libaom) q50")

    # EXIF orientation: stored pixels chosen so that exif_transpose gives `upright`
    upright = path_photo.crop((160, 0, 2400, 1600)).resize((333, 250), Image.LANCZOS)
    for o in range(1, 9):
        stored = upright if o == 1 else upright.transpose(TRANSPOSE[INVERSE[o]])
        add(f"orient_{o}.jpg", save(stored, "JPEG", quality=92, exif=exif_bytes(o)),
            f"EXIF orientation {o}: turned upright it is orient_upright (333x250)",
            upright="orient_upright")
    small = upright.resize((120, 90), Image.LANCZOS)
    add("orient_6.png", save(small.transpose(TRANSPOSE[INVERSE[6]]), "PNG", exif=exif_bytes(6)),
        "PNG with an eXIf chunk, orientation 6", upright="orient_upright_small")
    add("orient_3.webp", save(small.transpose(TRANSPOSE[INVERSE[3]]), "WEBP", lossless=True,
                              exif=exif_bytes(3)),
        "lossless WebP with an EXIF chunk, orientation 3", upright="orient_upright_small")
    add("orient_8.tiff", save(small.transpose(TRANSPOSE[INVERSE[8]]), "TIFF",
                              compression="tiff_lzw", tiffinfo={274: 8}),
        "TIFF with Orientation tag 8", upright="orient_upright_small")

    # ---- malformed
    mal: dict[str, bytes] = {}
    expect: dict[str, str] = {}

    def bad(name: str, data: bytes, error: str | None) -> None:
        mal[name] = data
        expect[name] = error

    orient1 = good["orient_1.jpg"]
    bad("empty.jpg", b"", "corrupt")
    bad("truncated.jpg", orient1[: len(orient1) * 3 // 5], "corrupt")
    bad("truncated_header.jpg", orient1[:120], "corrupt")
    bad("truncated.png", good["palette.png"][: len(good["palette.png"]) // 2], "corrupt")
    bad("truncated.webp", good["photo.webp"][: len(good["photo.webp"]) // 2], "corrupt")
    bad("truncated.gif", good["animated.gif"][: len(good["animated.gif"]) // 4], "corrupt")
    bad("truncated.tiff", good["lzw.tiff"][: len(good["lzw.tiff"]) // 2], "corrupt")
    bad("truncated.heic", good["photo.heic"][: len(good["photo.heic"]) // 2], "corrupt")
    rng = np.random.default_rng(20240601)
    garbage = bytearray(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    garbage[0] = 0x42  # no accidental magic
    bad("garbage.jpg", bytes(garbage), "unsupported")
    bad("garbage_after_soi.jpg", b"\xff\xd8\xff" + bytes(garbage[3:]), "corrupt")
    bad("text.jpg", b"This is not an image, just a text file named .jpg.\n", "unsupported")
    bad("huge_header.png", huge_png(), "too_large")
    bad("huge_header.jpg", huge_jpeg(orient1), "too_large")
    bad("huge_header.gif", huge_gif(), "too_large")
    bad("huge_header.webp", huge_webp(), "too_large")
    bad("huge_header.tiff", huge_tiff(), "too_large")
    bad("jpeg_named.png", save(chelsea.resize((150, 100), Image.LANCZOS), "JPEG", quality=85),
        None)
    bad("png_named.jpg", save(coffee.resize((150, 100), Image.LANCZOS), "PNG"), None)
    bad("directory.jpg/.gitkeep", b"", "io")  # the directory itself is the test
    uprights = {"orient_upright": upright, "orient_upright_small": small}
    return good, notes, mal, expect, uprights


def sniff(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:4] in (b"II*\0", b"MM\0*"):
        return "TIFF"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[4:8] == b"ftyp":
        return "AVIF" if data[8:12] == b"avif" else "HEIF"
    return "unknown"


def main() -> None:
    good, notes, mal, expect, uprights = build()

    # clean what this script owns (never the skimage PNGs or other fixtures)
    shutil.rmtree(REF_DIR, ignore_errors=True)
    shutil.rmtree(MAL_DIR, ignore_errors=True)
    REF_DIR.mkdir(parents=True)
    for name, data in good.items():
        (OUT / name).write_bytes(data)
    for name, data in mal.items():
        (MAL_DIR / name).parent.mkdir(parents=True, exist_ok=True)
        (MAL_DIR / name).write_bytes(data)

    entries = []
    files = []
    for n in ("astronaut.png", "chelsea.png", "coffee.png"):
        notes.setdefault(n, {"note": "python3-skimage photo (committed by make_fixtures.py)"})
        files.append((OUT / n, n, notes[n]))
    for name in good:
        files.append((OUT / name, name, notes[name]))
    for name, err in expect.items():
        if err is None:
            files.append((MAL_DIR / name, f"malformed/{name}",
                          {"note": "a good file with the wrong extension: must decode by content"}))

    for path, rel, note in files:
        data = path.read_bytes()
        fmt = sniff(data)
        stored = Image.open(path) if fmt not in ("HEIF", "AVIF") else None
        orientation = None
        if stored is not None:
            orientation = stored.getexif().get(0x0112)
        im = open_for_reference(path, fmt)
        width, height = (stored.size if stored is not None else im.size)
        entry = {
            "file": rel,
            "format": fmt,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "width": width,
            "height": height,
            "orientation": orientation,
            # the reference is turned by exif_transpose: BlipImageProcessor on the raw
            # file (no rotation) and imgsearch with apply_exif_orientation=false differ
            "exif_rotated": orientation in TRANSPOSE and fmt != "TIFF",
            "upright_width": im.size[0],
            "upright_height": im.size[1],
            "references": {},
            **note,
        }
        if fmt in ("HEIF", "AVIF"):
            entry["reference_decoder"] = "heif-convert (libheif) -> PNG -> PIL"
        sizes = SIZES_ALL + ((224,) if rel in SIZES_224 else ())
        for s in sizes:
            ref = reference_rgb(im, s)
            check_against_processor(im, ref, s)
            ref_name = f"{rel.replace('/', '__')}.rgb{s}"
            (REF_DIR / ref_name).write_bytes(ref.tobytes())
            entry["references"][str(s)] = f"reference/{ref_name}"
        entries.append(entry)

    # the upright ground truth of the orientation files (lossless, before JPEG coding)
    upright_refs = {}
    for name, im in uprights.items():
        upright_refs[name] = {"width": im.size[0], "height": im.size[1], "references": {}}
        for s in SIZES_ALL:
            ref_name = f"{name}.rgb{s}"
            (REF_DIR / ref_name).write_bytes(reference_rgb(im, s).tobytes())
            upright_refs[name]["references"][str(s)] = f"reference/{ref_name}"

    malformed = []
    for name, err in expect.items():
        if err is None:
            continue
        path = MAL_DIR / name
        if name.endswith("/.gitkeep"):
            path = path.parent
            rel = f"malformed/{Path(name).parent}"
            pil = "IsADirectoryError"
        else:
            rel = f"malformed/{name}"
            pil = pil_error(path)
        malformed.append({"file": rel, "error": err, "pil": pil,
                          "bytes": 0 if path.is_dir() else path.stat().st_size})

    doc = {
        "generator": "tools/make_image_fixtures.py",
        "pillow": PIL.__version__,
        "reference": "PIL.Image.open -> ImageOps.exif_transpose -> convert('RGB') -> "
                     "resize((S, S), Image.BICUBIC); raw uint8 RGB, S*S*3 bytes, row-major. "
                     "Equals BlipImageProcessor (transformers 4.46.3) before rescale/normalise "
                     "on the transposed image (checked). 'exif_rotated' files differ from "
                     "BlipImageProcessor on the raw file, which does not apply EXIF orientation "
                     "(TIFF: Pillow applies the Orientation tag on load; no exif_transpose).",
        "error_kinds": {"io": "IMGDEC_ERROR_IO", "unsupported": "IMGDEC_ERROR_UNSUPPORTED_FORMAT",
                        "corrupt": "IMGDEC_ERROR_CORRUPT", "too_large": "IMGDEC_ERROR_TOO_LARGE"},
        "images": entries,
        "upright": upright_refs,
        "malformed": malformed,
    }
    (OUT / "reference.json").write_text(json.dumps(doc, indent=1) + "\n")

    new = [OUT / n for n in good] + [p for p in MAL_DIR.rglob("*") if p.is_file()]
    new += list(REF_DIR.iterdir()) + [OUT / "reference.json"]
    total = sum(p.stat().st_size for p in new)
    for p in sorted(new):
        print(f"{p.stat().st_size:>9}  {p.relative_to(OUT)}")
    print(f"{total:>9}  total new bytes ({len(new)} files)")
    assert total < NEW_BUDGET, f"corpus too large: {total} bytes"


if __name__ == "__main__":
    main()
