"""Matting at scale on Ray Data (``pip install 'trtmatte[ray]'``; docs/scale-out.md). Ray itself is
imported only when a run starts.

* ``actor``: callable classes for ``Dataset.map_batches`` holding one Matter per actor:
  :class:`MatteImages` (images in, α / cutouts / composites out) and :class:`MatteFiles` (work
  rows in, the files of ``trtmatte matte`` written).
* ``listing``: which images (local folders and globs, or any pyarrow filesystem) and where each
  result goes, with the names of ``trtmatte matte``.
* ``sink``: :class:`WriteOutputs`, atomic writes of pictures from a dataset.
* ``connect``: joining a cluster or starting one here, with one-line errors.
* ``ray_job``: :class:`RayMatteJob`, what ``trtmatte matte --ray`` runs (its flags: trtmatte/cli/ray_flags.py).
"""
import importlib

_HOMES = {"MatteFiles": "actor", "MatteImages": "actor", "RayMatteJob": "ray_job", "WriteOutputs": "sink",
          "list_images": "listing", "ray_cluster": "connect", "target_of": "listing"}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    """Lazy: importing the package does not import Ray, nor the modules that are not used."""
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
