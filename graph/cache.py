"""Content-hash keys and the two caches: process-wide memory (LRU) and opt-in disk.

A node's key is a Merkle hash: sha256 of its type id, spec version, canonical params at
this frame, its inputs' keys in port order and, for loaders, the identity of the files it
reads (path, size, mtime in nanoseconds). Keys never use Python's `hash()` and never hash
pixels (except arrays fed from Python, which have no other identity).

Disk entries are single files `<dir>/<key[:2]>/<key>.mgc`: a magic string, the header's
length and CRC-32, a JSON header (the arrays' names, dtypes and shapes, the payload length,
a CRC-32 of the payload), then the raw arrays. Both checksums, every header field's kind,
and the agreement of shapes, length and file size are checked before a byte is used: a
damaged entry is deleted and recomputed, never trusted and never a traceback. Entries are
written to a unique temporary file and renamed into place (graph.atomic), so a reader never
sees a partial entry and concurrent writers never share a temporary file.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import threading
import zlib
from collections import OrderedDict

import numpy as np

from graph import atomic

CACHE_DIR_ENV = "MASKGRAPH_CACHE_DIR"
MEMORY_BUDGET_ENV = "MASKGRAPH_MEMORY_BUDGET"
DISK_LIMIT_ENV = "MASKGRAPH_CACHE_LIMIT"
DEFAULT_MEMORY_BUDGET = 4 * 2**30
DEFAULT_DISK_LIMIT = 20 * 2**30
MAGIC = b"MGCACHE2"
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


def parse_size(text: str | None, default: int, name: str = "size") -> int:
    """'4G', '512M', '100000' -> bytes; anything else is a UsageError naming `name`."""
    if text is None or not text.strip():
        return default
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    cleaned = text.strip().upper().rstrip("B").rstrip("I")
    scale = units.get(cleaned[-1:], 1)
    number = cleaned[:-1] if cleaned[-1:] in units else cleaned
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value * scale > 2**62:
        from graph.errors import Problem, UsageError
        raise UsageError(Problem(f"{name}={text!r}: expected a size such as 512M, 4G or "
                                 "a number of bytes"))
    return int(value * scale)


def memory_budget() -> int:
    """$MASKGRAPH_MEMORY_BUDGET in bytes (default 4G)."""
    return parse_size(os.environ.get(MEMORY_BUDGET_ENV), DEFAULT_MEMORY_BUDGET,
                      MEMORY_BUDGET_ENV)


class MemoryCache:
    """Process-wide LRU of node results {output: array} under a byte budget.

    budget None: read $MASKGRAPH_MEMORY_BUDGET on first use (so a bad value is a clear
    error when a graph runs, not an import failure).
    """

    def __init__(self, budget: int | None):
        self._budget = budget
        self._entries: OrderedDict[str, dict] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> dict | None:
        with self._lock:
            result = self._entries.get(key)
            if result is not None:
                self._entries.move_to_end(key)
            return result

    @property
    def budget(self) -> int:
        if self._budget is None:
            self._budget = memory_budget()
        return self._budget

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

    def holds(self, key: str) -> bool:
        return key in self._entries

    def make_room(self, reserve: int) -> None:
        """Evict least recently used entries until they and `reserve` bytes (what an
        executor holds outside this cache: its live results) fit the budget together."""
        with self._lock:
            while self._entries and self._bytes + reserve > self.budget:
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


MEMORY = MemoryCache(None)


class DiskCache:
    """Node results stored by key in a folder, shared between processes.

    Trusts nothing it reads: an entry whose header or payload fails its checks is deleted
    and reported absent (so it is recomputed); a file removed by another process between
    listing and reading is simply absent. Writers use unique temporary names; those left
    by killed writers are swept (`info` counts them, `clear` removes them).
    """

    def __init__(self, directory: str, limit: int | None = None):
        self.directory = os.path.abspath(directory)
        if os.path.exists(self.directory) and not os.path.isdir(self.directory):
            from graph.errors import Problem, UsageError
            raise UsageError(Problem(f"the disk cache {directory} is a file, not a folder",
                                     hint="pass --cache-dir a folder (it is created)"))
        self.limit = limit if limit is not None else parse_size(
            os.environ.get(DISK_LIMIT_ENV), DEFAULT_DISK_LIMIT, DISK_LIMIT_ENV)
        self.warned = False

    def path(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], key + ENTRY_SUFFIX)

    def get(self, key: str) -> dict | None:
        """The stored result, or None when absent or damaged (a damaged entry is removed)."""
        path = self.path(key)
        try:
            with open(path, "rb") as handle:
                result = read_entry(handle, os.fstat(handle.fileno()).st_size)
        except FileNotFoundError:
            return None
        except (OSError, DamagedEntry):
            atomic.remove_quietly(path)
            return None
        try:
            os.utime(path)  # recency for the size limit
        except OSError:
            pass  # evicted by another process meanwhile: the result read is still whole
        return result

    def put(self, key: str, result: dict) -> None:
        """Store atomically (unique temporary file, then rename). A cache that cannot be
        written (disk full, read-only) warns once and the run goes on without it."""
        path = self.path(key)
        try:
            with atomic.atomic_path(path) as temporary, open(temporary, "wb") as handle:
                write_entry(handle, result)
        except OSError as error:
            self._warn(f"cannot write to the disk cache {self.directory}: "
                       f"{error.strerror or error}")
            return
        self.enforce_limit()

    def write_record(self, name: str, record) -> None:
        """Store a small JSON record under records/ (atomic, unique temporary name)."""
        try:
            atomic.write_text(os.path.join(self.directory, "records", name + ".json"),
                              json.dumps(record))
        except OSError as error:
            self._warn(f"cannot write to the disk cache {self.directory}: "
                       f"{error.strerror or error}")

    def _warn(self, message: str) -> None:
        if not self.warned:
            self.warned = True
            import warnings
            warnings.warn(message, CacheWarning, stacklevel=3)

    def _scan(self):
        """(entries, temporary files) as DirEntry lists; tolerant of concurrent removal."""
        entries, temporary = [], []
        for folder in _scandir(self.directory):
            if folder.name == "records" or (len(folder.name) == 2 and _is_dir(folder)):
                for entry in _scandir(folder.path):
                    if atomic.is_temporary(entry.name) or entry.name.endswith(".tmp"):
                        temporary.append(entry)  # .tmp: left by earlier versions
                    elif entry.name.endswith(ENTRY_SUFFIX):
                        entries.append(entry)
        return entries, temporary

    def entries(self) -> list[os.DirEntry]:
        return self._scan()[0]

    def info(self) -> dict:
        entries, temporary = self._scan()
        return {"directory": self.directory, "entries": len(entries),
                "bytes": sum(_size(e) for e in entries), "limit": self.limit,
                "temporary_files": len(temporary),
                "temporary_bytes": sum(_size(e) for e in temporary)}

    def clear(self) -> int:
        """Remove every entry and temporary file; returns the number of entries removed."""
        entries, temporary = self._scan()
        for entry in temporary:
            atomic.remove_quietly(entry.path)
        return sum(atomic.remove_quietly(entry.path) for entry in entries)

    def enforce_limit(self) -> None:
        """Remove stale temporary files, then the least recently used entries until the
        folder fits the limit."""
        found, temporary = self._scan()
        for entry in temporary:
            if atomic.is_stale(entry.path):
                atomic.remove_quietly(entry.path)
        entries = []
        for entry in found:
            try:
                status = entry.stat()
            except OSError:
                continue  # removed by another process
            entries.append((status.st_mtime_ns, status.st_size, entry.path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.limit:
                break
            atomic.remove_quietly(path)
            total -= size


class CacheWarning(UserWarning):
    """The disk cache could not be used; the run goes on without it."""


class DamagedEntry(ValueError):
    """A disk-cache entry failed a check: it is removed and recomputed."""


def _scandir(folder: str) -> list[os.DirEntry]:
    try:
        return list(os.scandir(folder))
    except OSError:
        return []


def _is_dir(entry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _size(entry) -> int:
    try:
        return entry.stat().st_size
    except OSError:
        return 0


# --------------------------------------------------------------- the entry format
#
# MAGIC, u64 header length, u32 CRC-32 of the header, the JSON header
# {"outputs": [[name, dtype, shape], ...], "length": payload bytes, "crc32": of the payload},
# then the payload (the arrays' bytes in order). Every field is checked before use.

ALLOWED_DTYPES = {"<f4", "<f8", "|u1", "<u2", "<i4", "<i8", "|b1"}
MAX_HEADER = 2**20


def write_entry(handle, result: dict) -> None:
    arrays = [(name, np.ascontiguousarray(array)) for name, array in result.items()]
    checksum, length = 0, 0
    for _, array in arrays:
        checksum = zlib.crc32(memoryview(array).cast("B"), checksum)
        length += array.nbytes
    header = json.dumps({"outputs": [[name, array.dtype.str, list(array.shape)]
                                     for name, array in arrays],
                         "length": length, "crc32": checksum}).encode()
    handle.write(MAGIC + struct.pack("<QI", len(header), zlib.crc32(header)) + header)
    for _, array in arrays:
        handle.write(memoryview(array).cast("B"))


def read_entry(handle, file_size: int) -> dict:
    """The arrays of one entry; DamagedEntry when any check fails."""
    prefix = handle.read(len(MAGIC) + 12)
    if len(prefix) != len(MAGIC) + 12 or prefix[:len(MAGIC)] != MAGIC:
        raise DamagedEntry("not a cache entry of this version")
    header_length, header_crc = struct.unpack("<QI", prefix[len(MAGIC):])
    if header_length > min(MAX_HEADER, file_size):
        raise DamagedEntry("header length out of range")
    header_bytes = handle.read(header_length)
    if len(header_bytes) != header_length or zlib.crc32(header_bytes) != header_crc:
        raise DamagedEntry("header checksum mismatch")
    outputs, length, crc = _checked_header(header_bytes)
    if len(prefix) + header_length + length != file_size:
        raise DamagedEntry("length does not match the file size")
    payload = bytearray(length)
    if handle.readinto(payload) != length or zlib.crc32(payload) != crc:
        raise DamagedEntry("payload checksum mismatch")
    result, offset = {}, 0
    for name, dtype, shape in outputs:
        count = math.prod(shape)
        array = np.frombuffer(payload, dtype=dtype, count=count, offset=offset)
        result[name] = array.reshape(shape)
        offset += array.nbytes
    return freeze(result)


def _checked_header(header_bytes: bytes):
    """(outputs, length, crc) of a header whose every field has the right kind."""
    try:
        header = json.loads(header_bytes)
    except ValueError:
        raise DamagedEntry("header is not JSON") from None
    if not isinstance(header, dict):
        raise DamagedEntry("header is not a mapping")
    outputs, length, crc = header.get("outputs"), header.get("length"), header.get("crc32")
    if not (isinstance(outputs, list) and _is_count(length) and _is_count(crc)):
        raise DamagedEntry("header fields of the wrong kind")
    checked, total = [], 0
    for item in outputs:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
                and item[1] in ALLOWED_DTYPES and isinstance(item[2], list)
                and len(item[2]) <= 4 and all(_is_count(n) for n in item[2])):
            raise DamagedEntry("an output of the wrong kind")
        dtype = np.dtype(item[1])
        total += math.prod(item[2]) * dtype.itemsize
        checked.append((item[0], dtype, tuple(item[2])))
    if total != length:
        raise DamagedEntry("shapes and length disagree")
    return checked, length, crc


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62
