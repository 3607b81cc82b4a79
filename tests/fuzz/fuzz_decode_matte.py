"""Fuzz the decode-and-matte entry point: bytes -> file -> trtmatte.media.image.read_rgb -> Matter.

A bounded, coverage-guided fuzz run (atheris, i.e. libFuzzer driving Python) of what `trtmatte
matte` and `trtmatte eval` do with a user's file: decode it (Pillow, EXIF orientation, 16-bit and
palette conversions, a 4-megapixel limit) and run an onnxruntime Matter on the pixels. The
contract: every input either mattes (alpha [H, W] finite, in [0, 1]) or fails with a one-line
:class:`trtmatte.errors.TrtmatteError`. Anything else -- another exception type, a multi-line
message, a wrong or non-finite alpha, a hard crash or a hang -- is a crash; its input is saved.

Seeds are small valid PNG / JPEG / GIF / TIFF / WebP / BMP / PPM encodings (grey, palette,
16-bit, float, CMYK, RGBA, EXIF-rotated, animated, multi-page, ...) made here with Pillow.
libFuzzer mutates them; a custom mutator re-computes PNG chunk CRCs after mutating, so mutations
reach past Pillow's CRC check. Coverage is Python coverage: Pillow's format plugins (header and
chunk parsing are Python) and trtmatte are instrumented; Pillow's C decoders, libjpeg, libwebp,
libtiff and onnxruntime are not (their crashes are still caught: libFuzzer saves the input).

The matting model is TinyMatting (tests/helpers/tiny_model.py) exported once through trtmatte's
exporter (~25 s; cached under --out): the real whole-pipeline preprocessing (resize to the working
size, padding) with a 2 kB network, so thousands of inputs run per minute. --graph runs any
exported graph instead (e.g. trtmatte/weights/late_fusion_lite_demo.onnx).

The test suite runs a short, bounded pass of it (tests/fuzz/test_fuzz_decode_matte.py: a fixed
number of inputs, --engine random, since atheris is not in the `test` extra); the long,
coverage-guided run is a command (atheris: pip install 'trtmatte[fuzz]'). Usage:
    pip install atheris                     # Linux x86_64 wheels; without it: --engine random
    python tests/fuzz/fuzz_decode_matte.py --seconds 120
    python tests/fuzz/fuzz_decode_matte.py --seconds 600 --out /tmp/fuzz --graph trtmatte/weights/late_fusion_lite_demo.onnx
    python tests/fuzz/fuzz_decode_matte.py --replay /tmp/fuzz/crashes/<kind>.bin   # re-run one input
Exit status 0: no crash; 1: crashes found (listed, inputs in OUT/crashes/); 2: setup failed.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAX_PIXELS = 4_000_000
FLUSH_S = 0.5


# ----------------------------------------------------------------------------- seeds


def make_seeds(folder: Path) -> list[Path]:
    """Small valid encodings of every format and mode read_rgb handles (each < ~16 kB)."""
    import numpy as np
    from PIL import Image

    try:
        from skimage import data

        photo = data.astronaut()[::8, ::8]  # 64x64 of a real photo: JPEG/WebP paths see real content
    except Exception:
        yy, xx = np.mgrid[0:64, 0:64]
        photo = np.stack([xx * 4, yy * 4, (xx + yy) * 2], -1).astype(np.uint8)
    rgb = Image.fromarray(photo[:24, :32])
    grey = rgb.convert("L")
    rgba = rgb.convert("RGBA")
    rgba.putalpha(grey)
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal_t = palette.copy()
    pal_t.info["transparency"] = 3
    grey16 = Image.fromarray((np.asarray(grey, dtype=np.uint16) * 257)).convert("I;16")
    floaty = Image.fromarray(np.asarray(grey, dtype=np.float32) / 255.0)
    exif = rgb.getexif()
    exif[0x0112] = 6  # rotated 90: read_rgb applies it
    strip = Image.fromarray(np.tile(photo[:1, :50], (1, 20, 1)))  # 1 x 1000: a long thin panorama strip
    # 1 x 1700: the short side scales to under half a pixel at the 800 px working size (aspect > 1600:1)
    thin = Image.fromarray(np.tile(photo[:1, :50], (1, 34, 1)))

    seeds: dict[str, tuple[Image.Image, str, dict]] = {
        "rgb.png": (rgb, "PNG", {}), "grey.png": (grey, "PNG", {}), "rgba.png": (rgba, "PNG", {}),
        "la.png": (rgba.convert("LA"), "PNG", {}), "palette.png": (palette, "PNG", {}),
        "palette_t.png": (pal_t, "PNG", {"transparency": 3}), "grey16.png": (grey16, "PNG", {}),
        "bilevel.png": (grey.convert("1"), "PNG", {}), "exif.png": (rgb, "PNG", {"exif": exif}),
        "one.png": (Image.new("RGB", (1, 1), (9, 99, 199)), "PNG", {}),
        "strip.png": (strip, "PNG", {}), "thin.png": (thin, "PNG", {}),
        "rgb.jpg": (rgb, "JPEG", {"quality": 80}), "grey.jpg": (grey, "JPEG", {}),
        "cmyk.jpg": (rgb.convert("CMYK"), "JPEG", {}), "progressive.jpg": (rgb, "JPEG", {"progressive": True}),
        "exif.jpg": (rgb, "JPEG", {"exif": exif}), "subsampled.jpg": (rgb, "JPEG", {"subsampling": 2}),
        "palette.gif": (palette, "GIF", {}), "transparent.gif": (pal_t, "GIF", {"transparency": 3}),
        "animated.gif": (palette, "GIF", {"save_all": True, "append_images": [palette.rotate(90)], "duration": 40}),
        "rgb.tif": (rgb, "TIFF", {}), "deflate.tif": (rgb, "TIFF", {"compression": "tiff_deflate"}),
        "lzw.tif": (rgba, "TIFF", {"compression": "tiff_lzw"}), "packbits.tif": (grey, "TIFF", {"compression": "packbits"}),
        "grey16.tif": (grey16, "TIFF", {}), "float.tif": (floaty, "TIFF", {}),
        "pages.tif": (rgb, "TIFF", {"save_all": True, "append_images": [grey.convert("RGB")]}),
        "lossy.webp": (rgb, "WEBP", {"quality": 70}), "lossless.webp": (rgba, "WEBP", {"lossless": True}),
        "rgb.bmp": (rgb, "BMP", {}), "palette.bmp": (palette, "BMP", {}),
        "rgb.ppm": (rgb, "PPM", {}), "grey.pgm": (grey, "PPM", {}),
        "icon.ico": (rgba, "ICO", {"sizes": [(16, 16)]}), "rgb.tga": (rgb, "TGA", {}),
    }
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for name, (im, fmt, params) in seeds.items():
        buf = io.BytesIO()
        try:
            im.save(buf, format=fmt, **params)
        except Exception as exc:  # a Pillow build without WebP, ...: fewer seeds, not a failure
            print(f"seed {name} skipped: {exc}", file=sys.stderr)
            continue
        path = folder / name
        path.write_bytes(buf.getvalue())
        made.append(path)
    return made


# ----------------------------------------------------------------------------- the model


def tiny_graph(out: Path) -> Path:
    """TinyMatting exported as a whole-pipeline graph (cached)."""
    path = out / "tiny_matting.onnx"
    if path.is_file():
        return path
    sys.path.insert(0, str(REPO / "tests"))
    from helpers.tiny_model import TinyMatting

    from trtmatte.export import ExportOptions, export_onnx
    from trtmatte.models import get_config

    print("exporting TinyMatting (once, ~25 s) ...", flush=True)
    export_onnx(TinyMatting(), "late_fusion", get_config("late_fusion").preprocessing, path, ExportOptions(),
                weights_provenance="TinyMatting (tests/helpers), fuzzing only")
    return path


# ----------------------------------------------------------------------------- the target


class Target:
    """One input: decode, matte, check the contract. Keeps the figures; saves crash inputs."""

    def __init__(self, graph: Path, out: Path, max_pixels: int = MAX_PIXELS):
        from trtmatte.runtime.matter import Matter

        self.matter = Matter("onnxruntime", onnx=str(graph), device="cpu")
        self.out = out
        self.max_pixels = max_pixels
        (out / "crashes").mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="fuzz-input-", suffix=".img")
        os.close(fd)
        self.path = Path(name)
        self.tried = self.decoded = self.matted = 0
        self.errors: Counter[str] = Counter()
        self.error_examples: dict[str, str] = {}
        self.crashes: dict[str, dict] = {}
        self.slowest = (0.0, "")
        self.started = time.monotonic()
        self.last_flush = 0.0

    def error_kind(self, message: str) -> str:
        """A TrtmatteError message without the path and the numbers: its kind."""
        text = message.replace(str(self.path), "PATH")
        text = re.sub(r"'[^']*'", "'…'", text)
        text = re.sub(r"\d+(\.\d+)?", "N", text)
        return text[:160]

    def crash(self, kind: str, data: bytes, detail: str) -> None:
        entry = self.crashes.get(kind)
        if entry is None:
            digest = hashlib.sha1(kind.encode()).hexdigest()[:12]
            reproducer = self.out / "crashes" / f"{digest}.bin"
            reproducer.write_bytes(data)
            (self.out / "crashes" / f"{digest}.txt").write_text(f"{kind}\n\n{detail}")
            entry = self.crashes[kind] = {"count": 0, "reproducer": str(reproducer), "detail": detail[-4000:]}
            print(f"\nCRASH {kind}\n{detail}\nreproducer: {reproducer}", file=sys.stderr, flush=True)
            self.flush()
        entry["count"] += 1

    def __call__(self, data: bytes) -> None:
        import numpy as np

        from trtmatte.errors import TrtmatteError
        from trtmatte.media.image import read_rgb

        self.tried += 1
        self.path.write_bytes(data)
        start = time.perf_counter()
        stage = "decode"
        try:
            image = read_rgb(self.path, max_pixels=self.max_pixels)
            self.decoded += 1
            stage = "matte"
            alpha = self.matter(image)
            if alpha.shape != (1,) + image.shape[:2]:
                self.crash(f"bad output: alpha {alpha.shape} for image {image.shape}", data, "")
            elif not np.isfinite(alpha).all() or alpha.min() < 0 or alpha.max() > 1:
                self.crash("bad output: alpha not finite or outside [0, 1]", data, "")
            else:
                self.matted += 1
        except TrtmatteError as exc:
            message = str(exc)
            if "\n" in message or not message:
                self.crash(f"multi-line or empty TrtmatteError ({stage})", data, message)
            kind = self.error_kind(message)
            self.errors[kind] += 1
            self.error_examples.setdefault(kind, message)
        except Exception as exc:  # the contract says: only TrtmatteError
            frames = traceback.extract_tb(exc.__traceback__)
            where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
            self.crash(f"{type(exc).__module__}.{type(exc).__qualname__} in {stage} at {where}", data,
                       "".join(traceback.format_exception(exc)))
        elapsed = time.perf_counter() - start
        if elapsed > self.slowest[0]:
            self.slowest = (elapsed, hashlib.sha1(data).hexdigest()[:12])
            (self.out / "slowest.bin").write_bytes(data)
        if time.monotonic() - self.last_flush > FLUSH_S:
            self.flush()

    def summary(self) -> dict:
        return {"tried": self.tried, "decoded": self.decoded, "matted": self.matted,
                "seconds": round(time.monotonic() - self.started, 1),
                "error_kinds": len(self.errors), "errors": dict(self.errors.most_common()),
                "error_examples": self.error_examples, "crash_kinds": len(self.crashes),
                "crashes": self.crashes, "slowest_input_s": round(self.slowest[0], 3)}

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        tmp = self.out / "stats.json.part"
        tmp.write_text(json.dumps(self.summary(), indent=1))
        os.replace(tmp, self.out / "stats.json")


# ----------------------------------------------------------------------------- mutation helpers

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fix_png_crcs(data: bytes) -> bytes:
    """Recompute every complete chunk's CRC so a mutated PNG gets past the CRC check."""
    if not data.startswith(PNG_SIGNATURE):
        return data
    out = bytearray(data)
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(out):
        length = struct.unpack(">I", out[pos:pos + 4])[0]
        end = pos + 8 + length
        if end + 4 > len(out):
            break
        out[end:end + 4] = struct.pack(">I", zlib.crc32(bytes(out[pos + 4:end])) & 0xFFFFFFFF)
        pos = end + 4
    return bytes(out)


def random_mutation(data: bytes, rng: random.Random, seeds: list[bytes], max_len: int) -> bytes:
    """Without atheris: a few havoc mutations (bit flips, interesting bytes, splices, cuts)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(7)
        if not buf:
            buf = bytearray(rng.choice(seeds))
        i = rng.randrange(len(buf))
        if op == 0:
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[i] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif op == 2 and i + 4 <= len(buf):
            buf[i:i + 4] = struct.pack(">I", rng.choice((0, 1, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF, 1700, 40000)))
        elif op == 3:
            del buf[i:i + rng.randint(1, 64)]
        elif op == 4:
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        elif op == 5:
            other = rng.choice(seeds)
            j = rng.randrange(len(other))
            buf[i:] = other[j:j + rng.randint(1, 256)] + buf[i:]
        else:
            del buf[rng.randrange(len(buf)):]
    return fix_png_crcs(bytes(buf[:max_len])) if rng.random() < 0.7 else bytes(buf[:max_len])


# ----------------------------------------------------------------------------- engines


def child_atheris(args) -> None:
    """Runs under libFuzzer; exits by itself at the deadline (libFuzzer's own end skips Python's atexit)."""
    import atheris

    with atheris.instrument_imports(include=["PIL", "trtmatte"]):
        from PIL import Image, ImageFile, ImageOps, TiffImagePlugin  # noqa: F401 - instrumented now

        Image.init()  # every format plugin, imported (so instrumented) inside this block
        import trtmatte.media.image  # noqa: F401
        import trtmatte.runtime.matter  # noqa: F401
        import trtmatte.runtime.ort_session  # noqa: F401
    out = Path(args.out)
    target = Target(Path(args.graph), out, args.max_pixels)
    deadline = time.monotonic() + args.seconds
    runs = args.runs

    def one_input(data: bytes) -> None:
        target(data)
        if time.monotonic() > deadline or (runs and target.tried >= runs):
            target.flush()
            os._exit(0)

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        return fix_png_crcs(atheris.Mutate(data, max_size))

    libfuzzer = [sys.argv[0], str(out / "corpus"), f"-max_total_time={int(args.seconds) + 60}",
                 f"-timeout={args.input_timeout}", f"-rss_limit_mb={args.rss_limit_mb}", f"-max_len={args.max_len}",
                 f"-artifact_prefix={out / 'crashes'}{os.sep}", f"-seed={args.seed}", "-print_final_stats=1"]
    atheris.Setup(libfuzzer, one_input, custom_mutator=mutator)
    atheris.Fuzz()


def run_random(args, out: Path, seeds: list[Path]) -> dict:
    """In-process havoc mutation of the seeds: bounded, reproducible (--seed), not coverage-guided."""
    target = Target(Path(args.graph), out, args.max_pixels)
    rng = random.Random(args.seed)
    corpus = [p.read_bytes() for p in seeds]
    deadline = time.monotonic() + args.seconds
    for data in corpus:
        target(data)
    while time.monotonic() < deadline and not (args.runs and target.tried >= args.runs):
        target(random_mutation(rng.choice(corpus), rng, corpus, args.max_len))
    target.flush()
    return target.summary()


def run_atheris(args, out: Path) -> tuple[dict, int, str]:
    """The fuzzer in a child process (a hard crash kills the child, not this report)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--out", str(out), "--graph", str(args.graph),
           "--seconds", str(args.seconds), "--runs", str(args.runs or 0), "--seed", str(args.seed),
           "--max-len", str(args.max_len), "--max-pixels", str(args.max_pixels),
           "--input-timeout", str(args.input_timeout), "--rss-limit-mb", str(args.rss_limit_mb)]
    log = out / "libfuzzer.log"
    with open(log, "w") as sink:
        code = subprocess.run(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO).returncode
    stats = json.loads((out / "stats.json").read_text()) if (out / "stats.json").is_file() else {}
    text = log.read_text(errors="replace")
    tail = ""
    if code != 0:  # a hard crash, an out-of-memory or a timeout: libFuzzer says which and saves the input
        found = re.findall(r"^(==\d+== ERROR: libFuzzer: .*|.*(?:crash|timeout|oom|leak)-[0-9a-f]+.*)$", text, re.M)
        tail = "\n".join(found[-5:]) or "\n".join(text.splitlines()[-20:])
    cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)/", text)
    if cov:
        stats["python_coverage_edges"], stats["features"], stats["corpus_size"] = map(int, cov[-1])
    return stats, code, tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="See tests/fuzz/fuzz_decode_matte.py's docstring.")
    parser.add_argument("--seconds", type=float, default=120.0, help="fuzzing time (default 120)")
    parser.add_argument("--runs", type=int, default=0, help="stop after this many inputs (default: time only)")
    parser.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto",
                        help="atheris (coverage-guided; default when installed) or random (havoc mutation)")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "trtmatte-fuzz"),
                        help="work folder: seeds, corpus, crashes/, stats.json, the cached graph")
    parser.add_argument("--graph", help="exported whole-pipeline graph to run (default: TinyMatting, exported once)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-len", type=int, default=65536, help="longest input in bytes")
    parser.add_argument("--max-pixels", type=int, default=MAX_PIXELS)
    parser.add_argument("--input-timeout", type=int, default=30, help="seconds one input may take before it is a hang")
    parser.add_argument("--rss-limit-mb", type=int, default=4096)
    parser.add_argument("--json", help="also write the summary here")
    parser.add_argument("--replay", metavar="FILE", help="run one saved input and print what happens")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = Path(args.out)

    if args.child:
        child_atheris(args)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    try:
        args.graph = str(Path(args.graph).resolve()) if args.graph else str(tiny_graph(out))
    except Exception as exc:
        print(f"fuzz: cannot prepare the graph: {exc}", file=sys.stderr)
        return 2
    if args.replay:
        target = Target(Path(args.graph), out / "replay", args.max_pixels)
        target(Path(args.replay).read_bytes())
        print(json.dumps(target.summary(), indent=1))
        return 1 if target.crashes else 0

    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "random"
            print("atheris is not installed (pip install atheris): havoc mutation instead, not coverage-guided")
    for stale in ("stats.json", "corpus", "crashes", "slowest.bin"):
        path = out / stale
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    seeds = make_seeds(out / "seeds")
    shutil.copytree(out / "seeds", out / "corpus")
    print(f"fuzzing read_rgb + Matter ({args.graph}) with {engine} for {args.seconds:g} s"
          f"{f' or {args.runs} inputs' if args.runs else ''}; {len(seeds)} seeds; work folder {out}", flush=True)
    code, tail = 0, ""
    if engine == "atheris":
        stats, code, tail = run_atheris(args, out)
    else:
        stats = run_random(args, out, seeds)
    from importlib import metadata

    summary = {"engine": engine, "coverage_guided": engine == "atheris", "graph": args.graph,
               "seeds": len(seeds), "max_pixels": args.max_pixels, "seed": args.seed,
               "versions": {d: _version(metadata, d) for d in ("trtmatte", "pillow", "onnxruntime", "numpy", "atheris")},
               **stats}
    if code != 0:
        summary["hard_crash"] = {"exit_code": code, "libfuzzer": tail, "artifacts": sorted(
            p.name for p in (out / "crashes").glob("*-*"))}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))

    print(f"inputs tried: {stats.get('tried', '?')} in {stats.get('seconds', '?')} s "
          f"({engine}{', Python coverage edges ' + str(stats['python_coverage_edges']) if 'python_coverage_edges' in stats else ''})")
    print(f"decoded: {stats.get('decoded', '?')}, matted: {stats.get('matted', '?')}, "
          f"one-line errors: {sum(stats.get('errors', {}).values())} of {stats.get('error_kinds', '?')} kinds; "
          f"slowest input {stats.get('slowest_input_s', '?')} s")
    for kind, count in list(stats.get("errors", {}).items())[:25]:
        print(f"  {count:>7}  {kind}")
    crashes = stats.get("crashes", {})
    for kind, entry in crashes.items():
        print(f"CRASH x{entry['count']}: {kind}\n  reproducer: {entry['reproducer']}")
    if code != 0:
        print(f"HARD CRASH (fuzzer exit {code}):\n{tail}")
    print(f"crashes: {len(crashes) + (1 if code else 0)} kind(s); summary: {out / 'summary.json'}")
    return 1 if crashes or code else 0


def _version(metadata, dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
