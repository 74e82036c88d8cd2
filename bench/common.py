"""Shared helpers for the benchmark scripts: timing medians and printing ratio tables."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

WIDTH, HEIGHT = 3840, 2160


def median_seconds(function, repeat=5, warmup=1) -> float:
    """Median wall time of `function()` over `repeat` runs after `warmup` runs."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def first_call_seconds(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def print_table(title: str, rows) -> None:
    """rows: (label, ours seconds, peer name, peer seconds, target text)."""
    print(f"\n{title}")
    print(f"{'case':<40} {'ours ms':>9} {'peer':<22} {'peer ms':>9} {'ratio':>7}  target")
    for label, ours, peer, theirs, target in rows:
        ratio = ours / theirs if theirs else float("nan")
        print(f"{label:<40} {ours * 1e3:9.1f} {peer:<22} {theirs * 1e3:9.1f} {ratio:7.2f}  {target}")


def median_ms(function, repeat: int) -> float:
    """Median milliseconds of `function()` over `repeat` runs, after one warm-up run."""
    return 1e3 * median_seconds(function, repeat=repeat, warmup=1)


def print_cold_compile(script: str) -> None:
    """Run `script` (python source) in fresh processes sharing a new numba cache: first
    with the cache empty (compile), then from the cache; print what each printed."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": REPO}
        for label in ("cold (empty cache)", "warm cache"):
            result = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO,
                                    capture_output=True, text=True, check=True)
            print(f"-- {label}\n{result.stdout.rstrip()}")
