"""Engine benchmarks: 4K PNG read/write vs OpenCV, evaluator overhead, disk-cache hits.

    python bench/bench_engine.py
"""
import tempfile
import os

import numpy as np

from common import HEIGHT, WIDTH, first_call_seconds, median_seconds, print_table

import cv2  # noqa: E402

import graph  # noqa: E402
from graph.cache import DiskCache, MemoryCache  # noqa: E402
from nodes import io as io_nodes  # noqa: E402
from tests.graph import counting_nodes  # noqa: E402


def photo_4k() -> np.ndarray:
    from skimage import data
    small = data.astronaut()[:, :, ::-1]
    big = cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).integers(-3, 4, big.shape)
    return np.clip(big.astype(int) + noise, 0, 255).astype(np.uint8)


def png_rows(folder: str):
    source = os.path.join(folder, "plate.png")
    cv2.imwrite(source, photo_4k())
    compile_read = first_call_seconds(lambda: io_nodes.read.compute(
        path=source, colorspace="auto", alpha="auto"))
    image = io_nodes.read.compute(path=source, colorspace="auto", alpha="auto")
    target = os.path.join(folder, "out.png")
    ours_read = median_seconds(lambda: io_nodes.read.compute(path=source, colorspace="auto",
                                                             alpha="auto"))
    cv_read = median_seconds(lambda: cv2.imread(source, cv2.IMREAD_UNCHANGED))
    write = lambda: io_nodes.write.compute(image, path=target, colorspace="auto", depth="8",
                                           channels="rgb", quality=95)
    compile_write = first_call_seconds(write)
    pixels = cv2.imread(source)
    ours_write = median_seconds(write)
    cv_write = median_seconds(lambda: cv2.imwrite(target, pixels))
    print(f"first call (numba compile or cache load): read {compile_read:.2f} s, "
          f"write {compile_write:.2f} s")
    return [("read 4K 8-bit PNG -> linear float RGBA", ours_read, "cv2.imread (uint8)", cv_read,
             "<= 1.5x"),
            ("write 4K float RGBA -> 8-bit sRGB PNG", ours_write, "cv2.imwrite (uint8)",
             cv_write, "<= 1.5x")]


def overhead_row():
    g = graph.Graph(counting_nodes.registry())
    node = g.ramp(width=4, height=4, level=0.001)
    for _ in range(99):
        node = g.gain(node, amount=1.01)
    text = g.to_yaml()
    run = lambda: g.run([node.node], memory=None)
    run()
    total = median_seconds(run, repeat=7)
    compute = sum(s["seconds"] for s in g.run([node.node], memory=None).stats)
    load = median_seconds(lambda: graph.load(text, registry=counting_nodes.registry()))
    cached_memory = MemoryCache(2**30)
    g.run([node.node], memory=cached_memory)
    hit = median_seconds(lambda: g.run([node.node], memory=cached_memory))
    print(f"100-node graph: evaluate {total * 1e3:.1f} ms (node compute {compute * 1e3:.1f} ms), "
          f"overhead {(total - compute) * 1e3:.1f} ms (target < 50 ms); "
          f"YAML load+validate {load * 1e3:.1f} ms; all-cached re-evaluate {hit * 1e3:.1f} ms")


def disk_row(folder: str):
    disk = DiskCache(os.path.join(folder, "cache"))
    image = np.random.default_rng(0).random((HEIGHT, WIDTH, 4), dtype=np.float32)
    disk.put("ab" * 32, {"output": image})
    hit = median_seconds(lambda: disk.get("ab" * 32))
    raw = median_seconds(lambda: np.fromfile(disk.path("ab" * 32), dtype=np.uint8))
    print(f"disk-cache hit, 4K float RGBA (132.7 MB), with CRC-32 check: {hit * 1e3:.1f} ms "
          f"(target < 150 ms; raw np.fromfile of the same file {raw * 1e3:.1f} ms)")


def main():
    with tempfile.TemporaryDirectory() as folder:
        print_table("4K 8-bit PNG I/O (medians)", png_rows(folder))
        print()
        overhead_row()
        disk_row(folder)


if __name__ == "__main__":
    main()
