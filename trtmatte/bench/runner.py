"""Time a session: warm-up, N timed runs (or a duration), the GPU split, pipelined throughput and
the pinned-vs-pageable transfer comparison, as one labelled result dict (:mod:`.schema`)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import TrtmatteError
from .environment import machine, versions
from .schema import SCHEMA_ID, validate
from .stats import latency_stats

PAPER_SECONDS = 0.39  # Zhong et al., CVPR 2019: one 800x800 image on their GPU
PAPER_SIZE = (800, 800)


@dataclass
class BenchConfig:
    height: int = 800
    width: int = 800
    batch: int = 1
    runs: int = 20
    duration_s: float | None = None  # run until this much time has passed instead of ``runs``
    warmup: int = 3
    pipeline_images: int = 0  # >0: also time the pipelined mode over this many images
    transfers: bool = False  # GPU: pinned vs pageable bandwidth (needs cuda-python)
    seed: int = 0


def make_images(config: BenchConfig) -> np.ndarray:
    """Random RGB frames: matting cost does not depend on content, only on size."""
    rng = np.random.default_rng(config.seed)
    return rng.integers(0, 256, (config.batch, config.height, config.width, 3), dtype=np.uint8)


def make_trimaps(config: BenchConfig) -> np.ndarray:
    """A trimap per frame for trimap models: a centred ellipse (foreground) on background with an
    unknown band each way, 16 px (less on small frames, so some foreground is left). The cost does
    not depend on it either (the known-region enforcement is a per-pixel blend), but a plausible
    trimap keeps the model on the inputs it was made for."""
    from ..trimap import from_masks

    y, x = np.ogrid[:config.height, :config.width]
    inside = ((y - config.height / 2) / (config.height / 3)) ** 2 + ((x - config.width / 2) / (config.width / 4)) ** 2 < 1
    band = min(16, max(1, min(config.height, config.width) // 16))
    return np.repeat(from_masks(inside, ~inside, band)[None], config.batch, axis=0)


def make_batch(session, config: BenchConfig):
    """The frames, with their trimaps when ``session`` needs them."""
    from ..runtime.session import Batch

    images = make_images(config)
    return Batch(images, make_trimaps(config) if getattr(session, "needs_trimap", False) else None)


def _timed_runs(session, batch, config: BenchConfig):
    samples, splits = [], []
    start = time.perf_counter()
    while True:
        _, timing = batch.call(session.run_timed)
        samples.append(timing.total_s)
        if timing.compute_s is not None:
            splits.append((timing.h2d_s, timing.compute_s, timing.d2h_s))
        elapsed = time.perf_counter() - start
        if config.duration_s is not None:
            if elapsed >= config.duration_s:
                break
        elif len(samples) >= config.runs:
            break
    return samples, splits, elapsed


def _pipelined(session, batch, config: BenchConfig, serial_s: float, split: dict | None) -> dict:
    from ..runtime.pipelined import Pipeline, as_submitter

    submitter = as_submitter(session)
    frames = [batch] * config.pipeline_images
    list(Pipeline(submitter).run(frames[: max(2, submitter.contexts)]))  # warm every context
    pipe = Pipeline(submitter)
    results = list(pipe.run(frames))
    failed = [r for r in results if not r.ok]
    if failed:
        raise TrtmatteError(f"pipelined run failed on item {failed[0].index}: {failed[0].error}")
    per_image = pipe.stats.wall_s / (len(frames) * config.batch)
    out = {"images": len(frames) * config.batch, "slots": submitter.contexts, "wall_s": pipe.stats.wall_s,
           "images_per_s": 1.0 / per_image, "serial_images_per_s": config.batch / serial_s,
           "compute_bound_images_per_s": None, "ratio_to_compute_bound": None, "transfer_hidden_fraction": None}
    if split:
        compute = split["compute"]["mean"] / config.batch
        transfers = (split["h2d"]["mean"] + split["d2h"]["mean"]) / config.batch
        out["compute_bound_images_per_s"] = 1.0 / compute
        out["ratio_to_compute_bound"] = compute / per_image
        if transfers > 0:
            # how much of the serial transfer time no longer adds to the per-image time
            out["transfer_hidden_fraction"] = float(np.clip((serial_s / config.batch - per_image) / transfers, 0.0, 1.0))
    return out


def measure_transfers(sizes: list[tuple[str, int]], repeats: int = 10) -> dict:
    """H2D and D2H bandwidth from pinned and from pageable host memory, through the cuda-python layer."""
    try:
        from ..runtime.cuda import CudaRuntime

        cuda = CudaRuntime()
    except TrtmatteError as exc:
        return {"skipped": str(exc)}
    rows = []
    stream = cuda.stream()
    t0, t1 = cuda.event(), cuda.event()
    for what, nbytes in sizes:
        dev = cuda.device_buffer(nbytes)
        pinned = cuda.pinned(nbytes)
        pageable = np.ones(nbytes, np.uint8)
        row = {"what": what, "bytes": nbytes}
        for direction, copy in (("h2d", lambda d, h: cuda.copy_h2d(d, h, nbytes, stream)),
                                ("d2h", lambda d, h: cuda.copy_d2h(h, d, nbytes, stream))):
            for kind, host_ptr in (("pinned", pinned.ptr), ("pageable", pageable.ctypes.data)):
                copy(dev.ptr, host_ptr)  # warm
                stream.synchronize()
                t0.record(stream)
                for _ in range(repeats):
                    copy(dev.ptr, host_ptr)
                t1.record(stream)
                t1.synchronize()
                seconds = t0.elapsed_ms(t1) / 1e3 / repeats
                row[f"{direction}_{kind}_GBps"] = nbytes / seconds / 1e9
        rows.append(row)
        dev.close()
        pinned.close()
    name = cuda.device_name()
    for obj in (t0, t1, stream):
        obj.close()
    return {"device": name, "sizes": rows}


def run_bench(session, config: BenchConfig, *, weights_note: str | None = None, notes: list[str] | None = None,
              log: Callable[[str], None] = lambda m: None) -> dict:
    """Benchmark ``session`` (any MattingSession) and return a result that follows the schema."""
    if config.batch < 1 or config.runs < 1 or config.warmup < 0:
        raise TrtmatteError("--batch and --runs must be at least 1 and --warmup at least 0")
    batch = make_batch(session, config)
    info = session.info
    size = f"{config.width}x{config.height}"
    label = f"{info.label}, {size}, batch {config.batch}"
    log(f"bench: {label}; warm-up {config.warmup} run(s)")
    for _ in range(config.warmup):
        batch.call(session.run)
    samples, splits, elapsed = _timed_runs(session, batch, config)
    stats = latency_stats(samples)
    split = None
    if splits:
        h2d, compute, d2h = zip(*splits)
        split = {"h2d": latency_stats(h2d), "compute": latency_stats(compute), "d2h": latency_stats(d2h)}
    per_image = stats["mean"] / config.batch
    comparable = (config.height, config.width) == PAPER_SIZE
    notes = list(notes or [])
    if not comparable:
        notes.append(f"input {size} is not the paper's 800x800: the ratio to 0.39 s is not a like-for-like comparison")
    if batch.trimap is not None:
        notes.append("trimap model: fed a synthetic ellipse trimap per frame; the paper figure is Late Fusion's")
    if weights_note and "random" in weights_note:
        notes.append("weights are randomly initialised: the timing is real, the mattes are meaningless")
    graph_errors = list(getattr(session, "graph_errors", []))
    result = {
        "schema": SCHEMA_ID, "label": label, "session": info.to_dict(), "weights": weights_note,
        "input": {"height": config.height, "width": config.width, "batch": config.batch},
        "versions": versions(), "machine": machine(), "warmup": config.warmup, "runs": len(samples),
        "duration_s": float(elapsed), "latency_s": stats, "samples_s": [float(s) for s in samples],
        "per_image_s": per_image, "images_per_s": 1.0 / per_image, "split_s": split,
        "paper": {"seconds_per_image": PAPER_SECONDS, "size": "800x800", "speedup": PAPER_SECONDS / per_image,
                  "comparable": comparable},
        "pipelined": None, "transfers": {"skipped": "not requested (--transfers)"},
        "graphs": {"enabled": bool(getattr(session, "use_graphs", False)), "errors": graph_errors},
        "notes": notes,
    }
    if config.pipeline_images:
        log(f"bench: pipelined over {config.pipeline_images} batch(es)")
        result["pipelined"] = _pipelined(session, batch, config, stats["mean"], split)
    if config.transfers:
        frame = config.height * config.width * 3
        result["transfers"] = measure_transfers([(f"{size}x3 uint8 frame", frame), ("64 MiB buffer", 64 << 20)])
    return validate(result)


def summary_lines(result: dict) -> list[str]:
    """The human-readable report `trtmatte bench` prints."""
    s, ms = result["latency_s"], 1e3
    lines = [f"{result['label']}",
             f"  weights: {result['weights'] or 'from the graph/engine'}",
             f"  latency per call ({result['runs']} runs after {result['warmup']} warm-up): "
             f"mean {s['mean'] * ms:.2f} ms, p50 {s['p50'] * ms:.2f}, p90 {s['p90'] * ms:.2f}, "
             f"p95 {s['p95'] * ms:.2f}, p99 {s['p99'] * ms:.2f}, max {s['max'] * ms:.2f} ms",
             f"  throughput: {result['images_per_s']:.2f} images/s ({result['per_image_s'] * ms:.2f} ms per image)"]
    if result["split_s"]:
        sp = result["split_s"]
        lines.append(f"  split (CUDA events, mean): H2D {sp['h2d']['mean'] * ms:.3f} ms, compute "
                     f"{sp['compute']['mean'] * ms:.3f} ms, D2H {sp['d2h']['mean'] * ms:.3f} ms")
    p = result["paper"]
    lines.append(f"  vs the paper's 0.39 s per 800x800 image: {p['speedup']:.1f}x faster"
                 + ("" if p["comparable"] else " (different input size: not like for like)"))
    if result["pipelined"]:
        pl = result["pipelined"]
        line = f"  pipelined ({pl['slots']} slot(s), {pl['images']} images): {pl['images_per_s']:.2f} images/s"
        if pl["compute_bound_images_per_s"]:
            line += (f" = {pl['ratio_to_compute_bound']:.2f} x 1/compute ({pl['compute_bound_images_per_s']:.2f}/s); "
                     f"transfer time hidden: {pl['transfer_hidden_fraction']:.0%}")
        lines.append(line)
    t = result["transfers"]
    if "sizes" in t:
        for row in t["sizes"]:
            lines.append(f"  {row['what']} on {t['device']}: H2D pinned {row['h2d_pinned_GBps']:.1f} GB/s vs pageable "
                         f"{row['h2d_pageable_GBps']:.1f}; D2H pinned {row['d2h_pinned_GBps']:.1f} vs pageable "
                         f"{row['d2h_pageable_GBps']:.1f}")
    elif not t["skipped"].startswith("not requested"):
        lines.append(f"  transfers: skipped ({t['skipped']})")
    if result["graphs"]["errors"]:
        lines.append(f"  CUDA graphs: capture failed, ran eagerly ({result['graphs']['errors'][0]})")
    lines += [f"  note: {n}" for n in result["notes"]]
    return lines
