from __future__ import annotations

import argparse

from .base import Command


class Calibset(Command):
    """Compose a training/calibration set: I = alpha*F + (1-alpha)*B, as matting datasets are built.

    Each foreground is composited over several backgrounds with a random flip, a rotation within
    +-15 degrees and a square crop (512 or 800 px) centred on a transition pixel; the longer side
    is capped at 800. Writes images/, alphas/, manifest.jsonl (provenance of every sample) and
    calibset.json. The same --seed gives the same set. Examples:
      trtmatte calibset --fg fg/ --alpha alpha/ --bg bg/ -n 512 -o calib/
      trtmatte calibset --synthetic -n 64 -o calib/            (procedural foregrounds over
                                                                scikit-image's bundled photos)
      trtmatte calibset --synthetic --split heldout --seed 1 -n 32 -o heldout/
    """

    name = "calibset"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        src = parser.add_argument_group("sources")
        src.add_argument("--fg", help="foreground directory (RGB with --alpha, or RGBA)")
        src.add_argument("--alpha", help="alpha directory, files named like the foregrounds (single-channel)")
        src.add_argument("--bg", help="background directory (default: scikit-image's bundled photos, see --split)")
        src.add_argument("--synthetic", action="store_true",
                         help="procedural foregrounds (soft, hair-like, semi-transparent edges) + scikit-image's logo")
        src.add_argument("--synthetic-count", type=int, default=16, help="procedural foregrounds (default 16)")
        src.add_argument("--fg-size", type=int, default=1024, help="procedural foreground size in px (default 1024)")
        src.add_argument("--split", choices=["calib", "heldout"], default="calib",
                         help="which disjoint list of bundled backgrounds to use without --bg (default calib)")
        parser.add_argument("-n", "--count", type=int, default=512, help="composites to write (default 512)")
        parser.add_argument("-o", "--output", required=True, help="directory to create")
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument("--crop", type=int, nargs="+", default=[512, 800], help="square crop sizes (default 512 800)")
        parser.add_argument("--max-side", type=int, default=800, help="cap on the longer side (default 800)")
        parser.add_argument("--max-angle", type=float, default=15.0, help="rotation range in degrees (default 15)")
        parser.add_argument("--no-flip", action="store_true", help="no horizontal flips")

    def run(self, args: argparse.Namespace) -> int:
        from tqdm import tqdm

        from ..data import CalibsetOptions, build_calibset
        from ..data.sources import directory_backgrounds, directory_foregrounds
        from ..data.synthetic import skimage_backgrounds, synthetic_foregrounds
        from ..errors import TrtmatteError

        options = CalibsetOptions(count=args.count, crop_sizes=tuple(args.crop), max_side=args.max_side,
                                  max_angle=args.max_angle, flip=not args.no_flip, seed=args.seed)
        options.check()
        if args.synthetic == bool(args.fg):
            raise TrtmatteError("give either --fg DIR (with --alpha DIR unless RGBA) or --synthetic")
        if args.synthetic:
            if args.synthetic_count < 1 or args.fg_size < 32:
                raise TrtmatteError("--synthetic-count must be >= 1 and --fg-size >= 32")
            foregrounds = synthetic_foregrounds(args.synthetic_count, args.fg_size, args.seed)
            fg_source = {"kind": "synthetic", "count": args.synthetic_count, "size": args.fg_size, "logo": True}
        else:
            foregrounds = directory_foregrounds(args.fg, args.alpha)
            fg_source = {"kind": "directory", "fg": args.fg, "alpha": args.alpha}
        if args.bg:
            backgrounds = directory_backgrounds(args.bg)
            bg_source = {"kind": "directory", "bg": args.bg}
        else:
            backgrounds = skimage_backgrounds(args.split)
            bg_source = {"kind": "scikit-image", "split": args.split, "names": [b.name for b in backgrounds]}
        with tqdm(total=options.count, desc="composites", unit="img") as bar:
            out = build_calibset(foregrounds, backgrounds, args.output, options,
                                 sources={"foregrounds": fg_source, "backgrounds": bg_source},
                                 progress=lambda done: bar.update(done - bar.n))
        print(f"wrote {options.count} composites ({len(foregrounds)} foregrounds x {len(backgrounds)} backgrounds) "
              f"to {out}")
        return 0
