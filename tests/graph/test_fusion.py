"""Fused pointwise chains (graph/fusion.py): the fused kernel gives the unfused graph's
pixels (within 1 ulp; in practice bit for bit) for every pointwise node type and for
seeded random chains; intermediates are marked `fused`, are not cached, and asking for
one splits the chain there."""
import numpy as np
import pytest

import graph
from graph import fusion
from graph.cache import MemoryCache

HEIGHT, WIDTH = 37, 53  # odd sizes: no row or vector-width luck

SOURCES = """maskgraph: 1
nodes:
  src: {type: constant, width: 53, height: 37}
  fg:  {type: constant, width: 53, height: 37}
  mk:  {type: to_mask, input: src}
  mk2: {type: to_mask, input: fg}
"""


def picture(rng) -> np.ndarray:
    """Premultiplied RGBA with transparent pixels, negatives and values above 1."""
    image = rng.uniform(-0.2, 1.6, (HEIGHT, WIDTH, 4)).astype(np.float32)
    image[..., 3] = rng.uniform(0, 1, (HEIGHT, WIDTH)).astype(np.float32)
    image[rng.random((HEIGHT, WIDTH)) < 0.15, 3] = 0.0
    image[rng.random((HEIGHT, WIDTH)) < 0.1, 3] = 1.0
    image[..., :3] *= image[..., 3:]
    return image


def mask(rng) -> np.ndarray:
    values = rng.uniform(0, 1, (HEIGHT, WIDTH)).astype(np.float32)
    values[rng.random((HEIGHT, WIDTH)) < 0.2] = 0.0
    values[rng.random((HEIGHT, WIDTH)) < 0.2] = 1.0
    return values


def feed(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"src": picture(rng), "fg": picture(rng), "mk": mask(rng), "mk2": mask(rng)}


def ulps(a: np.ndarray, b: np.ndarray) -> int:
    """Largest distance in float32 steps (NaN equal to NaN)."""
    assert a.shape == b.shape
    both_nan = np.isnan(a) & np.isnan(b)
    ordered = [np.where(v.view(np.int32) < 0, np.int64(-2**31) - v.view(np.int32),
                        v.view(np.int32)).astype(np.int64) for v in (a, b)]
    distance = np.abs(ordered[0] - ordered[1])
    distance[both_nan] = 0
    return int(distance.max())


def fused_and_unfused(text: str, output: str, seed: int, monkeypatch):
    g = graph.load(text)
    arrays = feed(seed)
    fused = g.run([output], feed=arrays, memory=None)
    monkeypatch.setenv(fusion.FUSION_ENV, "0")
    unfused = g.run([output], feed=arrays, memory=None)
    monkeypatch.delenv(fusion.FUSION_ENV)
    return fused, unfused


# Every pointwise node type of the library in one chain (one kernel shape), with
# stencils of each kind; the param sets change only values, not the kernel.
EVERY_TYPE = """
  n1: {{type: unpremultiply, input: src}}
  n2: {{type: premultiply, input: n1}}
  n3: {{type: grade, input: n2, mask: mk, gamma: {gamma}, white: 1.3, black: -0.02,
        unpremult: {unpremult}, white_clamp: {clamp}}}
  n4: {{type: cdl, input: n3, mix: 0.6, slope: [1.1, 0.9, 1.2], offset: 0.01,
        power: {power}, saturation: 1.3, clamp: {clamp}, unpremult: {unpremult}}}
  n5: {{type: saturation, input: n4, amount: 0.4}}
  n6: {{type: hue_shift, input: n5, degrees: 35, mask: mk2, invert_mask: true}}
  n7: {{type: exposure, input: n6, stops: 0.7}}
  n8: {{type: set_alpha, input: n7, alpha: mk2, mode: {mode}}}
  n9: {{type: merge, op: over, a: fg, b: n8, mask: mk, mix: 0.8}}
"""


@pytest.mark.parametrize("gamma, unpremult, clamp, power, mode", [
    (1.0, "false", "true", 1.0, "replace"),
    (1.0, "true", "false", 1.0, "multiply"),
    (0.6, "false", "false", 1.25, "replace"),   # a grade with a gamma, a CDL with a power
    (1.7, "true", "true", 0.8, "multiply"),     # the same, on straight colour
    (0.6, "false", "true", 1.0, "replace"),     # a gamma, a CDL without a power
])
def test_every_pointwise_node_type_fused_equals_unfused(gamma, unpremult, clamp, power,
                                                        mode, monkeypatch):
    text = SOURCES + EVERY_TYPE.format(gamma=gamma, unpremult=unpremult, clamp=clamp, power=power,
                             mode=mode)
    fused, unfused = fused_and_unfused(text, "n9", 3, monkeypatch)
    chains = {s["name"]: s.get("chain") for s in fused.stats if s["name"].startswith("n")}
    chain = [f"n{index}" for index in range(1, 10)]
    assert chains == {name: chain for name in chain}
    assert all("chain" not in s for s in unfused.stats)
    assert ulps(fused.results["n9"], unfused.results["n9"]) <= 1


def test_the_chain_covers_every_pointwise_type_of_the_library():
    declared = {spec.id for spec in graph.default_registry()._specs.values()
                if spec.pointwise is not None}
    covered = {line.split("type: ")[1].split(",")[0] for line in EVERY_TYPE.splitlines()
               if line.strip().startswith("n")}
    assert declared <= covered, declared - covered


@pytest.mark.parametrize("op", ["matte", "divide", "conjoint-over", "color-dodge"])
def test_merge_operations_fused_equal_unfused(op, monkeypatch):
    text = SOURCES + f"""
  g: {{type: grade, input: src, multiply: 1.4, add: 0.05}}
  m: {{type: merge, op: {op}, a: fg, b: g, mask: mk}}
"""
    fused, unfused = fused_and_unfused(text, "m", 5, monkeypatch)
    assert ulps(fused.results["m"], unfused.results["m"]) <= 1


STEPS = [  # node templates for random chains; {p} is the previous node
    "{{type: grade, input: {p}, multiply: {b:.3f}, add: {c:.3f}, white_clamp: true}}",
    "{{type: grade, input: {p}, black: {c:.3f}, unpremult: true}}",
    "{{type: cdl, input: {p}, slope: {b:.3f}, offset: {c:.3f}, saturation: {b:.3f}}}",
    "{{type: cdl, input: {p}, slope: {a:.3f}, clamp: false, unpremult: true}}",
    "{{type: grade, input: {p}, gamma: {a:.3f}, multiply: {b:.3f}}}",
    "{{type: grade, input: {p}, gamma: [{a:.3f}, 1, {b:.3f}], unpremult: true}}",
    "{{type: cdl, input: {p}, power: [{a:.3f}, {b:.3f}, 1], saturation: {b:.3f}}}",
    "{{type: cdl, input: {p}, power: {b:.3f}, clamp: false, unpremult: true}}",
    "{{type: saturation, input: {p}, amount: {b:.3f}}}",
    "{{type: hue_shift, input: {p}, degrees: {d:.1f}}}",
    "{{type: exposure, input: {p}, stops: {c:.3f}}}",
    "{{type: merge, op: over, a: fg, b: {p}}}",
    "{{type: merge, op: over, a: {p}, b: fg}}",
    "{{type: set_alpha, input: {p}, alpha: mk2, mode: multiply}}",
]
STENCILS = ["", ", mask: mk", ", mix: {m:.3f}", ", mask: mk2, invert_mask: true, mix: {m:.3f}"]


def random_chain(rng) -> tuple[str, str]:
    lines, previous = [], "src"
    for index in range(int(rng.integers(2, 6))):
        step = STEPS[int(rng.integers(len(STEPS)))]
        stencil = STENCILS[int(rng.integers(len(STENCILS)))] if "set_alpha" not in step else ""
        values = dict(p=previous, a=rng.uniform(0.5, 2), b=rng.uniform(0.3, 1.6),
                      c=rng.uniform(-0.2, 0.2), d=rng.uniform(-180, 180),
                      m=rng.uniform(0.1, 0.9))
        text = step.format(**values)
        text = text[:-1] + stencil.format(**values) + "}"
        lines.append(f"  r{index}: {text}")
        previous = f"r{index}"
    return SOURCES + "\n".join(lines) + "\n", previous


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15, 16])
def test_random_chains_fused_equal_unfused(seed, monkeypatch):
    text, last = random_chain(np.random.default_rng(seed))
    fused, unfused = fused_and_unfused(text, last, seed, monkeypatch)
    assert any(s["status"] == "fused" for s in fused.stats), text
    assert ulps(fused.results[last], unfused.results[last]) <= 1, text


def test_a_chain_flows_into_a_merge_foreground(monkeypatch):
    text = SOURCES + """
  g: {type: grade, input: src, mask: mk, multiply: [1.3, 1.0, 0.8], unpremult: true}
  m: {type: merge, op: over, a: g, b: fg}
"""
    fused, unfused = fused_and_unfused(text, "m", 9, monkeypatch)
    assert {s["name"]: s["status"] for s in fused.stats}["g"] == "fused"
    assert ulps(fused.results["m"], unfused.results["m"]) <= 1


CHAIN = SOURCES + """
  a: {type: grade, input: src, multiply: 1.5}
  b: {type: exposure, input: a, stops: -0.5}
  c: {type: merge, op: over, a: fg, b: b}
"""


def test_intermediates_are_fused_not_cached_and_a_requested_one_splits_the_chain():
    g = graph.load(CHAIN)
    memory = MemoryCache(1 << 30)
    run = g.run(["c"], feed=feed(1), memory=memory)
    stats = {s["name"]: s for s in run.stats}
    assert stats["a"]["status"] == stats["b"]["status"] == "fused"
    assert stats["c"]["status"] == "computed" and stats["c"]["chain"] == ["a", "b", "c"]
    assert len(memory._entries) == 1  # only c's result
    split = g.run(["b", "c"], feed=feed(1), memory=None)
    stats = {s["name"]: s for s in split.stats}
    assert stats["b"]["status"] == "computed" and stats["b"]["chain"] == ["a", "b"]
    assert stats["c"]["status"] == "computed" and "chain" not in stats["c"]
    assert np.array_equal(split.results["c"], run.results["c"])


def test_inputs_that_do_not_line_up_run_node_by_node_with_the_usual_errors():
    text = SOURCES + """
  small: {type: constant, width: 20, height: 10, color: [0.5, 0.2, 0.1, 0.5]}
  a: {type: grade, input: src, multiply: 1.5}
  c: {type: merge, op: over, a: small, b: a}
  bad: {type: set_alpha, input: c, alpha: tiny}
  tiny: {type: rectangle, width: 4, height: 4, box: [0, 0, 2, 2]}
"""
    g = graph.load(text)
    arrays = feed(2)
    placed = g.run(["c"], feed=arrays, memory=None).results["c"]
    expected = g.run(["a", "c"], feed=arrays, memory=None).results["c"]
    assert np.array_equal(placed, expected)
    with pytest.raises(graph.NodeFailure, match="bad.*input sizes differ"):
        g.run(["bad"], feed=arrays, memory=None)


def test_a_chain_shape_compiles_once_into_the_kernel_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(fusion.KERNEL_DIR_ENV, str(tmp_path))
    shape = (("nodes.kernels.grading", "matrix_pixel", ("image",), None, None, "none"),
             ("nodes.kernels.color", "premultiply_pixel", ("image",), 0, 0, "mix"))
    source = fusion.kernel_source(shape)
    assert "pixel_1(red_1, green_1, blue_1, alpha_1, values_1)" in source
    monkeypatch.setattr(fusion, "_KERNELS", {})
    kernel = fusion.kernel_for(shape)
    assert fusion.kernel_for(shape) is kernel
    files = [path.name for path in tmp_path.iterdir() if path.suffix == ".py"]
    assert len(files) == 1 and files[0].startswith("maskgraph_fused_")
    rows = np.random.default_rng(0).random((3, 8), dtype=np.float32)
    out = np.empty_like(rows)
    kernel(rows, tuple(np.eye(3, dtype=np.float32).ravel() * 2), (np.float32(0),),
           np.float32(0.5), False, out, 0, 3)   # rows 0:3
    doubled = rows.reshape(3, 2, 4).copy()
    doubled[..., :3] *= 2
    edited = doubled.copy()
    edited[..., :3] *= edited[..., 3:]
    expected = doubled + (edited - doubled) * np.float64(0.5)
    assert np.allclose(out.reshape(3, 2, 4), expected, atol=1e-6)


def test_cli_stats_mark_the_fused_nodes(tmp_path, capsys):
    import json

    from graph.cli import main
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n"
        "  plate: {type: constant, width: 16, height: 8, color: [0.2, 0.4, 0.6, 1]}\n"
        "  lift: {type: grade, input: plate, add: 0.05}\n"
        "  warm: {type: exposure, input: lift, stops: 0.5}\n"
        "  out: {type: write, input: warm, path: out.png}\n")
    assert main(["run", str(tmp_path / "g.yaml"), "--stats", "json"]) == 0
    stats = {s["name"]: s for s in json.loads(capsys.readouterr().out)["nodes"]}
    assert stats["lift"]["status"] == "fused" and stats["lift"]["chain"] == ["lift", "warm"]
    assert stats["warm"]["status"] == "computed"
    assert (tmp_path / "out.png").exists()
    assert main(["run", str(tmp_path / "g.yaml"), "--stats", "json", "--output", "lift",
                 "--output", "warm"]) == 0
    stats = {s["name"]: s for s in json.loads(capsys.readouterr().out)["nodes"]}
    assert stats["lift"]["status"] in ("computed", "memory") and "chain" not in stats["warm"]
