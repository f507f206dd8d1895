"""tools/build_artifacts.py: what `make build` strips from a layer, and what it keeps."""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def test_report_totals_each_function_with_its_layers_and_fails_over_the_limit(tmp_path, monkeypatch, capsys):
    import json

    import tools.build_artifacts as build_artifacts

    template = tmp_path / "template.yaml"
    template.write_text(
        "Globals:\n  Function:\n    Layers: [!Ref JobsLayer]\n"
        "Resources:\n"
        "  JobsLayer: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: x}}\n"
        "  HeavyLayer: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: y}}\n"
        "  Light: {Type: AWS::Serverless::Function, Properties: {CodeUri: a}}\n"
        "  Heavy: {Type: AWS::Serverless::Function, Properties: {CodeUri: b, Layers: [!Ref HeavyLayer]}}\n"
    )
    build = tmp_path / "build"
    for name, n in (("JobsLayer", 300), ("HeavyLayer", 600), ("Light", 50), ("Heavy", 70)):
        (build / name).mkdir(parents=True)
        (build / name / "blob").write_bytes(b"x" * n)

    monkeypatch.setattr(build_artifacts, "LIMIT", 1000)
    assert build_artifacts.report(build, template) == 0
    sizes = json.loads((build / "sizes.json").read_text())
    assert sizes["functions"] == {
        "Light": {"bytes": 350, "parts": ["Light", "JobsLayer"]},
        "Heavy": {"bytes": 970, "parts": ["Heavy", "JobsLayer", "HeavyLayer"]},
    }
    assert "warning: over 80 %" in capsys.readouterr().out  # Heavy: 97 % of the limit

    monkeypatch.setattr(build_artifacts, "LIMIT", 900)
    assert build_artifacts.report(build, template) == 1
    assert "OVER THE LIMIT" in capsys.readouterr().out


def test_strip_removes_pvlibs_example_data_and_keeps_what_the_computations_read(tmp_path):
    from tools.build_artifacts import _UNUSED_DATA

    data = tmp_path / "python" / "pvlib" / "data"
    _tree(data, ["LinkeTurbidities.h5", "Altitude.h5", *_UNUSED_DATA["pvlib/data"]])
    strip(tmp_path)
    assert sorted(p.name for p in data.iterdir()) == ["Altitude.h5", "LinkeTurbidities.h5"]


def test_the_design_computations_run_on_pvlib_as_the_build_strips_it(tmp_path):
    # pvlib copied and stripped as `make build` strips the science layer, then irradiance (clear sky,
    # so pvlib's Linke turbidity file) and performance simulation run on that copy.
    import pvlib

    shutil.copytree(Path(pvlib.__file__).parent, tmp_path / "python" / "pvlib")
    strip(tmp_path)
    assert not (tmp_path / "python" / "pvlib" / "data" / "723170TYA.CSV").exists()
    code = """
import pvlib
from asyncjobs.actions.irradiance import IrradianceInput
from asyncjobs.actions.performance_simulation import PerformanceInput
from asyncjobs_science import irradiance, performance
site = {"latitude": 39.74, "longitude": -105.18, "elevation_m": 1829, "timezone": "America/Denver"}
face = {"id": "s", "tilt_deg": 30, "azimuth_deg": 180}
summary, _ = irradiance.analyse(IrradianceInput(site=site, faces=[face]))
run = performance.simulate(PerformanceInput(site=site, faces=[{**face, "dc_kw": 4}], inverter={"ac_kw": 3.5}))
print(pvlib.__file__)
print(summary["models"])
print(run.summary["annual_ac_kwh"])
"""
    root = Path(__file__).resolve().parents[2]
    path = [str(tmp_path / "python"), *(str(root / "layers" / layer) for layer in ("jobs", "science"))]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(path)},
    )
    assert out.returncode == 0, out.stderr
    where, models, energy = out.stdout.splitlines()
    assert where.startswith(str(tmp_path))  # the stripped copy ran
    assert "Ineichen" in models and "Solis" not in models  # the Linke turbidity file was read
    assert float(energy) > 1000
