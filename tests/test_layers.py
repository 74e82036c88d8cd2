"""The engine's three layers, read from the import graph (AST, every import statement,
also those inside functions): graph/ (the engine) imports nothing from nodes/; the
kernels (nodes/kernels/) import neither the engine nor the node wrappers."""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def imports(path: str) -> list[tuple[int, str]]:
    """(line, module) of every import in a file; relative imports made absolute."""
    package = os.path.relpath(os.path.dirname(path), ROOT).replace(os.sep, ".")
    found = []
    for statement in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(statement, ast.Import):
            found += [(statement.lineno, alias.name) for alias in statement.names]
        elif isinstance(statement, ast.ImportFrom):
            if statement.level:
                base = package.split(".")[:len(package.split(".")) - statement.level + 1]
                module = ".".join(base + ([statement.module] if statement.module else []))
            else:
                module = statement.module
            found.append((statement.lineno, module))
            found += [(statement.lineno, f"{module}.{alias.name}") for alias in statement.names]
    return found


def python_files(folder: str):
    for directory, _, files in os.walk(os.path.join(ROOT, folder)):
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(directory, name)


def violations(folder: str, forbidden) -> list[str]:
    return [f"{os.path.relpath(path, ROOT)}:{line}: imports {module}"
            for path in python_files(folder) for line, module in imports(path)
            if any(module == prefix or module.startswith(prefix + ".") for prefix in forbidden)]


def test_the_engine_imports_nothing_from_the_node_library():
    assert violations("graph", ["nodes"]) == []


def test_kernels_import_neither_the_engine_nor_the_node_wrappers():
    wrappers = [name[:-3] for name in os.listdir(os.path.join(ROOT, "nodes"))
                if name.endswith(".py") and name != "__init__.py"]
    forbidden = ["graph"] + [f"nodes.{name}" for name in wrappers] + ["nodes.templates"]
    assert violations("nodes/kernels", forbidden) == []


def test_the_rule_catches_an_import_hidden_in_a_function(tmp_path):
    path = tmp_path / "sample.py"
    path.write_text("def f():\n    from nodes import io\n    import graph.jit\n")
    assert imports(str(path)) == [(2, "nodes"), (2, "nodes.io"), (3, "graph.jit")]
