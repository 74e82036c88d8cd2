"""The kernel folder: where generated fused kernels live ($MASKGRAPH_KERNEL_DIR, default
~/.cache/maskgraph/kernels).

Each kernel is a module `maskgraph_fused_<hash>.py` (graph/fusion.py writes it) plus what
Python and numba cache beside it under `__pycache__/` (`<module>.*`: bytecode, numba's
index and compiled code). A module's time stamp is touched whenever a process loads it,
so pruning removes the least recently used kernels first. After each new kernel the
folder is pruned to $MASKGRAPH_KERNEL_LIMIT (default 256 MiB; a size such as 64M); the
kernel just written is never removed. `maskgraph cache info` / `cache clear` report and
empty it.
"""
from __future__ import annotations

import os

from graph import atomic
from graph.cache import parse_size

KERNEL_DIR_ENV = "MASKGRAPH_KERNEL_DIR"
KERNEL_LIMIT_ENV = "MASKGRAPH_KERNEL_LIMIT"
DEFAULT_KERNEL_LIMIT = 256 * 2**20
MODULE_PREFIX = "maskgraph_fused_"
COMPILED = "__pycache__"


def kernel_folder() -> str:
    return os.environ.get(KERNEL_DIR_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "maskgraph", "kernels")


def kernel_limit() -> int:
    return parse_size(os.environ.get(KERNEL_LIMIT_ENV), DEFAULT_KERNEL_LIMIT,
                      KERNEL_LIMIT_ENV)


def kernels(folder: str) -> dict[str, tuple[int, list[str]]]:
    """{module name: (its .py mtime in ns, every file of it)} for the folder's kernels."""
    if not os.path.isdir(folder):
        return {}
    found = {}
    for entry in os.scandir(folder):
        if entry.name.startswith(MODULE_PREFIX) and entry.name.endswith(".py"):
            try:
                found[entry.name[:-3]] = (entry.stat().st_mtime_ns, [entry.path])
            except OSError:
                continue  # removed by another process
    compiled = os.path.join(folder, COMPILED)
    if os.path.isdir(compiled):
        for entry in os.scandir(compiled):
            module = entry.name.split(".", 1)[0]
            if module in found:
                found[module][1].append(entry.path)
    return found


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def info(folder: str | None = None) -> dict:
    folder = folder or kernel_folder()
    found = kernels(folder)
    return {"directory": folder, "kernels": len(found),
            "bytes": sum(_size(path) for _, paths in found.values() for path in paths),
            "limit": kernel_limit()}


def clear(folder: str | None = None) -> int:
    """Remove every kernel (its module and cached code); returns how many."""
    found = kernels(folder or kernel_folder())
    for _, paths in found.values():
        for path in paths:
            atomic.remove_quietly(path)
    return len(found)


def prune(folder: str, keep: str, limit: int | None = None) -> int:
    """Remove the least recently used kernels, never `keep`, until the folder fits
    `limit` bytes (default: kernel_limit()); returns how many were removed."""
    limit = kernel_limit() if limit is None else limit
    found = kernels(folder)
    sizes = {name: sum(_size(path) for path in paths) for name, (_, paths) in found.items()}
    total, removed = sum(sizes.values()), 0
    for name in sorted(found, key=lambda name: found[name][0]):
        if total <= limit:
            break
        if name == keep:
            continue
        for path in found[name][1]:
            atomic.remove_quietly(path)
        total -= sizes[name]
        removed += 1
    return removed


def touch(path: str) -> None:
    """Mark a kernel module as just used (its recency for `prune`)."""
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only folder: the kernel still loads
