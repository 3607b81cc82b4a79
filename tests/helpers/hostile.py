"""A regression folder of hostile inputs for the batch job (issue #26): every kind of file a user's
folder holds that is not a plain photo, generated small (the whole folder is ~60 KB). ``make``
writes it and returns what the job must make of it."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

MAX_PIXELS = 1_000_000  # the bomb below is over it


@dataclass(frozen=True)
class Expected:
    done: tuple[str, ...]  # relative paths that must be matted (output: same path, .png)
    failed: tuple[str, ...]  # each named in exactly one error line
    unsupported: tuple[str, ...]  # named as skipped, not read


def _rgb(shape, seed) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def make(root: Path) -> Expected:
    root.mkdir(parents=True, exist_ok=True)
    (root / "nested" / "deeper").mkdir(parents=True)
    Image.fromarray(_rgb((30, 40), 1)).save(root / "good.png")
    Image.fromarray(_rgb((1, 1), 2)).save(root / "one_pixel.png")
    Image.fromarray(_rgb((1, 2), 3)).save(root / "one_by_two.png")
    Image.fromarray(_rgb((1, 300), 4)).save(root / "nested" / "strip.png")
    Image.fromarray(_rgb((20, 24), 5)).save(root / "nested" / "deeper" / "photo.jpg", quality=90)
    Image.fromarray(np.arange(0, 65536, 64, dtype=np.uint16).reshape(32, 32)).save(root / "sixteen_bit.png")
    Image.fromarray(_rgb((16, 16), 6)).convert("P").save(root / "palette.gif")
    Image.fromarray(_rgb((12, 18), 7)).convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray(np.dstack([_rgb((10, 10), 8), np.full((10, 10), 7, np.uint8)])).save(root / "rgba.png")
    rotated = Image.fromarray(_rgb((10, 20), 9))
    exif = rotated.getexif()
    exif[0x0112] = 6  # rotate 90: displayed 10 wide, 20 high
    rotated.save(root / "exif_rotated.jpg", exif=exif)
    good = (root / "good.png").read_bytes()
    (root / "empty.png").write_bytes(b"")
    (root / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    (root / "nested" / "text.jpg").write_text("not an image at all\n")
    Image.new("L", (1500, 1000)).save(root / "bomb.png")  # 1.5 MP: over MAX_PIXELS, refused from the header
    (root / "photo.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (root / "notes.txt").write_text("shot list\n")
    (root / ".hidden.png").write_bytes(good)  # hidden: not an input at all
    return Expected(
        done=("cmyk.jpg", "exif_rotated.jpg", "good.png", "nested/deeper/photo.jpg", "nested/strip.png",
              "one_by_two.png", "one_pixel.png", "palette.gif", "rgba.png", "sixteen_bit.png"),
        failed=("bomb.png", "corrupt.png", "empty.png", "nested/text.jpg", "truncated.png"),
        unsupported=("notes.txt", "photo.heic"))


def digest(folder: Path) -> dict[str, str]:
    """Every file's bytes, hashed, by relative path: an input folder must come out of a run unchanged."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
