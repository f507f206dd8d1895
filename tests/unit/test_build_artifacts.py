"""tools/build_artifacts.py: what `make build` strips from a layer, and what it keeps."""

from __future__ import annotations

import compileall
import subprocess
import sys

from tools.build_artifacts import sourceless, strip


def _tree(root, files):
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


def test_strip_removes_test_suites_sources_and_foreign_bytecode_only(tmp_path):
    # Given a layer with a package, its tests, Cython and C sources, and bytecode of two Pythons
    _tree(
        tmp_path,
        [
            "python/pkg/__init__.py",
            "python/pkg/core.py",
            "python/pkg/data/table.csv",
            "python/pkg/tests/__init__.py",
            "python/pkg/tests/test_core.py",
            "python/pkg/_speed.pyx",
            "python/pkg/_speed.c",
            "python/pkg/include/api.h",
            "python/pkg/__pycache__/core.cpython-312.pyc",
            "python/pkg/__pycache__/core.cpython-313.pyc",
            "python/pkg/legacy.pyc",
            "python/tests/conftest.py",  # a top-level directory, not inside a package: kept
        ],
    )
    # When it is stripped
    strip(tmp_path)
    # Then what an import needs stays, and only that went
    left = sorted(str(p.relative_to(tmp_path / "python")) for p in tmp_path.rglob("*") if p.is_file())
    assert left == [
        "pkg/__init__.py",
        "pkg/__pycache__/core.cpython-313.pyc",
        "pkg/core.py",
        "pkg/data/table.csv",
        "pkg/legacy.pyc",
        "tests/conftest.py",
    ]


def test_sourceless_layer_imports_from_its_bytecode(tmp_path):
    # Given a package compiled beside its sources (`compileall -b`)
    _tree(tmp_path, ["python/pkg/__init__.py", "python/pkg/core.py", "python/pkg/notes.txt"])
    (tmp_path / "python/pkg/core.py").write_text("VALUE = 42\n")
    assert compileall.compile_dir(tmp_path / "python", quiet=1, legacy=True)
    compileall.compile_dir(tmp_path / "python", quiet=1)  # __pycache__ too, as `make build` makes
    # When its sources are removed
    sourceless(tmp_path)
    # Then no .py and no __pycache__ is left, and it still imports
    assert not list(tmp_path.rglob("*.py")) and not list(tmp_path.rglob("__pycache__"))
    assert (tmp_path / "python/pkg/notes.txt").exists()
    out = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import pkg.core as c; print(c.VALUE)",
            str(tmp_path / "python"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "42"


def test_sourceless_keeps_the_projects_own_sources(tmp_path):
    # Given the project's science package and a library, both compiled beside their sources
    _tree(tmp_path, ["python/asyncjobs_science/__init__.py", "python/lib/__init__.py"])
    assert compileall.compile_dir(tmp_path / "python", quiet=1, legacy=True)
    # When the layer is made sourceless
    sourceless(tmp_path)
    # Then the library ships bytecode only, the project's package its source only (compiled later)
    left = sorted(str(p.relative_to(tmp_path / "python")) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["asyncjobs_science/__init__.py", "lib/__init__.pyc"]
