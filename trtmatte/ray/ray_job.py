"""``trtmatte matte`` on a Ray cluster: the same work items, the same files, the same outcomes.

The driver plans the work as the job does (trtmatte/jobs/inputs.py), reports planning failures and
outputs that already exist (a rerun resumes where the last one stopped) without sending them
anywhere, and puts the rest, as rows of paths, into a Ray dataset. A pool of actors, each holding
one Matter, runs :class:`~trtmatte.ray.actor.MatteFiles` over batches of rows: the job's own
decode-ahead/write-behind pipeline, every file written under a temporary name and renamed. Outcome
rows stream back to the driver, which reports each as the job does and sums them up.

Failures: an actor whose process dies (killed, its node lost) is restarted, on another node if
need be, and its unfinished batches run again (Ray Data's actor pools set ``max_restarts`` and
``max_task_retries`` to -1, unlimited). A batch
that ran again rewrites the same names (a rename replaces), so every output exists once; temporary
files a killed writer left are swept at the end.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import TrtmatteError
from ..jobs import JobInterrupted, MatteJobOptions, Outcome, Summary, WorkItem
from .actor import MatteFiles
from .listing import work_rows
from .sink import sweep_partials

MAX_BATCH = 16  # rows per batch: enough to keep an actor's pipeline full, few enough to spread a small job


def batch_size_for(rows: int, actors: int) -> int:
    """A few batches per actor (so a retried batch is a small part of the work), at most MAX_BATCH."""
    return max(1, min(MAX_BATCH, math.ceil(rows / (4 * max(1, actors)))))


class RayMatteJob:
    """``matter``: a Matter spec (trtmatte/ray/actor.py); ``options``: the job's options
    (``skip_existing`` is always on: outputs that exist are left, so a rerun resumes);
    ``actors`` Matter-holding actors of ``cpus_per_actor`` CPUs and ``gpus_per_actor`` GPUs each;
    ``report`` gets every outcome as it arrives, ``backend(label)`` the first actor's backend.
    ``actor``: the callable class (a subclass of MatteFiles can add behaviour)."""

    def __init__(self, matter: Any = None, options: MatteJobOptions | None = None, *, actors: int = 1,
                 cpus_per_actor: float = 1, gpus_per_actor: float = 0, batch_size: int | None = None,
                 trimaps_given: bool | None = None,
                 report: Callable[[Outcome], None] | None = None, backend: Callable[[str], None] | None = None,
                 actor: type = MatteFiles):
        self.matter, self.options = matter, options or MatteJobOptions()
        self.actors, self.cpus, self.gpus = actors, cpus_per_actor, gpus_per_actor
        self.batch_size = batch_size
        self.trimaps_given = trimaps_given
        self.report = report or (lambda outcome: None)
        self.backend = backend or (lambda label: None)
        self.actor = actor

    def run(self, items: Iterable[WorkItem]) -> Summary:
        """Run on the Ray this process is connected to (trtmatte.ray.connect.ray_cluster)."""
        import dataclasses

        import ray.data

        summary, start = Summary(), time.perf_counter()
        ready = [time.time()]  # when the first actor had its model open (wall clock: actors are other processes)

        def emit(outcome: Outcome) -> None:
            summary.add(outcome)
            self.report(outcome)

        rows = []
        for what, value in work_rows(items, skip_existing=True):
            if what == "run":
                rows.append(value)
            else:
                emit(Outcome(value, what, value.error or (f"{value.source}: unsupported type"
                                                             if what == "unsupported" else "")))
        try:
            if rows:
                size = self.batch_size or batch_size_for(len(rows), self.actors)
                options = dataclasses.replace(self.options, skip_existing=False)  # the driver skipped them
                dataset = ray.data.from_items(rows, override_num_blocks=math.ceil(len(rows) / size))
                # Ray Data restarts a dead actor and retries its tasks (max_restarts=-1,
                # max_task_retries=-1 unless told otherwise): the fault tolerance we rely on.
                results = dataset.map_batches(
                    self.actor, batch_size=size, batch_format="numpy",
                    compute=ray.data.ActorPoolStrategy(size=self.actors),
                    fn_constructor_kwargs={"matter": self.matter, "options": options,
                                           "trimaps_given": self.trimaps_given},
                    num_cpus=self.cpus, num_gpus=self.gpus or None)
                said = False
                try:
                    for row in results.iter_rows():
                        if not said:
                            self.backend(str(row["backend"]))
                            said = True
                        ready.append(float(row.get("ready_at") or ready[0]))
                        emit(outcome_of(row))
                except Exception as exc:
                    raise trtmatte_error(exc) or exc
        except KeyboardInterrupt as exc:  # Ctrl-C / SIGTERM: the summary of what came back, as MatteJob does
            summary.seconds = time.perf_counter() - start
            raise JobInterrupted(summary) from exc
        finally:
            sweep_partials([row["target"] for row in rows if "://" not in row["target"]])
            # Like MatteJob's, the clock runs from an open model (the first actor's) to the last
            # output: Ray's start-up, scheduling and the actors' model loads are not the job's.
            summary.seconds = min(time.perf_counter() - start, time.time() - min(ready[1:] or ready))
        return summary


def outcome_of(row: dict) -> Outcome:
    """The job's Outcome from an actor's outcome row."""
    from ..jobs.inputs import kind_of

    source = Path(str(row["source"]))
    item = WorkItem(source=source, target=Path(str(row["target"])), kind=kind_of(source))
    notes = tuple(n for n in str(row.get("notes") or "").split("\n") if n)
    return Outcome(item, str(row["status"]), str(row["error"] or ""), int(row["frames"]), notes)


def trtmatte_error(error: BaseException) -> TrtmatteError | None:
    """The TrtmatteError an actor raised (a model that does not open, a trimap model without
    trimaps), out of the layers Ray wraps it in, so the command says it in one line; else None."""
    seen = set()
    stack = [error]
    while stack:
        exc = stack.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        if isinstance(exc, TrtmatteError):
            return exc
        stack += [exc.__cause__, exc.__context__, getattr(exc, "cause", None)]
    for line in str(error).splitlines():  # an actor's death message carries its exception as text
        if "TrtmatteError: " in line:
            return TrtmatteError(line.split("TrtmatteError: ", 1)[1].strip())
    return None
