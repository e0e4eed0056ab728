"""Builds the near-duplicate calibration set: distinct real pictures from the Debian packages
that bench/duplicates/fetch-photos.sh unpacks, each with eight made variants, one folder a
picture (the folder is the ground truth: two files are duplicates exactly when they share it).

    make_photo_set.py PACKAGES OUT [--limit N]

Variants (the ones issue 18 names): JPEG re-encodes at quality 90, 70 and 50; resized to
50 % and 25 %; cropped by 10 % (5 % off each edge); stored turned 90 degrees with an EXIF
orientation that turns it back; 10 % brighter. The selection keeps one picture where a package
ships the same one at several sizes or colour schemes, and leaves out frame sequences
(stereo pairs, calibration boards, animation frames), which are near-duplicates themselves.
"""
import hashlib, io, re, sys, warnings
from pathlib import Path
from PIL import Image, ImageEnhance

warnings.filterwarnings("ignore", "Palette images with Transparency")
IMAGE = re.compile(r"\.(jpe?g|png|webp)$", re.I)


def files(root, pattern=IMAGE, min_bytes=30_000):
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and pattern.search(p.name) and p.stat().st_size >= min_bytes)


def select(packages):
    pk = Path(packages)
    chosen = []
    # Plasma: one size of each wallpaper (the largest file of its folder).
    plasma = pk / "plasma-workspace-wallpapers/usr/share/wallpapers"
    for folder in sorted(p for p in plasma.iterdir() if p.is_dir()):
        found = files(folder)
        if found:
            chosen.append(max(found, key=lambda p: p.stat().st_size))
    chosen += [p for p in files(pk / "gnome-backgrounds") if p.name.endswith("-l.webp")]
    skip_mate = {"Elephants_3840x2160.jpg", "Elephants_5640x3172.jpg", "MATE-Stripes-Dark.png",
                 "Ubuntu-Mate-Cold-no-logo.png", "Ubuntu-Mate-Dark-no-logo.png", "Ubuntu-Mate-Radioactive-no-logo.png"}
    chosen += [p for p in files(pk / "mate-backgrounds") if p.name not in skip_mate]
    chosen += [p for p in files(pk / "desktop-base") if p.name == "grub-16x9.png"]
    chosen += files(pk / "ukui-wallpapers")
    chosen += [p for p in files(pk / "sway-backgrounds") if p.name == "Sway_Wallpaper_Blue_1920x1080.png"]
    for name in ("lomiri-wallpapers", "lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04"):
        chosen += files(pk / name)
    chosen += [p for p in files(pk / "python3-skimage") if p.parent.name == "data" and p.name != "motorcycle_right.png"]
    stereo = re.compile(r"^(left|right)\d+|aloeR|Suzanne2|leuven[B-Z]|chessboard|pic[0-9]|graf[0-9]|box_in_scene|"
                        r"rubberwhale2|basketball2", re.I)
    chosen += [p for p in files(pk / "opencv-doc/usr/share/doc/opencv-doc/examples/data") if not stereo.search(p.name)]
    chosen += [p for p in files(pk / "tuxpaint-stamps-default") if "cartoon" not in p.parts]
    chosen += files(pk / "palapeli-data/usr/share/palapeli/collection")
    # The same file shipped twice (Lomiri's default background is Warty's; a Tux Paint stamp in
    # two folders) is one picture; and a picture that decodes to one colour (an RGBA overlay
    # whose colour channels are all white: its content is in the alpha channel, which the
    # decoders drop as PIL's convert("RGB") does) has nothing to compare.
    seen, distinct = set(), []
    for path in chosen:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in seen or is_flat(path):
            continue
        seen.add(digest)
        distinct.append(path)
    return distinct


def is_flat(path):
    image = upright_rgb(path).convert("L").resize((32, 32), Image.BOX)
    values = list(image.getdata())
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5 < 2


def upright_rgb(path):
    image = Image.open(path)
    image.load()
    return image.convert("RGB")


def jpeg(image, quality, exif=None):
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **({"exif": exif} if exif else {}))
    return out.getvalue()


def variants(image):
    w, h = image.size
    yield "q90.jpg", jpeg(image, 90)
    yield "q70.jpg", jpeg(image, 70)
    yield "q50.jpg", jpeg(image, 50)
    yield "half.jpg", jpeg(image.resize((max(1, w // 2), max(1, h // 2)), Image.LANCZOS), 90)
    quarter = io.BytesIO()
    image.resize((max(1, w // 4), max(1, h // 4)), Image.LANCZOS).save(quarter, "PNG")
    yield "quarter.png", quarter.getvalue()
    yield "crop10.jpg", jpeg(image.crop((w // 20, h // 20, w - w // 20, h - h // 20)), 90)
    # Stored turned 90° counter-clockwise; orientation 6 ("rotate 90 clockwise to view") turns it back.
    exif = Image.Exif()
    exif[0x0112] = 6
    yield "exif-rotated.jpg", jpeg(image.transpose(Image.ROTATE_90), 90, exif.tobytes())
    yield "brighter.jpg", jpeg(ImageEnhance.Brightness(image).enhance(1.1), 90)


def main():
    packages, out = sys.argv[1], Path(sys.argv[2])
    limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else None
    chosen = select(packages)[:limit]
    for number, path in enumerate(chosen):
        folder = out / f"p{number:04d}"
        if (folder / "brighter.jpg").exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        image = upright_rgb(path)
        (folder / ("original" + path.suffix.lower())).write_bytes(path.read_bytes())
        for name, data in variants(image):
            (folder / name).write_bytes(data)
        (folder / "source.txt").write_text(str(path.relative_to(packages)) + "\n")
    print(f"{len(chosen)} pictures, {len(chosen) * 9} files in {out}")


if __name__ == "__main__":
    main()
