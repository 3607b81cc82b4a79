"""``trtmatte matte ... --ray [ADDRESS|local]``: the flags, and the command's plan handed to a
:class:`~trtmatte.ray.ray_job.RayMatteJob` (trtmatte/ray/). The command (matte_cmd.py) plans and
checks as without Ray, then hands over here. Nothing here imports Ray until a run starts, so
``--help`` works without it."""
from __future__ import annotations

import argparse
import functools
import os
import sys

from ..errors import TrtmatteError
from .model_flags import open_matter

CPU_THREADS_PER_ACTOR = 4  # a cluster's CPU actors without --threads: 4 cores each


def add_ray_arguments(group) -> None:
    group.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS|local",
                       help="run on a Ray cluster (HOST:PORT, ray://HOST:PORT or auto) or, with local or no value, "
                            "on a Ray started here; outputs that exist are skipped (docs/scale-out.md)")
    group.add_argument("--ray-actors", type=int, metavar="N",
                       help="--ray: actors, each holding one model (default: one per GPU with --device cuda; "
                            f"else local: 1, a cluster: one per {CPU_THREADS_PER_ACTOR} CPUs or --threads)")


def _silent(message: str) -> None:
    """Actors' Matter log (engine cache lines): the driver prints the backend once instead."""


def plan_actors(args: argparse.Namespace, resources: dict, local: bool) -> tuple[int, float, float, int | None]:
    """(actors, CPUs per actor, GPUs per actor, threads per actor) from the flags and the
    cluster's resources."""
    cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
    if args.ray_actors is not None and args.ray_actors < 1:
        raise TrtmatteError(f"--ray-actors must be at least 1, got {args.ray_actors}")
    if args.device == "cuda":  # --ray-actors N on an autoscaling cluster: pending actors add GPU workers
        if gpus < 1 and not args.ray_actors:
            raise TrtmatteError("--device cuda but the Ray cluster has no GPUs now: add GPU workers, or give "
                                "--ray-actors N for an autoscaling cluster to add them")
        return args.ray_actors or int(gpus), 1.0, 1.0, args.threads
    per_actor = args.threads or (cpus if local else CPU_THREADS_PER_ACTOR)
    actors = args.ray_actors or (1 if local else max(1, int(cpus // per_actor)))
    cpus_each = max(1.0, min(cpus, cpus / actors if args.threads is None else args.threads))
    threads = args.threads or max(1, int(cpus_each))  # actors sharing a node must not each take every core
    return actors, cpus_each, 0.0, threads


def matte_on_ray(args: argparse.Namespace, items, options, auto_options) -> int:
    """Run the planned ``items`` on Ray; print as the command does; the exit code."""
    from ..ray.connect import LOCAL, ray_cluster
    from ..ray.ray_job import RayMatteJob

    if args.watch:
        raise TrtmatteError("--watch and --ray do not go together: watch a folder without --ray, or run --ray "
                            "again later (outputs that exist are skipped)")
    local = args.ray == LOCAL
    with ray_cluster(args.ray, num_cpus=os.cpu_count(), progress=not args.no_progress) as ray:
        actors, cpus, gpus, threads = plan_actors(args, ray.cluster_resources(), local)
        actor_args = argparse.Namespace(**{**vars(args), "threads": threads})
        matter = functools.partial(open_matter, actor_args, _silent, auto_trimap=auto_options,
                                   trimap_model=args.trimap_model)

        def report(outcome):
            if outcome.status == "failed":
                print(f"trtmatte: error: {outcome.error}", file=sys.stderr, flush=True)
            for note in outcome.notes:
                print(f"note: {note}", flush=True)

        def backend(label):
            print(f"backend: {label}; {actors} Ray actor{'s' if actors > 1 else ''} "
                  f"({cpus:g} CPU{f', {gpus:g} GPU' if gpus else ''} each)", flush=True)

        job = RayMatteJob(matter, options, actors=actors, cpus_per_actor=cpus, gpus_per_actor=gpus,
                          trimaps_given=bool(args.trimap) and args.trimap != "auto", report=report, backend=backend)
        summary = job.run(items)
    print(summary.line())
    return summary.exit_code
