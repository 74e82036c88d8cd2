"""The example graphs load, the built-in templates are each used by one, and the generated
node reference in docs/ is current."""
import glob
import os

import pytest

import graph
from graph.docs import reference_markdown
from graph.templates import list_templates

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "graphs_examples", "*.yaml")))
BUILTIN = os.path.join(ROOT, "nodes", "templates")


def load_or_skip_for_models(path):
    """Load an example; skip (with the install command) when its only problems are the
    optional segmentation models or runtimes, absent on a fresh machine."""
    try:
        return graph.load(path)
    except graph.GraphError as error:
        from nodes import models
        ready = not models.missing_files(models.MODEL_FILES) and \
            not models.missing_runtimes(models.MODEL_FILES)
        if not ready and all(models.FETCH_COMMAND in p.message for p in error.problems):
            pytest.skip(f"{os.path.basename(path)} needs the segmentation models: "
                        "pip install -e '.[semantic]' && maskgraph models fetch")
        raise


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_example_graph_is_valid(path):
    with open(path, encoding="utf-8") as handle:
        if "\ncolour:" in handle.read():  # colour-managed examples need OpenColorIO
            pytest.importorskip("PyOpenColorIO", reason="pip install 'maskgraph[colour]'")
    g = load_or_skip_for_models(path)
    assert g.sinks(), "an example writes something"


def test_every_builtin_template_is_used_by_an_example():
    texts = "".join(open(path).read() for path in EXAMPLES)
    builtins = [name for name, path in list_templates().items()
                if os.path.dirname(path) == BUILTIN]
    assert len(builtins) >= 6
    for name in builtins:
        assert f"file: {name}" in texts, f"no example uses the built-in template {name}"


def test_node_reference_in_docs_is_generated_from_the_specs():
    with open(os.path.join(ROOT, "docs", "nodes.md"), encoding="utf-8") as handle:
        written = handle.read()
    assert written == reference_markdown(graph.default_registry()) + "\n", \
        "docs/nodes.md is stale: run `maskgraph nodes --markdown > docs/nodes.md`"


def test_flagship_example_renders(tmp_path):
    g = graph.load(os.path.join(ROOT, "graphs_examples", "green_screen.yaml"))
    for node in g.nodes.values():  # write into the test's folder, not the repo
        if node.type == "write":
            node.params["path"] = str(tmp_path / os.path.basename(node.values["path"]))
    results = g.evaluate()
    comp = results["write_comp"]
    assert comp.shape[2] == 4 and comp.min() >= 0
    assert len(os.listdir(tmp_path)) == 3
