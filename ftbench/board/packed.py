"""One file of a JSON document and flat numeric arrays: how the build's caches keep what they
keep (``record_cache``, ``state``), with nothing in it that runs when read (no pickle).

A file is :data:`MAGIC` (each kind of file its own), the header's length (8 bytes,
little-endian), the header (JSON: the document and each array's type, offset and length),
then each array's bytes (little-endian, aligned to :data:`ALIGN` bytes). Reading checks every
array against the types its kind of file allows and against the file's size; the arrays come
back as read-only views of the bytes read (or of a memory map: only the parts looked at are
read from the disk).
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ALIGN = 8


def pack(
    magic: bytes,
    meta: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    dumps: Callable[[Any], bytes] = orjson.dumps,
) -> bytes:
    """The file's bytes (see the module docstring), read back by :func:`unpack`. ``dumps``:
    the header's JSON encoder (:func:`exact_json` where a number may not be finite)."""
    layout, chunks, at = {}, [], 0
    for name, array in sorted(arrays.items()):
        flat = np.ascontiguousarray(array.reshape(-1), dtype=array.dtype.newbyteorder("<"))
        layout[name] = [flat.dtype.str, at, int(flat.size)]
        data = flat.tobytes()
        chunks.append(data + b"\0" * (-len(data) % ALIGN))
        at += len(chunks[-1])
    header = dumps({"meta": meta, "arrays": layout})
    header += b" " * (-(len(magic) + 8 + len(header)) % ALIGN)
    return b"".join([magic, len(header).to_bytes(8, "little"), header, *chunks])


def unpack(
    magic: bytes, data: bytes | mmap.mmap, allowed: Mapping[str, np.dtype]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a file made by :func:`pack` with ``magic``, each array of a name
    and type in ``allowed``; the arrays are read-only views of ``data``. Raises ValueError
    where it is not such a file, or an array is of another type or lies outside it."""
    if data[: len(magic)] != magic:
        raise ValueError("not a file of this kind")
    start = len(magic) + 8
    size = int.from_bytes(data[len(magic) : start], "little")
    if size < 0 or start + size > len(data):
        raise ValueError("a header past the end of the file")
    header = data[start : start + size]
    try:
        document = orjson.loads(header)  # too deep a nesting: a ValueError too
    except ValueError:
        document = json.loads(header)  # NaN or infinity (exact_json); a RecursionError where too deep
    if not isinstance(document, dict) or not isinstance(document.get("meta"), dict):
        raise ValueError("a header of the wrong kind")
    base = start + size
    arrays = {}
    for name, (kind, offset, count) in document["arrays"].items():
        dtype = np.dtype(str(kind))
        if dtype.hasobject or dtype != allowed.get(name) or offset < 0 or count < 0:
            raise ValueError(f"{name}: an array of the wrong kind")
        if base + offset + count * dtype.itemsize > len(data):
            raise ValueError(f"{name}: past the end of the file")
        arrays[str(name)] = np.frombuffer(data, dtype=dtype, count=count, offset=base + offset)
    return document["meta"], arrays


def exact_json(value: Any) -> bytes:
    """JSON that keeps NaN and infinity as they are (orjson writes them as null), for headers
    whose numbers must come back exactly."""
    return json.dumps(value, separators=(",", ":"), allow_nan=True).encode("utf-8")


def mapped(path: Path) -> mmap.mmap | bytes:
    """The file at ``path`` mapped read-only (its pages are read when touched); OSError or
    ValueError (an empty file) when it cannot be. Read whole on Windows, where a mapped file
    cannot be replaced (the build rewrites a file whose arrays it still holds)."""
    if os.name == "nt":
        return path.read_bytes()
    with path.open("rb") as handle:
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
