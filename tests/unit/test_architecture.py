"""The package's shape: dependencies point one way (handlers → http → contexts → aws), with no
cycles, and every module loads on its own."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "jobs" / "asyncjobs"
CONTEXTS = ("actions", "jobs", "tenancy", "webhooks")
# Only the HTTP side knows HTTP; only aws/ talks to the SDK.
HTTP_ONLY = ("asyncjobs.http", "aws_lambda_powertools.event_handler")
AWS_ONLY = ("boto3", "botocore")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, top_level_only: bool = False) -> list[str]:
    """Every module `path` imports (`from a import b` counts as `a.b` too: b may be a module)."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: list[str] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            found.append(node.module or "")
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def _within(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


@pytest.mark.parametrize(
    "module", [m for m in MODULES if _within(m, tuple(f"asyncjobs.{c}" for c in CONTEXTS))]
)
def test_contexts_do_not_know_http(module):
    # Given a module of a bounded context, when its imports are read (lazy ones included),
    # then none is the HTTP side of the API
    offending = [name for name in _imports(MODULES[module]) if _within(name, HTTP_ONLY)]
    assert offending == [], f"{module} imports {offending}"


def test_only_aws_imports_the_sdk():
    offending = {
        module: names
        for module, path in MODULES.items()
        if not _within(module, ("asyncjobs.aws",))
        and (names := [n for n in _imports(path) if _within(n, AWS_ONLY)])
    }
    assert offending == {}


def test_no_import_cycles():
    # Given the graph of module-level imports between the package's own modules
    graph = {
        module: {name for name in _imports(path, top_level_only=True) if name in MODULES and name != module}
        for module, path in MODULES.items()
    }

    # When it is walked depth first, then no module is reached again from itself
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            cycle = [*trail[trail.index(module) :], module]
            pytest.fail("import cycle: " + " → ".join(cycle))
        if module in done:
            return
        for name in sorted(graph[module]):
            visit(name, [*trail, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


_LOAD_EACH = """
import importlib, sys, traceback
failed = []
for module in sys.argv[1:]:
    for name in [n for n in sys.modules if n == "asyncjobs" or n.startswith("asyncjobs.")]:
        del sys.modules[name]
    try:
        importlib.import_module(module)
    except Exception:
        failed.append(module + ": " + traceback.format_exc().strip().splitlines()[-1])
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_loads_on_its_own():
    # Given a fresh interpreter, when each module is imported first (none of the package loaded
    # before it), then every one loads: no cycle or import-order dependency hides behind another
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_EACH, *sorted(MODULES)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PACKAGE.parents[2],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), str(PACKAGE.parents[2])])},
    )
    assert out.returncode == 0, out.stdout + out.stderr
