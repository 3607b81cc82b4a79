"""Batch jobs over many inputs, the work behind ``trtmatte matte`` on folders, globs and videos:
``inputs`` turns what the user named into (source, target) work items, lazily, under the output
rules of ``outputs`` (no input is ever overwritten; checked before any inference); ``matte_job``
runs them through a :class:`~trtmatte.runtime.matter.Matter` with decoding ahead, writing behind,
one line per failure and a summary (``outcomes``); ``watching`` feeds it files as they appear;
``pipes`` mattes stdin to stdout (one image, or raw RGB24 frames); ``video_job`` mattes a video
(``jobs.matte_video(matter, src, dst)``)."""
from .inputs import WorkItem, check_output, plan_work
from .matte_job import MatteJob, MatteJobOptions
from .outcomes import JobInterrupted, Outcome, Summary
from .video_job import VideoReport, matte_video
from .watching import Watch, watch

__all__ = ["JobInterrupted", "MatteJob", "MatteJobOptions", "Outcome", "Summary", "VideoReport", "Watch", "WorkItem",
           "check_output", "matte_video", "plan_work", "watch"]
