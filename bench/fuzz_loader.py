"""Fuzz the graph loader: N mutated example graphs and templates (tests/fuzz_graphs.py),
reporting cases per second and every escape (an exception other than maskgraph's own),
grouped by type and place. Aim: 0 escapes in 100,000 cases.

    python bench/fuzz_loader.py [COUNT] [SEED]
"""
import collections
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests import fuzz_graphs  # noqa: E402


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    warnings.simplefilter("ignore")
    started, cpu = time.perf_counter(), time.process_time()
    done, escapes = 0, []
    chunk = 5_000
    while done < count:
        step = min(chunk, count - done)
        _, found = fuzz_graphs.run(step, seed=seed * 1_000_003 + done)
        escapes += found
        done += step
        elapsed = time.perf_counter() - started
        print(f"{done} cases, {len(escapes)} escapes, {done / elapsed:.0f} cases/s wall, "
              f"{done / (time.process_time() - cpu):.0f} cases/s CPU", flush=True)
    places = collections.Counter((kind, place) for kind, place, _, _ in escapes)
    print(f"\n{count} cases in {time.perf_counter() - started:.1f} s; "
          f"{len(escapes)} escapes in {len(places)} places")
    for (kind, place), number in places.most_common():
        example = next(e for e in escapes if (e[0], e[1]) == (kind, place))
        print(f"  {number:6d}  {kind} at {place}: {example[2][:100]}\n          {example[3][:200]!r}")
    return 1 if escapes else 0


if __name__ == "__main__":
    sys.exit(main())
