"""Big frames: peak memory of an 8K (7680x4320) 12-node graph with and without
MASKGRAPH_MEMORY_BUDGET, each run in a fresh process (`maskgraph run`, the CLI a user runs).

The graph: two 8-bit PNG plates (skimage's coffee and astronaut, upscaled to 8K, made here
once) -> a colour range and a luma key on the plate -> intersect -> grow -> feather ->
grade through the mask -> saturation -> merge over the background (exposure lowered) ->
write a TIFF. Peak RSS is the child's `ru_maxrss`; time is the child's whole run (import,
planning, decoding and encoding included). Two ways in: `maskgraph run` (one frame in a
process that then exits: no memory cache) and the Python API (`Graph.run`, with the
process-wide memory cache, which keeps results within MASKGRAPH_MEMORY_BUDGET counting
what the run holds). Target (issue #14, item 5): under
MASKGRAPH_MEMORY_BUDGET=4G the peak stays under 5 GiB (goal 3 GiB).
Run: python bench/bench_memory.py [--runs N] [--cases cli:4G,api:1G,...]; `--trace 1G` prints
RSS after each node of one run (where the peak is, which nodes ran in strips). Prints the
load average: on a shared machine the times move, the peaks do not (much).
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

from common import REPO

WIDTH, HEIGHT = 7680, 4320
FOLDER = os.path.join(tempfile.gettempdir(), "maskgraph-bench-8k")

GRAPH = """maskgraph: 1
nodes:
  plate:  {type: read, path: plate.png}
  bg:     {type: read, path: bg.png}
  sel:    {type: color_range, input: plate, hue: [20, 60], saturation: [0.2, 1.0],
           softness: 0.1}
  bright: {type: luma_key, input: plate, low: 0.2, high: 1.0, softness: 0.1}
  both:   {type: intersect, inputs: [sel, bright]}
  grown:  {type: grow, input: both, radius: 6}
  soft:   {type: feather, input: grown, radius: 24}
  graded: {type: grade, input: plate, mask: soft, multiply: [1.2, 1.05, 0.9], add: 0.01}
  warm:   {type: saturation, input: graded, amount: 1.2}
  dim:    {type: exposure, input: bg, stops: -0.5}
  comp:   {type: merge, op: over, a: warm, b: dim}
  out:    {type: write, input: comp, path: out.tif}
"""


def make_inputs() -> str:
    """The 8K plates as PNG files (made once) and the graph file; returns its path."""
    os.makedirs(FOLDER, exist_ok=True)
    for name, picture in (("plate.png", "coffee"), ("bg.png", "astronaut")):
        path = os.path.join(FOLDER, name)
        if not os.path.exists(path):
            import cv2
            from skimage import data
            pixels = cv2.resize(getattr(data, picture)(), (WIDTH, HEIGHT),
                                interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(path + ".tmp.png", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
            os.replace(path + ".tmp.png", path)
    path = os.path.join(FOLDER, "comp.yaml")
    with open(path, "w") as handle:
        handle.write(GRAPH)
    return path


def child(graph_path: str, mode: str) -> None:
    """Run the graph once in this (fresh) process; print peak RSS in bytes and seconds."""
    started = time.perf_counter()
    sys.path.insert(0, REPO)
    if mode == "cli":
        from graph.cli import main
        code = main(["run", "-q", graph_path])
    elif mode == "trace":  # what `maskgraph run` does, printing RSS after each node
        import graph
        import psutil
        process = psutil.Process()

        def show(stat):
            print(f"  {stat['name']:<8} {stat['status']:<9} {stat['seconds']:6.2f} s  "
                  f"RSS {process.memory_info().rss / 2**30:5.2f} GiB  peak "
                  f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:5.2f} GiB"
                  + (f"  strips of {stat['strips']} rows" if "strips" in stat else ""),
                  flush=True)
        graph.load(graph_path).run(memory=None, on_node=show)
        code = 0
    else:
        import graph
        graph.load(graph_path).run()
        code = 0
    seconds = time.perf_counter() - started
    print(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024} {seconds} {code}")


def measure(graph_path: str, mode: str, budget: str | None) -> tuple[float, float]:
    env = {key: value for key, value in os.environ.items() if key != "MASKGRAPH_MEMORY_BUDGET"}
    if budget:
        env["MASKGRAPH_MEMORY_BUDGET"] = budget
    done = subprocess.run([sys.executable, __file__, "--child", graph_path, "--mode", mode], env=env,
                          capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"the run failed:\n{done.stdout}\n{done.stderr}")
    peak, seconds, code = done.stdout.split()[-3:]
    if code != "0":
        raise SystemExit(f"maskgraph run exited {code}:\n{done.stderr}")
    return int(peak) / 2**30, float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--child")
    parser.add_argument("--mode", default="cli")
    parser.add_argument("--trace", metavar="BUDGET",
                        help="print RSS after each node of one run under BUDGET, then stop")
    parser.add_argument("--cases", default="cli:none,cli:4G,cli:1G,api:4G,api:1G",
                        help="comma-separated MODE:BUDGET (mode cli or api; budget none or a size)")
    arguments = parser.parse_args()
    if arguments.child:
        return child(arguments.child, arguments.mode)
    graph_path = make_inputs()
    if arguments.trace:
        env = {**os.environ, "MASKGRAPH_MEMORY_BUDGET": arguments.trace}
        print(f"one run under MASKGRAPH_MEMORY_BUDGET={arguments.trace}, RSS after each node:")
        subprocess.run([sys.executable, __file__, "--child", graph_path, "--mode", "trace"],
                       env=env, cwd=REPO, check=True)
        return
    print(f"8K ({WIDTH}x{HEIGHT}) 12-node graph, `maskgraph run` in a fresh process each; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'how':<16} {'MASKGRAPH_MEMORY_BUDGET':<24} {'peak RSS GiB':>14} {'seconds':>16}")
    for case in arguments.cases.split(","):
        mode, budget = case.split(":")
        budget = None if budget == "none" else budget
        found = [measure(graph_path, mode, budget) for _ in range(arguments.runs)]
        peaks = [peak for peak, _ in found]
        times = [seconds for _, seconds in found]
        how = "maskgraph run" if mode == "cli" else "Graph.run"
        print(f"{how:<16} {budget or 'unset (4G default)':<24} {min(peaks):6.2f}-{max(peaks):<6.2f} "
              f"{min(times):7.1f}-{max(times):<7.1f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}; target: peak under 5 GiB with "
          f"4G (goal 3 GiB)")


if __name__ == "__main__":
    main()
