"""Which GPU architectures a compiled library carries code for, read from its ELF ``.nv_fatbin``
section. The same answer as ``cuobjdump --list-elf/--list-ptx``, without needing cuobjdump (the CUDA
toolkit here has nvcc but no cuobjdump).

Fat binary layout (stable since CUDA 4): a container header {u32 magic 0xBA55ED50, u16 version,
u16 header size, u64 payload size}, then entries {u16 kind (1 = PTX, 2 = ELF/SASS), u16 version,
u32 header size, u64 payload size, ..., u32 sm_arch at offset 28}. A library built from several
.cu files holds several containers back to back (8-byte aligned).
"""
from __future__ import annotations

import os
import struct

FATBIN_MAGIC = 0xBA55ED50
KINDS = {1: "ptx", 2: "sass"}


def _section(data: bytes, wanted: str) -> tuple[int, int] | None:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx][4]
    for name, _type, _flags, _addr, offset, size in headers:
        end = data.index(b"\0", names_at + name)
        if data[names_at + name:end].decode() == wanted:
            return offset, size
    return None


def architectures(path: str | os.PathLike) -> dict[str, list[int]]:
    """{"sass": [75, 80, ...], "ptx": [...]} for a shared library or object file; empty lists when it
    has no device code."""
    with open(path, "rb") as f:
        data = f.read()
    found: dict[str, set[int]] = {"sass": set(), "ptx": set()}
    section = _section(data, ".nv_fatbin")
    if section is None:
        return {k: [] for k in found}
    start, size = section
    pos, end = start, start + size
    while pos + 16 <= end:
        magic, _version, header_size, payload_size = struct.unpack_from("<IHHQ", data, pos)
        if magic != FATBIN_MAGIC:
            pos += 8  # containers are 8-byte aligned; skip padding
            continue
        entry, entries_end = pos + header_size, pos + header_size + payload_size
        while entry + 32 <= entries_end:
            kind, _v, entry_header, entry_payload = struct.unpack_from("<HHIQ", data, entry)
            arch, = struct.unpack_from("<I", data, entry + 28)
            if kind in KINDS:
                found[KINDS[kind]].add(arch)
            if entry_header == 0:
                break
            entry += entry_header + entry_payload
        pos = entries_end
    return {k: sorted(v) for k, v in found.items()}
