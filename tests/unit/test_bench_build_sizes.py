"""`python -m bench --only build`: the artifact sizes of the last `make build` go into BENCHMARKS.md."""

from __future__ import annotations

import json

import bench.__main__ as bench


def _sizes(build):
    build.mkdir(parents=True)
    mb = 1024 * 1024
    (build / "sizes.json").write_text(
        json.dumps(
            {
                "limit": 262_144_000,
                "artifacts": {"JobsLayer": 15 * mb, "ScienceLayer": 230 * mb, "Run": mb // 2, "Science": mb},
                "functions": {
                    "Run": {"bytes": 15 * mb + mb // 2, "parts": ["Run", "JobsLayer"]},
                    "Science": {"bytes": 246 * mb, "parts": ["Science", "JobsLayer", "ScienceLayer"]},
                },
            }
        )
    )


def test_the_section_lists_the_heaviest_function_first_with_its_share_of_the_limit(tmp_path):
    _sizes(tmp_path / "build")
    section = "\n".join(bench.build_section(tmp_path / "build"))
    assert section.index("| Science | 246.0 | 98% |") < section.index("| Run | 15.5 | 6% |")
    assert "Science 1.0 + JobsLayer 15.0 + ScienceLayer 230.0" in section


def test_without_a_build_the_section_says_how_to_measure(tmp_path):
    assert "run `make build` first" in "\n".join(bench.build_section(tmp_path / "nothing"))


def test_only_build_replaces_its_section_and_keeps_the_others(tmp_path):
    _sizes(tmp_path / "build")
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n## Cold start\n\nfigures\n\n## Cost per job\n\ncost\n")
    assert bench.only_build(out, tmp_path / "build") == 0
    first = out.read_text()
    assert (
        first.index("## Cold start") < first.index("## Build artifact sizes") < first.index("## Cost per job")
    )
    assert "| Science | 246.0 | 98% |" in first and "cost\n" in first and "figures\n" in first
    assert bench.only_build(out, tmp_path / "build") == 0
    assert out.read_text() == first  # replaced in place, not added twice
    assert bench.only_build(out, tmp_path / "none") == 1
