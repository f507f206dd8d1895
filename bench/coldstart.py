"""Cold start per function: a fresh interpreter imports the handler and serves its first event
(AWS answered by a moto server), against the floor: `import boto3` and creating the clients that
first event needs. Three builds of each function:

- dev: the repository's source, bytecode cached (what `make local` runs);
- shipped: the code and layer dependencies as `sam build` ships them: no .pyc, read-only, so
  every cold start compiles every module it imports (boto3 comes with the runtime, compiled);
- compiled: the same, with the .pyc `make build` adds (`compileall --invalidation-mode
  unchecked-hash`: valid whatever the file times in the zip).
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.stack import CLIENTS, ROOT, BenchStack

CHILD = Path(__file__).with_name("child.py")
VARIANTS = ("floor", "dev", "shipped", "compiled")


def _requirements(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.append(line.split("==")[0].split(">=")[0].split("[")[0].strip())
    return names


def _closure(names: list[str]) -> set[str]:
    """The distributions the layer installs: its requirements and theirs (no extras)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            todo.append(
                req.split(";")[0]
                .split("[")[0]
                .split("(")[0]
                .split(" ")[0]
                .split("<")[0]
                .split(">")[0]
                .split("=")[0]
                .split("!")[0]
                .split("~")[0]
                .strip()
            )
    return seen - {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}


def build_shipped(dest: Path, functions: dict[str, Path], layer: Path) -> None:
    """Lays out what `sam build` produces, for this machine's platform: each function's code, and
    the layer (our package plus its dependencies) with no bytecode at all."""
    for name, code in functions.items():
        shutil.copytree(code, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    site = dest / "layer" / "python"
    shutil.copytree(
        layer / "asyncjobs", site / "asyncjobs", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    for dist_name in _closure(_requirements(layer / "requirements.txt")):
        dist = metadata.distribution(dist_name)
        for file in dist.files or []:
            if "__pycache__" in file.parts or file.suffix == ".pyc" or file.parts[0].startswith(".."):
                continue
            src = Path(str(dist.locate_file(file)))
            if src.is_file():
                (site / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, site / file)


def _run(spec: dict[str, Any], env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(CHILD), json.dumps(spec)], env=env, capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        raise RuntimeError(f"cold start run failed: {out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(
    stack: BenchStack,
    rounds: int,
    functions: list[str] | None = None,
    variants: tuple[str, ...] = VARIANTS,
) -> dict[str, dict[str, float]]:
    """Median ms per function and variant, runs interleaved so drift hits every variant alike: each
    round runs every function's variants once, in a random order. `functions` (default: every
    function of the template) and `variants` (default: all) narrow it down."""
    names = functions or list(stack.stack.functions)
    specs = {name: stack.stack.functions[name] for name in names}
    layer = ROOT / "layers" / "jobs"
    work = Path(tempfile.mkdtemp(prefix="coldstart-"))
    try:
        if "shipped" in variants or "compiled" in variants:
            build_shipped(work / "shipped", {k: v.code_dir for k, v in specs.items()}, layer)
        if "compiled" in variants:
            shutil.copytree(work / "shipped", work / "compiled")
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "compileall",
                    "-q",
                    "--invalidation-mode",
                    "unchecked-hash",
                    str(work / "compiled"),
                ],
                check=True,
            )
        samples: dict[str, dict[str, list[float]]] = {f: {v: [] for v in variants} for f in specs}
        for _ in range(rounds):
            for function, spec_ in specs.items():
                order = list(variants)
                random.shuffle(order)
                for variant in order:
                    env = stack.env(function)
                    expected: Any = None
                    if variant == "floor":
                        spec = {"mode": "floor", "services": CLIENTS[function]}
                    else:
                        event, expected = stack.first_event(function)
                        paths = {
                            "dev": [str(spec_.code_dir), str(layer)],
                            "shipped": [
                                str(work / "shipped" / function),
                                str(work / "shipped" / "layer" / "python"),
                            ],
                            "compiled": [
                                str(work / "compiled" / function),
                                str(work / "compiled" / "layer" / "python"),
                            ],
                        }[variant]
                        spec = {
                            "mode": "handler",
                            "paths": paths,
                            "handler": spec_.handler,
                            "event": event,
                            "context": {"name": spec_.name, "memory": spec_.memory, "timeout": spec_.timeout},
                        }
                    if variant == "dev":
                        env.pop("PYTHONDONTWRITEBYTECODE", None)  # the repository keeps its cache
                    result = _run(spec, env)
                    if variant != "floor" and result["answer"] != expected:
                        raise RuntimeError(
                            f"{function} ({variant}) answered {result['answer']!r}, not {expected!r}"
                        )
                    samples[function][variant].append(result["ms"])
        return {f: {v: statistics.median(s) for v, s in vs.items()} for f, vs in samples.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def table(cold: dict[str, dict[str, float]], target: float) -> str:
    """The medians, and each variant's ratio to the floor, as a Markdown table."""
    variants = [v for v in VARIANTS if v in next(iter(cold.values()))]
    lines = [
        "| function | " + " | ".join(f"{v} ms" + ("" if v == "floor" else " (x)") for v in variants) + " |",
        "| --- |" + " --- |" * len(variants),
    ]
    for fn, v in cold.items():
        cells = []
        for variant in variants:
            ms = v[variant]
            if variant == "floor":
                cells.append(f"{ms:.0f}")
            else:
                ratio = ms / v["floor"]
                cells.append(f"{ms:.0f} ({ratio:.2f}x{'' if ratio <= target else ' missed'})")
        lines.append(f"| {fn} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
