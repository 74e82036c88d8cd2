"""Fuzzing the loader: mutated example graphs and templates (tests/fuzz_graphs.py) either
load or raise the project's error type. bench/fuzz_loader.py runs the long version."""
import warnings

from tests import fuzz_graphs


def test_mutated_graphs_never_escape_the_loader():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        count, escapes = fuzz_graphs.run(3000, seed=12)
    assert count == 3000
    assert not escapes, "\n".join(f"{kind} at {place}: {message}\n{data[:300]!r}"
                                  for kind, place, message, data in escapes[:5])


def test_the_mutator_reaches_both_outcomes(tmp_path):
    """Guard against a mutator that only makes garbage (or only valid graphs)."""
    import random

    import graph
    from graph.errors import GraphError
    registry = graph.default_registry()
    path = tmp_path / "case.yaml"

    def loads(data: bytes) -> bool:
        path.write_bytes(data)
        try:
            graph.load(str(path), registry=registry)
            return True
        except GraphError:
            return False

    # only the seeds that load here: without the segmentation models the AI examples
    # are refused unmutated, which says nothing about the mutator
    seeds = [seed for seed in fuzz_graphs.load_seeds()
             if loads(fuzz_graphs.dump(seed[1]).encode("utf-8"))]
    rng = random.Random(5)
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(400):
        outcomes["loaded" if loads(fuzz_graphs.make_case(seeds, rng)) else "refused"] += 1
    assert outcomes["loaded"] >= 5 and outcomes["refused"] >= 200, outcomes
