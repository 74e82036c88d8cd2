"""The disk cache trusts nothing it reads; atomic writes leave normal permissions and no
temporary files; entries damaged by hand (payload, header, length, dtype, shape) are
recomputed, never used."""
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from graph import atomic
from graph.cache import MAGIC, DiskCache, parse_size
from graph.errors import UsageError

KEY = "ab" + "0" * 62


def stored(tmp_path, array=None):
    disk = DiskCache(str(tmp_path))
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4) if array is None else array
    disk.put(KEY, {"output": array})
    return disk, disk.path(KEY), array


def rewrite_header(path, change):
    """Edit the JSON header and re-seal it with a correct header checksum (a damage the
    checksum cannot see: the shape/length checks must)."""
    data = open(path, "rb").read()
    start = len(MAGIC)
    length, _ = struct.unpack("<QI", data[start:start + 12])
    header = json.loads(data[start + 12:start + 12 + length])
    change(header)
    text = json.dumps(header).encode()
    payload = data[start + 12 + length:]
    open(path, "wb").write(MAGIC + struct.pack("<QI", len(text), zlib.crc32(text)) + text
                           + payload)


def flip(path, offset):
    data = bytearray(open(path, "rb").read())
    data[offset] ^= 0x01
    open(path, "wb").write(bytes(data))


DAMAGES = {
    "payload byte": lambda p: flip(p, -5),
    "header byte (dtype <f4 -> >f4)": lambda p: open(p, "r+b").write(
        open(p, "rb").read().replace(b'"<f4"', b'">f4"')),
    "header length field": lambda p: flip(p, len(MAGIC) + 3),
    "truncated": lambda p: open(p, "r+b").truncate(os.path.getsize(p) - 3),
    "empty file": lambda p: open(p, "wb").close(),
    "garbage": lambda p: open(p, "wb").write(os.urandom(200)),
    "resealed shape of another size": lambda p: rewrite_header(
        p, lambda h: h["outputs"][0].__setitem__(2, [3, 3, 4])),
    "resealed dtype": lambda p: rewrite_header(
        p, lambda h: h["outputs"][0].__setitem__(1, ">f4")),
    "resealed length": lambda p: rewrite_header(p, lambda h: h.__setitem__("length", 8)),
    "resealed huge shape": lambda p: rewrite_header(
        p, lambda h: h["outputs"][0].__setitem__(2, [2**40, 2**20, 4])),
    "resealed wrong kinds": lambda p: rewrite_header(
        p, lambda h: h.__setitem__("outputs", [[1, None, "x"]])),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_damaged_entry_is_removed_and_reported_absent(tmp_path, damage):
    disk, path, array = stored(tmp_path)
    np.testing.assert_array_equal(disk.get(KEY)["output"], array)
    DAMAGES[damage](path)
    assert disk.get(KEY) is None
    assert not os.path.exists(path)
    disk.put(KEY, {"output": array})
    np.testing.assert_array_equal(disk.get(KEY)["output"], array)


def test_swapped_shape_with_a_correct_header_checksum_is_caught_by_the_header_crc(tmp_path):
    disk, path, _ = stored(tmp_path)
    data = open(path, "rb").read().replace(b"[2, 3, 4]", b"[3, 2, 4]")
    open(path, "wb").write(data)
    assert disk.get(KEY) is None


def test_an_entry_removed_while_reading_is_absent_not_an_error(tmp_path):
    disk, path, _ = stored(tmp_path)
    os.remove(path)
    assert disk.get(KEY) is None
    disk.enforce_limit()
    assert disk.info()["entries"] == 0


def test_stale_temporary_files_are_counted_swept_and_cleared(tmp_path):
    disk, path, array = stored(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    host = atomic.temporary_name(path).split(".tmp-mg-")[1].split(".")[2]
    stale = os.path.join(os.path.dirname(path),
                         f"{atomic.TEMP_PREFIX}{os.path.basename(path)}.{host}.{dead}.0000.mgc")
    open(stale, "wb").write(b"x" * 100)
    info = disk.info()
    assert info["temporary_files"] == 1 and info["temporary_bytes"] == 100
    assert info["entries"] == 1
    disk.put("cd" + "0" * 62, {"output": array})  # a later write sweeps the dead writer's file
    assert not os.path.exists(stale)
    open(stale, "wb").write(b"x")
    disk.clear()
    assert disk.info() == {**info, "entries": 0, "bytes": 0, "temporary_files": 0,
                           "temporary_bytes": 0}


def test_a_live_writers_temporary_file_is_not_stale(tmp_path):
    name = atomic.temporary_name(str(tmp_path / "out.png"))
    open(name, "wb").close()
    assert not atomic.is_stale(name)
    assert atomic.sweep_stale(str(tmp_path)) == 0


def test_atomic_files_get_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic.write_text(str(tmp_path / "a.txt"), "x")
        disk, path, _ = stored(tmp_path / "cache")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "a.txt").st_mode & 0o777 == 0o644
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "cache"]


def test_cache_dir_that_is_a_file_and_bad_sizes_are_usage_errors(tmp_path, monkeypatch):
    (tmp_path / "f").write_text("")
    with pytest.raises(UsageError, match="is a file"):
        DiskCache(str(tmp_path / "f"))
    for text in ("lots", "big", "-1G", "nanM", "1e300G"):
        with pytest.raises(UsageError, match="expected a size"):
            parse_size(text, 0, "MASKGRAPH_CACHE_LIMIT")
    assert parse_size("512M", 0) == 512 * 2**20 and parse_size("4GiB", 0) == 4 * 2**30


def test_bad_environment_sizes_on_the_command_line_exit_2(tmp_path, monkeypatch, capsys):
    from graph.cli import main
    (tmp_path / "g.yaml").write_text("maskgraph: 1\nnodes:\n  c: {type: constant, width: 2, "
                                     "height: 2}\n  w: {type: write, input: c, path: o.png}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MASKGRAPH_CACHE_LIMIT", "big")
    assert main(["run", "g.yaml", "--cache-dir", "cache"]) == 2
    assert "MASKGRAPH_CACHE_LIMIT='big'" in capsys.readouterr().err
    monkeypatch.delenv("MASKGRAPH_CACHE_LIMIT")
    (tmp_path / "file").write_text("")
    assert main(["run", "g.yaml", "--cache-dir", "file"]) == 2
    assert "is a file" in capsys.readouterr().err


def test_a_graph_rerun_over_hand_damaged_entries_recomputes_them(tmp_path):
    import graph
    g = graph.load("maskgraph: 1\nnodes:\n  c: {type: constant, width: 8, height: 6, "
                   "color: [0.2, 0.4, 0.6]}\n  b: {type: blur, input: c, size: 1}\n")
    first = g.evaluate(["b"], cache_dir=str(tmp_path), memory=None)["b"].copy()
    damages = list(DAMAGES.values())
    for round_, damage in enumerate(damages):
        for entry in DiskCache(str(tmp_path)).entries():
            damage(entry.path)
        run = g.run(["b"], cache_dir=str(tmp_path), memory=None)
        assert {s["status"] for s in run.stats} == {"computed"}, round_
        np.testing.assert_array_equal(run.results["b"], first)
        again = g.run(["b"], cache_dir=str(tmp_path), memory=None)
        assert [s["status"] for s in again.stats] == ["disk"]
