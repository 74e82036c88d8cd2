"""Atomic file writes with unique temporary names, and sweeping what killed writers left.

Every file maskgraph writes (outputs, the preview page, model files, disk-cache entries,
recompute records) is first written to a temporary file in the destination's folder and
then renamed over the destination, so a reader sees the old file or the complete new one,
never a partial one. The temporary name is unique per writer (host, process id and a random
part), so two processes writing one destination never share a temporary file. It is
created with mode 0o666 and so gets the umask's permissions, like any file the user makes
(`tempfile.mkstemp` would make it 0600).

A process killed during a write (SIGKILL, power loss) leaves its temporary file behind:
`sweep_stale` removes those of dead processes on this host, and any older than a day.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time

TEMP_PREFIX = ".tmp-mg-"
STALE_SECONDS = 24 * 3600  # a temporary file of another host older than this is stale


def temporary_name(path: str) -> str:
    """A fresh temporary file name beside `path`, keeping its extension (codecs use it)."""
    folder, base = os.path.split(os.path.abspath(path))
    extension = os.path.splitext(base)[1]
    host = socket.gethostname().replace(".", "_")[:32] or "host"
    tag = f"{host}.{os.getpid()}.{secrets.token_hex(4)}"
    return os.path.join(folder, f"{TEMP_PREFIX}{base}.{tag}{extension}")


@contextlib.contextmanager
def atomic_path(path: str):
    """Yield a temporary path to write; on success rename it onto `path`, else remove it.

    The temporary file exists (empty, umask permissions) when the body starts.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = temporary_name(path)
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        remove_quietly(temporary)
        raise
    sweep_stale(os.path.dirname(os.path.abspath(path)), os.path.basename(path))


def write_bytes(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        stream.write(data)


def write_text(path: str, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    write_bytes(path, text.encode("utf-8"))


def is_temporary(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def is_stale(path: str) -> bool:
    """True for a temporary file whose writer is gone (dead here, or old anywhere)."""
    name = os.path.basename(path)
    parts = name[len(TEMP_PREFIX):].split(".")
    host = socket.gethostname().replace(".", "_")[:32] or "host"
    for index in range(len(parts) - 1):
        if parts[index] == host and parts[index + 1].isdigit():
            return not _alive(int(parts[index + 1]))
    try:
        return time.time() - os.stat(path).st_mtime > STALE_SECONDS
    except OSError:
        return False


def sweep_stale(folder: str, destination: str = "") -> int:
    """Remove stale temporary files in `folder` (those of `destination` only, if given)."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    prefix = TEMP_PREFIX + destination + ("." if destination else "")
    for entry in entries:
        if entry.name.startswith(prefix) and is_stale(entry.path):
            removed += remove_quietly(entry.path)
    return removed


def remove_quietly(path: str) -> bool:
    """Remove a file; True if this call removed it (a vanished file is not an error)."""
    try:
        os.remove(path)
        return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
