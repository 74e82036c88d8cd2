"""The fused-kernel folder (graph/kernel_folder.py): a size limit that removes the least
recently used kernels first, and `maskgraph cache info` / `cache clear` over it."""
import json
import os

import numpy as np

from graph import fusion, kernel_folder
from graph.cli import main

SOURCE = '''"""A test kernel {tag}."""
import numba


@numba.njit(cache=True)
def fused(out):
    out[0] = {tag}
'''


def fake_kernel(folder, name, size, age):
    """A kernel module plus numba's files for it, `size` bytes each, `age` seconds old."""
    compiled = folder / "__pycache__"
    compiled.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.py", compiled / f"{name}.fused-5.py311.nbi",
             compiled / f"{name}.fused-5.py311.1.nbc"]
    for path in paths:
        path.write_bytes(b"x" * size)
    stamp = 1_700_000_000 - age
    os.utime(paths[0], (stamp, stamp))
    return paths


def test_prune_removes_the_least_recently_used_kernels_first(tmp_path):
    names = [f"{kernel_folder.MODULE_PREFIX}{index}" for index in range(4)]
    files = {name: fake_kernel(tmp_path, name, 1000, age=100 - 10 * index)
             for index, name in enumerate(names)}   # names[0] is the oldest
    other = tmp_path / "notes.txt"
    other.write_text("not a kernel")
    assert kernel_folder.info(str(tmp_path))["bytes"] == 12000
    removed = kernel_folder.prune(str(tmp_path), keep=names[0], limit=6500)
    assert removed == 2   # names[1] and names[2]; names[0] is kept though oldest
    assert all(path.exists() for path in files[names[0]] + files[names[3]])
    assert not any(path.exists() for path in files[names[1]] + files[names[2]])
    assert other.exists()


def test_the_folder_stays_under_its_limit_as_kernels_are_made(tmp_path, monkeypatch):
    monkeypatch.setenv(kernel_folder.KERNEL_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(kernel_folder.KERNEL_LIMIT_ENV, "1")   # one byte: keep only the newest
    out = np.zeros(1)
    for tag in (1, 2, 3):
        fusion._load(SOURCE.format(tag=tag))(out)
        assert out[0] == tag
        assert kernel_folder.info()["kernels"] == 1
    assert kernel_folder.info()["bytes"] > 0


def test_a_used_kernel_is_younger_than_an_unused_one(tmp_path, monkeypatch):
    monkeypatch.setenv(kernel_folder.KERNEL_DIR_ENV, str(tmp_path))
    fusion._load(SOURCE.format(tag=4))
    (path,) = tmp_path.glob("*.py")
    os.utime(path, (1_000_000_000, 1_000_000_000))
    fusion._load(SOURCE.format(tag=4))   # loading it again marks it used
    assert path.stat().st_mtime > 1_000_000_000


def test_cache_info_and_clear_cover_the_kernel_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(kernel_folder.KERNEL_DIR_ENV, str(tmp_path))
    monkeypatch.delenv("MASKGRAPH_CACHE_DIR", raising=False)
    fake_kernel(tmp_path, kernel_folder.MODULE_PREFIX + "a", 100, age=0)
    fake_kernel(tmp_path, kernel_folder.MODULE_PREFIX + "b", 100, age=0)
    assert main(["cache", "info"]) == 0
    kernels = json.loads(capsys.readouterr().out)["kernels"]
    assert kernels["kernels"] == 2 and kernels["bytes"] == 600
    assert kernels["limit"] == kernel_folder.DEFAULT_KERNEL_LIMIT
    assert main(["cache", "clear"]) == 0
    assert "removed 2 compiled kernels" in capsys.readouterr().err
    assert kernel_folder.info()["kernels"] == 0
    assert not list((tmp_path / "__pycache__").iterdir())
