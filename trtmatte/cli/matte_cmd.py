from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .base import Command
from .model_flags import (add_auto_trimap_arguments, add_model_arguments, add_trimap_model_argument,
                          auto_trimap_options, open_matter)


class Matte(Command):
    """Matte images, folders, globs and videos: alpha mattes, cutouts or composites.

    One input file: -o is the output file. Folders (recursive), globs and several inputs: -o is a
    folder that mirrors the input tree (NAME.png per image; videos keep their container). Without
    model flags the bundled demo model runs on the fastest backend here (see `trtmatte models`).
    A bad input is reported in one line and the rest go on; the exit code is 1 if any failed.
    Examples:
      trtmatte matte photo.jpg -o photo_alpha.png
      trtmatte matte photos/ -o cutouts/ --output-type rgba --skip-existing
      trtmatte matte 'shots/**/*.jpg' -o out/ --output-type composite --bg-color '#00ff00'
      trtmatte matte clip.mp4 -o clip_alpha.mp4 --smooth 0.5
      trtmatte matte photos/ -o out/ --weights ada.safetensors --trimap trimaps/
      trtmatte matte photos/ -o out/ --onnx ada.onnx --trimap auto --trimap-model lf_debug.onnx
    """

    name = "matte"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from ..compose import OUTPUT_TYPES
        from ..imageio import DEFAULT_MAX_PIXELS

        parser.add_argument("inputs", nargs="+", metavar="INPUT",
                            help="image or video files, folders (searched recursively) or globs (quote them)")
        parser.add_argument("-o", "--output", required=True, help="output file for one input, else a folder")
        out = parser.add_argument_group("outputs")
        out.add_argument("--output-type", default="alpha", choices=OUTPUT_TYPES,
                         help="alpha: 8-bit matte (default); rgba: cutout; fg: foreground colours; composite: over "
                              "--bg-color/--bg-image (rgba, fg and composite estimate foreground colours so edges "
                              "do not carry the old background)")
        out.add_argument("--bg-color", default="#ffffff", metavar="#RRGGBB",
                         help="composite background colour, #RRGGBB or R,G,B (default white)")
        out.add_argument("--bg-image", metavar="IMAGE", help="composite background image (resized to each input)")
        out.add_argument("--smooth", type=float, default=0.0, metavar="S",
                         help="videos: temporal smoothing of alpha, 0 (off, default) to 0.9 (see docs/video.md)")
        batch = parser.add_argument_group("batch")
        batch.add_argument("--ext", action="append", metavar="EXT",
                           help="only these suffixes in folders and globs, e.g. --ext jpg,png (default: all images "
                                "and videos)")
        batch.add_argument("--skip-existing", action="store_true", help="leave inputs whose output exists (resume)")
        batch.add_argument("--watch", action="store_true",
                           help="keep watching the input folders and matte files as they appear, until Ctrl-C")
        batch.add_argument("--jobs", type=int, default=2, metavar="N", help="decode and write threads (default 2)")
        batch.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                           help=f"refuse larger images (default {DEFAULT_MAX_PIXELS:,}; 0: no limit)")
        batch.add_argument("--no-progress", action="store_true", help="no progress bar")
        add_model_arguments(parser)
        trimap = parser.add_argument_group("trimap models (adamatting)")
        trimap.add_argument("--trimap", metavar="PATH_OR_DIR|auto",
                            help="the trimap of one image, or a folder of trimaps named like the images (same path "
                                 "below the input folder, any image suffix); 0 background, 128 unknown, 255 foreground "
                                 "(values below 85 read as 0, above 170 as 255, else 128). auto: derived by Late Fusion")
        add_trimap_model_argument(trimap)
        add_auto_trimap_arguments(trimap)

    def run(self, args: argparse.Namespace) -> int:
        from ..compose import Background, parse_color
        from ..errors import TrtmatteError
        from ..fileio import check_writable
        from ..imageio import read_rgb
        from ..jobs import MatteJob, MatteJobOptions, plan_work
        from ..jobs.inputs import single_target

        if args.jobs < 1:
            raise TrtmatteError(f"--jobs must be at least 1, got {args.jobs}")
        if not 0.0 <= args.smooth < 1.0:
            raise TrtmatteError(f"--smooth must be in [0, 1), got {args.smooth}")
        background = Background(parse_color(args.bg_color),
                                read_rgb(args.bg_image) if args.bg_image else None)
        auto = args.trimap == "auto"
        trimap = None if auto else args.trimap
        if args.trimap_model and not auto:
            raise TrtmatteError("--trimap-model is the Late Fusion model of --trimap auto: add --trimap auto")
        auto_options = auto_trimap_options(args) if auto else None
        if args.watch:
            items = None
            for folder in args.inputs:
                if not Path(folder).is_dir():
                    raise TrtmatteError(f"--watch needs folders to watch, got {folder}")
        else:
            # bad -o or --trimap: one line, before the model
            items = plan_work(args.inputs, args.output, args.output_type, args.ext, trimap)
        if single_target(args.inputs, Path(args.output)):
            check_writable(args.output)  # before minutes of inference, not after
        options = MatteJobOptions(output_type=args.output_type, background=background,
                                  skip_existing=args.skip_existing, max_pixels=args.max_pixels or None,
                                  jobs=args.jobs, smooth=args.smooth)
        with open_matter(args, auto_trimap=auto_options, trimap_model=args.trimap_model) as matter:
            if matter.needs_trimap and trimap is None:
                raise TrtmatteError(f"{matter.info.variant} needs a trimap: give --trimap PATH_OR_DIR, or --trimap auto")
            if not matter.needs_trimap and trimap is not None:
                raise TrtmatteError(f"{matter.info.variant} is trimap-free: drop --trimap")
            print(f"backend: {matter.info.label}")
            if args.backend == "auto":
                print(f"auto: {matter.reason}")
            if args.watch:
                summary = self._watch(matter, options, args, trimap)
            else:
                summary = self._run(MatteJob, matter, options, items, progress=not args.no_progress)
        print(summary.line())
        return 1 if summary.failed else 0

    def _watch(self, matter, options, args, trimap):
        """Matte each batch of new files as it appears; Ctrl-C ends the watch (not an error)."""
        from ..jobs import MatteJob, Summary, watch

        total = Summary()
        print(f"watching {', '.join(args.inputs)} (Ctrl-C stops)", flush=True)
        try:
            for batch in watch(args.inputs, args.output, args.output_type, args.ext, trimap=trimap):
                total.merge(self._run(MatteJob, matter, options, batch, progress=not args.no_progress))
        except KeyboardInterrupt:
            print("watch stopped", flush=True)
        return total

    @staticmethod
    def _run(job_cls, matter, options, items, progress: bool):
        from tqdm import tqdm

        # disable=None: a bar on a terminal only, so logs and pipes get the lines, not the bar
        with tqdm(desc="matte", unit="img", disable=None if progress else True, file=sys.stderr,
                  dynamic_ncols=True) as bar:
            def report(outcome):
                if outcome.status == "failed":
                    bar.write(f"trtmatte: error: {outcome.error}", file=sys.stderr)
                for note in outcome.notes:
                    bar.write(f"note: {note}")
                bar.update(1)

            frames = tqdm(desc="frames", unit="frame", disable=None if progress else True, file=sys.stderr,
                          dynamic_ncols=True, leave=False)  # a video's own bar (frames/s)
            def frame_progress(done):
                if done < frames.n:  # the next video
                    frames.reset()
                frames.update(done - frames.n)

            with frames:
                return job_cls(matter, options, report, frame_progress).run(items)
