from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path

from .base import Command
from .matte_progress import Progress, count_kinds
from .model_flags import (add_auto_trimap_arguments, add_model_arguments, add_trimap_model_argument,
                          auto_trimap_options, open_matter)


class Matte(Command):
    """Matte images, folders, globs and videos: alpha mattes, cutouts or composites.

    One input file: -o is the output file. Folders (recursive), globs and several inputs: -o is a
    folder that mirrors the input tree (NAME.png per image; videos keep their container). Without
    model flags the bundled demo model runs on the fastest backend here (see `trtmatte models`).
    `-` is stdin or stdout: one image (`cat a.jpg | trtmatte matte - -o - > alpha.png`), or raw RGB24
    frames with --raw WxH (FFmpeg pipes). -o is never an input: it is refused, or (a folder inside an
    input folder) left out of the inputs. A bad input is reported in one line and the rest go on.
    Exit codes: 0 all done, 1 a failure (or a bad argument), 2 usage, 130 Ctrl-C, 143 SIGTERM.
    Examples:
      trtmatte matte photo.jpg -o photo_alpha.png
      trtmatte matte photos/ -o cutouts/ --output-type rgba --skip-existing
      trtmatte matte 'shots/**/*.jpg' -o out/ --output-type composite --bg-color '#00ff00'
      trtmatte matte clip.mp4 -o clip_alpha.mp4 --smooth 0.5
      cat photo.jpg | trtmatte matte - -o - > alpha.png
      ffmpeg -i in.mp4 -f rawvideo -pix_fmt rgb24 - | trtmatte matte - --raw 1280x720 -o - | \
        ffmpeg -f rawvideo -pix_fmt gray -s 1280x720 -r 25 -i - alpha.mp4
      trtmatte matte photos/ -o out/ --weights ada.safetensors --trimap trimaps/
      trtmatte matte photos/ -o out/ --onnx ada.onnx --trimap auto --trimap-model lf_debug.onnx
    """

    name = "matte"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from ..compose import OUTPUT_TYPES
        from .ray_flags import add_ray_arguments
        from ..media.image import DEFAULT_MAX_PIXELS

        parser.add_argument("inputs", nargs="+", metavar="INPUT",
                            help="image or video files, folders (searched recursively) or globs (quote them)")
        parser.add_argument("-o", "--output", required=True,
                            help="output file for one input, else a folder; - for stdout (one PNG, or raw frames)")
        out = parser.add_argument_group("outputs")
        out.add_argument("--output-type", default="alpha", choices=OUTPUT_TYPES,
                         help="alpha: 8-bit matte (default); rgba: cutout; fg: foreground colours; composite: over "
                              "--bg-color/--bg-image (rgba, fg and composite estimate foreground colours so edges "
                              "do not carry the old background)")
        out.add_argument("--bg-color", default="#ffffff", metavar="COLOUR",
                         help="composite background colour: #RRGGBB, R,G,B or a name like green (default white)")
        out.add_argument("--bg-image", metavar="IMAGE", help="composite background image (resized to each input)")
        out.add_argument("--strict", action="store_true",
                         help="videos: frames decoded from corrupt packets fail the video (default: one warning "
                              "with their count)")
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
        batch.add_argument("--raw", metavar="WxH",
                           help="stdin is raw RGB24 frames of this size (ffmpeg -f rawvideo -pix_fmt rgb24 -); -o - "
                                "gets raw frames: gray (alpha), rgba, or rgb24 (fg, composite)")
        add_ray_arguments(batch)  # --ray [ADDRESS|local], --ray-actors N: ray_flags.py
        add_model_arguments(parser)
        trimap = parser.add_argument_group("trimap models (adamatting)")
        trimap.add_argument("--trimap", metavar="PATH_OR_DIR|auto",
                            help="the trimap of one image, or a folder of trimaps named like the images (same path "
                                 "below the input folder, any image suffix); 0 background, 128 unknown, 255 foreground "
                                 "(values below 85 read as 0, above 170 as 255, else 128). auto: derived by Late Fusion")
        add_trimap_model_argument(trimap)
        add_auto_trimap_arguments(trimap)

    def run(self, args: argparse.Namespace) -> int:
        from ..jobs import JobInterrupted

        # SIGTERM stops like Ctrl-C: no .part, a summary (signal handlers: the main thread only)
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminate) if main else None
        say = sys.stderr if args.output == "-" else sys.stdout  # stdout carries the picture alone
        try:
            with contextlib.redirect_stdout(sys.stderr) if say is sys.stderr else contextlib.nullcontext():
                return self._run_command(args, say)
        except JobInterrupted as exc:
            print(exc.summary.line(), file=say, flush=True)
            terminated = isinstance(exc.__cause__, Terminated)
            print(f"trtmatte: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
            return 143 if terminated else 130
        except Terminated:
            print("trtmatte: terminated", file=sys.stderr)
            return 143
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)

    def _run_command(self, args: argparse.Namespace, say) -> int:
        from ..compose import Background, as_background, foreground_compile_pending, parse_color
        from ..errors import TrtmatteError
        from ..jobs import MatteJobOptions, plan_work, watch
        from ..jobs.pipes import parse_size

        background = as_background(Path(args.bg_image)) if args.bg_image else Background(parse_color(args.bg_color))
        options = MatteJobOptions(output_type=args.output_type, background=background,
                                  skip_existing=args.skip_existing, max_pixels=args.max_pixels or None,
                                  jobs=args.jobs, smooth=args.smooth, strict=args.strict)
        auto = args.trimap == "auto"
        trimap = None if auto else args.trimap
        if args.trimap_model and not auto:
            raise TrtmatteError("--trimap-model is the Late Fusion model of --trimap auto: add --trimap auto")
        auto_options = auto_trimap_options(args) if auto else None
        # every argument and output rule: one line, before the model loads
        pipe = "-" in args.inputs or args.output == "-" or args.raw
        items = watcher = None
        if pipe:
            self._check_pipe(args, trimap)
            if args.raw:
                parse_size(args.raw)
        elif args.watch:
            watcher = watch(args.inputs, args.output, args.output_type, args.ext, trimap=trimap)
        else:
            items = plan_work(args.inputs, args.output, args.output_type, args.ext, trimap)
        if getattr(args, "ray", None):  # the same job on a Ray cluster, one Matter per actor
            from .ray_flags import matte_on_ray
            return matte_on_ray(args, items, options, auto_options)
        with open_matter(args, auto_trimap=auto_options, trimap_model=args.trimap_model) as matter:
            if matter.needs_trimap and trimap is None:
                raise TrtmatteError(f"{matter.info.variant} needs a trimap: give --trimap PATH_OR_DIR, or --trimap auto")
            if not matter.needs_trimap and trimap is not None:
                raise TrtmatteError(f"{matter.info.variant} is trimap-free: drop --trimap")
            print(f"backend: {matter.info.label}", file=say)
            if args.backend == "auto":
                print(f"auto: {matter.reason}", file=say)
            if args.output_type != "alpha" and foreground_compile_pending():
                print("note: pymatting compiles its foreground kernels on this first use (about a minute, once; "
                      "cached for later runs)", file=sys.stderr, flush=True)
            if pipe:
                return self._pipe(matter, args, options)
            if watcher is not None:
                summary = self._watch(matter, options, args, watcher, say)
            else:
                summary = self._run(matter, options, items, args, say)
        print(summary.line(), file=say)
        return summary.exit_code

    @staticmethod
    def _check_pipe(args, trimap) -> None:
        from ..errors import TrtmatteError
        from ..jobs.outputs import check_suffix, probe_writable
        from ..media.video import is_video

        if len(args.inputs) != 1:
            raise TrtmatteError("- (stdin) is one input alone: trtmatte matte - -o OUT (or -o -)")
        if args.watch or getattr(args, "ray", None):
            raise TrtmatteError("--watch and --ray take folders, not - (stdin/stdout)")
        if trimap is not None:
            raise TrtmatteError("pipes take no trimap file: use a trimap-free model, or --trimap auto")
        if args.raw and (args.inputs != ["-"] or args.output != "-"):
            raise TrtmatteError("--raw reads frames from stdin and writes them to stdout: trtmatte matte - --raw WxH -o -")
        if args.output != "-":
            check_suffix("-", args.output, args.output_type, video=False)
            probe_writable(args.output)
        elif is_video(args.inputs[0]):
            raise TrtmatteError(f"-o - writes one image: for {args.inputs[0]}, decode it to raw frames "
                                "(ffmpeg ... -f rawvideo -pix_fmt rgb24 -) and use --raw WxH")

    @staticmethod
    def _pipe(matter, args, options) -> int:
        from ..jobs import pipes
        from ..media.image import write_image

        stdout = sys.__stdout__.buffer if sys.__stdout__ is not None else sys.stdout.buffer
        if args.raw:
            width, height = pipes.parse_size(args.raw)
            frames = pipes.matte_raw(matter, sys.stdin.buffer, stdout, width, height, options.output_type,
                                     options.background, options.smooth)
            print(f"done {frames} frames ({width}x{height}, {pipes.RAW_PIXEL_FORMATS[options.output_type]} out)",
                  file=sys.stderr)
            return 0
        stdin = args.inputs[0] == "-"
        source = pipes.read_stream(sys.stdin.buffer) if stdin else args.inputs[0]
        picture = pipes.matte_one(matter, source, options.output_type, options.background, options.max_pixels,
                                  name="<stdin>" if stdin else None)
        if args.output == "-":
            pipes.write_stream(picture, stdout)
        else:
            write_image(args.output, picture)
        print("done 1", file=sys.stderr)
        return 0

    def _watch(self, matter, options, args, watcher, say):
        """Matte each batch of new files as it appears; Ctrl-C ends the watch (not an error)."""
        from ..jobs import JobInterrupted, MatteJob, Summary

        total = Summary()
        print(f"watching {', '.join(args.inputs)} (Ctrl-C stops)", file=say, flush=True)
        progress = Progress(None, not args.no_progress, say)
        try:
            for batch in watcher:
                job = MatteJob(matter, options, progress.report, progress.frame, retry=watcher.retry)
                total.merge(job.run(batch))
        except JobInterrupted as exc:
            total.merge(exc.summary)
            print("watch stopped", file=say, flush=True)
        except KeyboardInterrupt as exc:
            if isinstance(exc, Terminated):
                raise
            print("watch stopped", file=say, flush=True)
        finally:
            progress.close()
        return total

    @staticmethod
    def _run(matter, options, items, args, say):
        from ..jobs import MatteJob, plan_work

        enabled = not args.no_progress and sys.stderr.isatty()
        # a bar's total and ETA need the plan's length: counted from a second plan (names only)
        totals = count_kinds(plan_work(args.inputs, args.output, args.output_type, args.ext)) if enabled else None
        progress = Progress(totals, enabled, say)
        try:
            return MatteJob(matter, options, progress.report, progress.frame).run(items)
        finally:
            progress.close()


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so it stops the same way."""


def _terminate(signum, frame):
    raise Terminated()
