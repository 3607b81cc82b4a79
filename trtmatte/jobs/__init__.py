"""Batch jobs over many inputs, the work behind ``trtmatte matte`` on folders, globs and videos:
``inputs`` turns what the user named into (source, target) work items, lazily; ``matte_job`` runs
them through a :class:`~trtmatte.runtime.matter.Matter` with decoding ahead, writing behind, one
line per failure and a summary."""
from .inputs import WorkItem, plan_work, watch
from .matte_job import MatteJob, MatteJobOptions, Outcome, Summary

__all__ = ["MatteJob", "MatteJobOptions", "Outcome", "Summary", "WorkItem", "plan_work", "watch"]
