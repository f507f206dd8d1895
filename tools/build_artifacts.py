"""After `sam build` (`make build`): strip what a layer does not need at run time, and report each
artifact's size against Lambda's limit.

    python -m tools.build_artifacts strip .aws-sam/build/ScienceLayer
    python -m tools.build_artifacts sourceless .aws-sam/build/ScienceLayer   # after compileall -b
    python -m tools.build_artifacts report .aws-sam/build

Lambda refuses a function whose code and layers, unzipped, exceed 250 MB (262,144,000 bytes), and
counts every layer it carries. `report` prints each build directory's size, then each function's
total (its code, Globals' layers and its own), and exits 1 if one is over the limit; it warns at
80 %. Runs with the SAM CLI's Python (it reads template.yaml with samtranslator's YAML parser).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

LIMIT = 262_144_000  # Lambda: code + layers, unzipped
WARN = 0.8
TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
SIZES = "sizes.json"  # written by `report` into the build directory

# Shared objects are not stripped of symbols: the wheels' are patched by auditwheel (patchelf), and
# stripping them again breaks some (scipy's `_fblas`: "ELF load command address/offset not
# page-aligned" at import, checked on x86_64 wheels).

# Directories no import needs: packages' test suites (numpy, pandas, scipy, shapely and pvlib ship
# theirs: pandas' alone is tens of MB), and bytecode of other Pythons than the runtime's.
_TEST_DIRS = {"tests", "test"}
# Files no import needs: Cython sources and declarations, C sources and headers (for building
# extensions against numpy), type stubs.
_SUFFIXES = (".pyx", ".pxd", ".pxi", ".c", ".cpp", ".h", ".hpp", ".pyi")
_RUNTIME_TAG = "cpython-313"
# Data files a package ships for its examples and for lookups the project's computations never
# make (tests/unit/test_build_artifacts.py runs them on pvlib stripped so): pvlib's example weather
# years and its CEC/Sandia/ADR module and inverter libraries (`retrieve_sam`), 12 MB of the science
# layer's 250 MB budget. Kept: LinkeTurbidities.h5 (Ineichen clear sky), Altitude.h5
# (`lookup_altitude`) and ASTMG173.csv (the reference spectrum). An action that needs one of these
# files must take it off this list.
_UNUSED_DATA = {
    "pvlib/data": (
        "12839.tm2",
        "703165TY.csv",
        "723170TYA.CSV",
        "adr-library-cec-inverters-2019-03-05.csv",
        "sam-library-cec-inverters-2019-03-05.csv",
        "sam-library-cec-modules-2019-03-05.csv",
        "sam-library-sandia-modules-2015-6-30.csv",
        "soiling_hsu_example_inputs.csv",
    ),
}


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def strip(root: Path) -> int:
    """Removes test suites, sources and foreign bytecode below `root`; returns the bytes freed."""
    before = size(root)
    for dirpath, dirnames, filenames in os.walk(root, topdown=True):
        here = Path(dirpath)
        for name in list(dirnames):
            # a package's test suite: `tests/` inside an importable package (not a top-level
            # distribution that happens to be named so)
            if name in _TEST_DIRS and (here / "__init__.py").exists():
                shutil.rmtree(here / name)
                dirnames.remove(name)
        for name in filenames:
            path = here / name
            # bytecode of another Python in __pycache__ (legacy `x.pyc` beside `x.py` is kept)
            foreign_pyc = name.endswith(".pyc") and here.name == "__pycache__" and _RUNTIME_TAG not in name
            if name.endswith(_SUFFIXES) or foreign_pyc:
                path.unlink()
    for where, names in _UNUSED_DATA.items():
        for name in names:
            (root / "python" / where / name).unlink(missing_ok=True)
    return before - size(root)


def sourceless(root: Path) -> int:
    """Deletes each `.py` that has its bytecode beside it (`compileall -b`, the legacy location
    Python imports from when the source is absent); returns the bytes freed. This project's own
    packages (`asyncjobs*`) keep their sources, so their tracebacks show the failing line.

    For the science layer: numpy, pandas, scipy and pvlib with both their sources and bytecode do
    not fit Lambda's 250 MB next to the jobs layer, and without bytecode every cold start would
    compile them again (Lambda's code directories are read-only). The cost: a traceback through
    these libraries shows file and line, not the line's text."""
    freed = 0
    for pyc in root.rglob("*.pyc"):
        if pyc.parent.name == "__pycache__":
            continue
        source = pyc.with_suffix(".py")
        if _own(root, pyc):
            pyc.unlink()  # its source stays, and is compiled to __pycache__ as everywhere else
        elif source.is_file():
            freed += source.stat().st_size
            source.unlink()
    for cache in [d for d in root.rglob("__pycache__") if d.is_dir()]:
        shutil.rmtree(cache)
    return freed


def _own(root: Path, path: Path) -> bool:
    """Inside a top-level package of this project (`python/asyncjobs*`)."""
    parts = path.relative_to(root).parts
    return any(p.startswith("asyncjobs") for p in parts[:2])


def _layers(template: dict[str, Any], function: dict[str, Any]) -> list[str]:
    """Logical ids of a function's layers: Globals' first, then its own (SAM appends them)."""
    globals_ = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    refs = [*globals_, *function["Properties"].get("Layers", [])]
    return [r["Ref"] for r in refs if isinstance(r, dict) and "Ref" in r]


def measure(build: Path, template_path: Path = TEMPLATE) -> dict[str, Any]:
    """Each build directory's size, and each function's total with the layers it carries."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(template_path.read_text())
    sizes = {d.name: size(d) for d in sorted(build.iterdir()) if d.is_dir()}
    functions = {}
    for lid, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function" or lid not in sizes:
            continue
        parts = [lid, *_layers(template, res)]
        functions[lid] = {"bytes": sum(sizes.get(p, 0) for p in parts), "parts": parts}
    return {"limit": LIMIT, "artifacts": sizes, "functions": functions}


def report(build: Path, template_path: Path = TEMPLATE) -> int:
    """Prints the sizes, writes them to `<build>/sizes.json` (for `python -m bench --only build`),
    and answers 1 if a function is over the limit."""
    measured = measure(build, template_path)
    (build / SIZES).write_text(json.dumps(measured, indent=1) + "\n")
    mb = 1024 * 1024
    print("artifact sizes (unzipped):")
    for name, n in measured["artifacts"].items():
        print(f"  {name:<32} {n / mb:8.1f} MiB")
    failed = False
    print(f"function + layers (Lambda's limit: {LIMIT / mb:.0f} MiB):")
    for lid, function in measured["functions"].items():
        total, parts = function["bytes"], function["parts"]
        mark = "OVER THE LIMIT" if total > LIMIT else "warning: over 80 %" if total > WARN * LIMIT else ""
        failed = failed or total > LIMIT
        print(f"  {lid:<32} {total / mb:8.1f} MiB  ({' + '.join(parts)}) {mark}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["strip", "sourceless", "report"])
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    if args.command == "strip":
        freed = strip(args.path)
        print(f"stripped {args.path}: {freed / 1024 / 1024:.1f} MiB of tests, sources and foreign bytecode")
        return 0
    if args.command == "sourceless":
        freed = sourceless(args.path)
        print(f"sourceless {args.path}: {freed / 1024 / 1024:.1f} MiB of sources with bytecode beside them")
        return 0
    return report(args.path)


if __name__ == "__main__":
    sys.exit(main())
