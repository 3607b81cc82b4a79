"""Atomic file writing: never leave a half-written output behind."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import TrtmatteError


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early, with one line, if ``path`` cannot be created; return its directory. Long jobs
    (export, engine builds) call this before starting, not after minutes of work."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise TrtmatteError(f"cannot write {path}: directory {parent} does not exist (create it first)")
    if not os.access(parent, os.W_OK):
        raise TrtmatteError(f"cannot write {path}: directory {parent} is not writable (choose another -o)")
    if path.is_dir():
        raise TrtmatteError(f"cannot write {path}: it is a directory (give a file name)")
    return parent


def check_new_folder(out: str | os.PathLike, choose_another: str, noun: str = "directory") -> Path:
    """Fail early, with one line, unless ``out`` can become a new folder: absent or empty, in an
    existing directory (folder writers assemble beside it and rename into place). ``choose_another``
    ends the message: how the user names another folder (e.g. "choose another -o"); ``noun``: what
    the messages call it."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TrtmatteError(f"{out} already exists and is not an empty {noun}: {choose_another} or delete it")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise TrtmatteError(f"cannot write {out}: {noun} {parent} does not exist (create it first)")
    return out


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    The temporary file lives in the destination directory so the final ``os.replace`` is atomic
    (same filesystem). On any exception the temporary file is removed and nothing is written.
    """
    path = Path(path)
    parent = check_writable(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the final file the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
