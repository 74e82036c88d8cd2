"""Content-hash keys and the two caches: process-wide memory (LRU) and opt-in disk.

A node's key is a Merkle hash: sha256 of its type id, spec version, canonical params at
this frame, its inputs' keys in port order and, for loaders, the identity of the files it
reads (path, size, mtime in nanoseconds). Keys never use Python's `hash()` and never hash
pixels (except arrays fed from Python, which have no other identity).

Disk entries are single files `<dir>/<key[:2]>/<key>.mgc`: a magic string, a JSON header
(the arrays' names, dtypes and shapes, the payload length, a CRC-32 of the payload), then
the raw arrays. They are written to a temporary file and renamed into place, so a reader
never sees a partial entry; a truncated or corrupt entry fails its length or checksum test
and is deleted and recomputed, never trusted.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile
import threading
import zlib
from collections import OrderedDict

import numpy as np

CACHE_DIR_ENV = "MASKGRAPH_CACHE_DIR"
MEMORY_BUDGET_ENV = "MASKGRAPH_MEMORY_BUDGET"
DISK_LIMIT_ENV = "MASKGRAPH_CACHE_LIMIT"
DEFAULT_MEMORY_BUDGET = 4 * 2**30
DEFAULT_DISK_LIMIT = 20 * 2**30
MAGIC = b"MGCACHE1"
ENTRY_SUFFIX = ".mgc"


# ------------------------------------------------------------------------- keys

def canonical(value):
    """A JSON-ready, deterministic form of a param value (raises TypeError otherwise)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise TypeError(f"non-finite number {value}")
        return 0.0 if value == 0 else float(repr(value))
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    if isinstance(value, dict):
        return {str(key): canonical(item) for key, item in sorted(value.items())}
    raise TypeError(f"cannot tokenise {type(value).__name__}")


def make_key(parts: dict) -> str:
    """sha256 hex of the canonical JSON of `parts`."""
    text = json.dumps(canonical(parts), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def file_identity(path: str) -> list:
    """[path, size, mtime_ns] of a file, or [path, None, None] when it is missing."""
    try:
        status = os.stat(path)
    except OSError:
        return [path, None, None]
    return [path, status.st_size, status.st_mtime_ns]


def array_key(array: np.ndarray) -> str:
    """Key of an array fed from Python: a hash of its bytes, dtype and shape."""
    digest = hashlib.sha256()
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


# ---------------------------------------------------------------------- results

def result_nbytes(result: dict) -> int:
    return sum(array.nbytes for array in result.values())


def freeze(result: dict) -> dict:
    """Make every array of a node result read-only (cached results must not change)."""
    for array in result.values():
        array.flags.writeable = False
    return result


def parse_size(text: str | None, default: int) -> int:
    """'4G', '512M', '100000' -> bytes."""
    if not text:
        return default
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    text = text.strip().upper().rstrip("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


class MemoryCache:
    """Process-wide LRU of node results {output: array} under a byte budget."""

    def __init__(self, budget: int):
        self.budget = budget
        self._entries: OrderedDict[str, dict] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> dict | None:
        with self._lock:
            result = self._entries.get(key)
            if result is not None:
                self._entries.move_to_end(key)
            return result

    def put(self, key: str, result: dict) -> None:
        size = result_nbytes(result)
        if size > self.budget:
            return
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return
            self._entries[key] = result
            self._bytes += size
            while self._bytes > self.budget:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= result_nbytes(evicted)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes


MEMORY = MemoryCache(parse_size(os.environ.get(MEMORY_BUDGET_ENV), DEFAULT_MEMORY_BUDGET))


class DiskCache:
    """Node results stored by key in a folder, shared between processes."""

    def __init__(self, directory: str, limit: int | None = None):
        self.directory = os.path.abspath(directory)
        self.limit = limit if limit is not None else parse_size(
            os.environ.get(DISK_LIMIT_ENV), DEFAULT_DISK_LIMIT)

    def path(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], key + ENTRY_SUFFIX)

    def get(self, key: str) -> dict | None:
        """The stored result, or None when absent or damaged (a damaged entry is removed)."""
        path = self.path(key)
        try:
            with open(path, "rb") as handle:
                result = _read_entry(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, json.JSONDecodeError, struct.error):
            _remove(path)
            return None
        os.utime(path)  # recency for the size limit
        return result

    def put(self, key: str, result: dict) -> None:
        """Store atomically: write a temporary file in the same folder, then rename."""
        path = self.path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=os.path.dirname(path), suffix=".tmp",
                                             delete=False)
        try:
            with handle:
                _write_entry(handle, result)
            os.replace(handle.name, path)
        except BaseException:
            _remove(handle.name)
            raise
        self.enforce_limit()

    def entries(self) -> list[os.DirEntry]:
        found = []
        if not os.path.isdir(self.directory):
            return found
        for folder in os.scandir(self.directory):
            if folder.is_dir() and len(folder.name) == 2:
                found += [e for e in os.scandir(folder.path) if e.name.endswith(ENTRY_SUFFIX)]
        return found

    def info(self) -> dict:
        entries = self.entries()
        return {"directory": self.directory, "entries": len(entries),
                "bytes": sum(e.stat().st_size for e in entries), "limit": self.limit}

    def clear(self) -> int:
        entries = self.entries()
        for entry in entries:
            _remove(entry.path)
        return len(entries)

    def enforce_limit(self) -> None:
        """Remove the least recently used entries until the folder fits the limit."""
        entries = [(e.stat().st_mtime_ns, e.stat().st_size, e.path) for e in self.entries()]
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.limit:
                break
            _remove(path)
            total -= size


def _write_entry(handle, result: dict) -> None:
    arrays = [(name, np.ascontiguousarray(array)) for name, array in result.items()]
    checksum, length = 0, 0
    for _, array in arrays:
        checksum = zlib.crc32(memoryview(array).cast("B"), checksum)
        length += array.nbytes
    header = json.dumps({"outputs": [[name, array.dtype.str, list(array.shape)]
                                     for name, array in arrays],
                         "length": length, "crc32": checksum}).encode()
    handle.write(MAGIC + struct.pack("<Q", len(header)) + header)
    for _, array in arrays:
        handle.write(memoryview(array).cast("B"))


def _read_entry(handle) -> dict:
    if handle.read(len(MAGIC)) != MAGIC:
        raise ValueError("not a cache entry")
    (header_length,) = struct.unpack("<Q", handle.read(8))
    header = json.loads(handle.read(header_length))
    payload = bytearray(header["length"])
    if handle.readinto(payload) != header["length"] or handle.read(1):
        raise ValueError("truncated or overlong entry")
    if zlib.crc32(payload) != header["crc32"]:
        raise ValueError("checksum mismatch")
    result, offset = {}, 0
    for name, dtype, shape in header["outputs"]:
        count = int(np.prod(shape)) if shape else 1
        array = np.frombuffer(payload, dtype=np.dtype(dtype), count=count, offset=offset)
        result[name] = array.reshape(shape)
        offset += array.nbytes
    return freeze(result)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
