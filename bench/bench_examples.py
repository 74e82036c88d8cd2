"""First run and warm run of every example graph, as a user sees them: `maskgraph run`
in a fresh process, wall time including import, and the process's peak RSS.

cold: empty numba cache (NUMBA_CACHE_DIR) and empty fused-kernel folder
(MASKGRAPH_KERNEL_DIR), so every kernel the graph needs compiles; warm: the same
folders again (kernels load from disk). No result cache (no --cache-dir), so both runs
compute every node. Outputs go to a temporary folder. PYTHONDONTWRITEBYTECODE is unset
for the runs (an installed package has its bytecode; with it set, every run compiled
maskgraph's ~75 modules from source, ~0.35 s CPU on the loaded 2-core machine). The CPU columns (user + system
time of the process) move less than wall time when other work shares the machine.
Run: python bench/bench_examples.py [name ...]   (default: every graphs_examples/*.yaml)
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from common import REPO

EXAMPLES = os.path.join(REPO, "graphs_examples")


def run_once(graph: str, env: dict, workdir: str) -> tuple[float, float, float, int]:
    """(seconds, CPU seconds, peak RSS in MiB, exit code) of one `maskgraph run`."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "graph.cli", "run", graph], env=env,
                               cwd=workdir, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return (seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
            process.returncode)


def main():
    names = sys.argv[1:] or sorted(name[:-5] for name in os.listdir(EXAMPLES)
                                   if name.endswith(".yaml"))
    print("load average:", os.getloadavg())
    print(f"{'example':<20} {'cold s':>8} {'warm s':>8} {'cold CPU s':>11} {'warm CPU s':>11} "
          f"{'peak RSS MiB':>13}  exit")
    for name in names:
        with tempfile.TemporaryDirectory() as scratch:
            work = os.path.join(scratch, "examples")
            shutil.copytree(EXAMPLES, work)
            env = {**os.environ, "PYTHONPATH": REPO,
                   "NUMBA_CACHE_DIR": os.path.join(scratch, "numba"),
                   "MASKGRAPH_KERNEL_DIR": os.path.join(scratch, "kernels")}
            env.pop("MASKGRAPH_CACHE_DIR", None)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            graph = os.path.join(work, name + ".yaml")
            cold, cold_cpu, _, code = run_once(graph, env, work)
            warm, warm_cpu, rss, warm_code = run_once(graph, env, work)
            print(f"{name:<20} {cold:8.2f} {warm:8.2f} {cold_cpu:11.2f} {warm_cpu:11.2f} "
                  f"{rss:13.0f}  {code}/{warm_code}", flush=True)
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main()
