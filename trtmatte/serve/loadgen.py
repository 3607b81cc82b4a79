"""Drive a served trtmatte model with N concurrent clients (tritonclient over HTTP): latencies,
throughput and every α, for the load test and benchmarks/bench_serve.py.

Triton's own load generator, perf_analyzer, is the tool for production sizing where it is
installed (docs/serving.md has the equivalent command); this is the same closed loop -- each of
N workers sends its next request when the last one is answered -- in a few lines of Python.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .._lazy import require


@dataclass
class LoadResult:
    concurrency: int
    latencies_s: list[float] = field(default_factory=list)  # per request, in completion order
    wall_s: float = 0.0
    images: int = 0
    alphas: dict[int, np.ndarray] = field(default_factory=dict)  # request index -> alpha (keep_outputs)
    errors: dict[int, str] = field(default_factory=dict)

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(np.array(self.latencies_s) * 1e3, q)) if self.latencies_s else float("nan")

    @property
    def throughput(self) -> float:
        """Images per second over the whole run."""
        return self.images / self.wall_s if self.wall_s else 0.0

    def summary(self) -> dict:
        return {"concurrency": self.concurrency, "requests": len(self.latencies_s), "errors": len(self.errors),
                "p50_ms": self.percentile_ms(50), "p90_ms": self.percentile_ms(90), "p99_ms": self.percentile_ms(99),
                "images_per_s": self.throughput, "wall_s": self.wall_s}


def run_load(url: str, images: list[np.ndarray], concurrency: int, requests: int | None = None,
             model: str = "trtmatte", keep_outputs: bool = False, timeout_s: float = 600.0) -> LoadResult:
    """Send ``requests`` (default: one per image) requests, request i carrying ``images[i % len]``
    (uint8 [H, W, 3]), from ``concurrency`` workers, each with its own connection."""
    httpclient = require("tritonclient.http", "driving a Triton server")
    total = len(images) if requests is None else requests
    result = LoadResult(concurrency)
    lock = threading.Lock()
    next_index = iter(range(total))

    def worker() -> None:
        client = httpclient.InferenceServerClient(url, connection_timeout=timeout_s, network_timeout=timeout_s)
        try:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                image = images[i % len(images)][None]
                request = httpclient.InferInput("image", list(image.shape), "UINT8")
                request.set_data_from_numpy(image)
                output = httpclient.InferRequestedOutput("alpha", binary_data=True)
                start = time.perf_counter()
                try:
                    alpha = client.infer(model, [request], outputs=[output]).as_numpy("alpha")[0]
                except Exception as exc:  # tritonclient's InferenceServerException and transport errors
                    with lock:
                        result.errors[i] = str(exc)
                    continue
                latency = time.perf_counter() - start
                with lock:
                    result.latencies_s.append(latency)
                    result.images += 1
                    if keep_outputs:
                        result.alphas[i] = alpha
        finally:
            client.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    result.wall_s = time.perf_counter() - start
    return result
