"""The design actions' wrappers (`asyncjobs_science.actions`) and their input models
(`asyncjobs.actions.<action>`): what RunFunction can check without the science layer, what the
science executor does with files and sizes, and the results chain."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from asyncjobs.actions.polygons import MAX_INPUT_VERTICES, check_polygon, self_intersection
from asyncjobs.actions.proposal_pdf import ProposalInput
from asyncjobs.actions.registry import ACTIONS
from asyncjobs.errors import ActionFailed
from asyncjobs.jobs.runner import MAX_INLINE_RESULT_BYTES
from asyncjobs_science.actions import CLEAR_SKY_PROPOSAL_NOTE
from asyncjobs_science.irradiance import CLEAR_SKY_WARNING
from tests.design_examples import (
    BOWTIE,
    IRRADIANCE,
    MODULE,
    PERFORMANCE,
    ROOF,
    autodesigner_input,
    performance_input,
    proposal_input,
)
from tests.support import ROOT

DESIGN_ACTIONS = ("fire_pathways", "autodesigner", "irradiance", "performance_simulation")


class Context:
    """A job context that records progress and saved files (the runner's is tested elsewhere)."""

    tenant_id, job_id, path_params, attempt = "acme", "job_1", {"design_id": "d-1"}, 1

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.progress: list[float] = []
        self.saved: dict[str, bytes] = {}
        self.uploads = files or {}

    def report_progress(self, percent: float) -> None:
        self.progress.append(percent)

    def check_cancelled(self) -> None:
        pass

    def save_file(self, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        self.saved[name] = data
        return {"name": name, "content_type": content_type, "size_bytes": len(data)}

    def read_file(self, file_id: str, max_bytes: int | None = None) -> bytes:
        return self.uploads[file_id]

    def remaining_seconds(self) -> float:
        return 900.0


def _run(name: str, body: dict[str, Any], ctx: Context | None = None) -> tuple[dict[str, Any], Context]:
    action = ACTIONS[name]
    ctx = ctx or Context()
    result = action.run(action.input_model.model_validate(body), ctx)
    json.dumps(result)  # a job's result is JSON
    return result, ctx


# -- what RunFunction can do ---------------------------------------------------------------------

_BLOCKED_PROBE = r"""
import json, sys
from importlib.abc import MetaPathFinder

BLOCKED = {"pvlib", "shapely", "numpy", "pandas", "scipy"}

class Blocker(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not in RunFunction's layers")
        return None

sys.meta_path.insert(0, Blocker())
from pydantic import ValidationError
from asyncjobs.actions.registry import ACTIONS

cases = json.loads(sys.argv[1])
out = {}
for name, (good, bad) in cases.items():
    model = ACTIONS[name].input_model
    model.model_validate(good)
    try:
        model.model_validate(bad)
        out[name] = None
    except ValidationError as error:
        out[name] = [" ".join(map(str, e["loc"])) + ": " + e["msg"] for e in error.errors()]
print(json.dumps({"refused": out, "loaded": sorted(m for m in BLOCKED if m in sys.modules)}))
"""


def test_input_models_validate_where_the_science_libraries_are_missing():
    # Given a fresh interpreter as RunFunction has it: the jobs layer only on the path, and pvlib,
    # shapely, numpy, pandas and scipy unimportable (the shared venv has them: a finder refuses them)
    bad_roof = {"faces": [{**ROOF["faces"][0], "vertices": BOWTIE}]}
    bad_design = {"faces": [{"id": "f", "usable": [{"exterior": BOWTIE}]}], "module": MODULE}
    cases = {
        "fire_pathways": [ROOF, bad_roof],
        "autodesigner": [
            {
                "faces": [{"id": "f", "usable": [{"exterior": [[0, 0], [5, 0], [5, 4], [0, 4]]}]}],
                "module": MODULE,
            },
            bad_design,
        ],
        "irradiance": [IRRADIANCE, {**IRRADIANCE, "albedo": 2}],
        "performance_simulation": [PERFORMANCE, {**PERFORMANCE, "inverter": {}}],
    }
    probe = subprocess.run(
        [sys.executable, "-c", _BLOCKED_PROBE, json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT / "layers" / "jobs"), "PATH": "/usr/bin:/bin"},
    )
    assert probe.returncode == 0, probe.stderr
    out = json.loads(probe.stdout.strip().splitlines()[-1])
    # When each action's input model validates an example and a bad input, then the example passed,
    # the bad input was refused with what to fix, and none of the blocked libraries was loaded
    assert out["loaded"] == []
    refused = out["refused"]
    assert set(refused) == set(DESIGN_ACTIONS)
    assert "face 'south': the polygon is invalid (Self-intersection" in refused["fire_pathways"][0]
    assert "list the vertices in order" in refused["fire_pathways"][0]
    assert "face 'f' usable[0]: the polygon is invalid" in refused["autodesigner"][0]
    assert refused["irradiance"] == ["albedo: Input should be less than or equal to 1"]
    assert refused["performance_simulation"] == ["inverter ac_kw: Field required"]


def test_the_blocker_in_the_probe_does_block():
    # Given the same probe's finder, when a blocked library is imported, then it fails (else the
    # test above would pass vacuously on the shared venv, which has them)
    code = _BLOCKED_PROBE.split("from pydantic")[0] + "import shapely\n"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "not in RunFunction's layers" in probe.stderr


# -- the pure-Python polygon check ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("ring", "expected"),
    [
        ([(0, 0), (4, 0), (4, 4), (0, 4)], None),
        ([(0, 0), (4, 0), (4, 4), (0, 4), (0, 0)], None),  # explicitly closed
        ([(0, 0), (4, 4), (4, 0), (0, 4)], (0, 2)),  # bow tie
        ([(0, 0), (4, 0), (2, 2), (4, 4), (0, 4), (2, 2)], (1, 4)),  # two loops touching at a vertex
        ([(0, 0), (4, 0), (4, 4), (4, 2)], (2, 3)),  # a spike folding back along an edge
        ([(0, 0), (6, 0), (6, 4), (3, 0.0), (0, 4)], (0, 2)),  # a vertex touching another edge
    ],
)
def test_self_intersections_are_found_without_shapely(ring, expected):
    from asyncjobs.actions.polygons import _open_ring

    found = self_intersection(_open_ring(ring, "t"))
    assert (found is None) if expected is None else (found is not None), found
    # and shapely agrees (the second line in the science code)
    from shapely import Polygon

    assert Polygon(_open_ring(ring, "t")).is_valid == (expected is None)


def test_polygon_check_messages_name_the_fix():
    with pytest.raises(ValueError, match="every vertex must be a finite"):
        check_polygon([(0, 0), (float("nan"), 0), (1, 1)], what="f")
    with pytest.raises(ValueError, match="at least 3 distinct vertices"):
        check_polygon([(0, 0), (1, 1), (0, 0), (1, 1)], what="f")
    with pytest.raises(ValueError, match=r"area is 0\.005 m², below 0\.01 m²"):
        check_polygon([(0, 0), (0.1, 0), (0.1, 0.1)], what="f")
    with pytest.raises(ValueError, match="f hole 0: the hole is invalid"):
        check_polygon([(0, 0), (9, 0), (9, 9), (0, 9)], [[(1, 1), (3, 3), (3, 1), (1, 3)]], what="f")
    assert check_polygon([(0, 0), (9, 0), (9, 9), (0, 9)], [[(1, 1), (3, 1), (3, 3), (1, 3)]], what="f") == 77


def test_vertices_of_an_input_are_capped_before_any_polygon_is_checked():
    square = [[0, 0], [5, 0], [5, 4], [0, 4]]
    areas = [{"exterior": square}] * 100
    faces = [{"id": f"f{i}", "usable": areas} for i in range(MAX_INPUT_VERTICES // 400 + 1)]
    with pytest.raises(ValidationError, match=f"at most {MAX_INPUT_VERTICES} per request"):
        ACTIONS["autodesigner"].input_model.model_validate({"faces": faces, "module": MODULE})


# -- the wrappers -------------------------------------------------------------------------------


HOLE_OUTSIDE = {
    "faces": [
        {
            "id": "f",
            "usable": [
                {"exterior": [[0, 0], [4, 0], [4, 4], [0, 4]], "holes": [[[10, 10], [11, 10], [11, 11]]]}
            ],
        }
    ],
    "module": MODULE,
}


def test_a_hole_outside_its_polygon_is_refused_at_once_naming_the_hole():
    # Given a hole outside its polygon: the pure-Python check tests containment (point in polygon)
    with pytest.raises(ValidationError, match=r"face 'f' usable\[0\] hole 0: it lies outside the outline"):
        ACTIONS["autodesigner"].input_model.model_validate(HOLE_OUTSIDE)


def test_shapely_is_the_second_line_and_fails_the_job_invalid_geometry(monkeypatch):
    # Given a polygon the first line lets through (here by switching it off: since it tests holes'
    # containment and contact too, no plain example is known), shapely does not
    import asyncjobs.actions.autodesigner as inputs

    monkeypatch.setattr(inputs, "check_polygon", lambda *args, **kwargs: 1.0)
    with pytest.raises(ActionFailed) as caught:
        _run("autodesigner", HOLE_OUTSIDE)
    assert caught.value.code == "invalid_geometry"
    # (and the hole is named as the problem, the outline being fine)
    assert "face 'f' usable[0]: a hole is invalid (Hole lies outside shell" in caught.value.message


def test_the_chain_fire_pathways_to_proposal_lines_up():
    # Given fire pathways' result
    fire, ctx = _run("fire_pathways", ROOF)
    assert ctx.progress == sorted(ctx.progress) and ctx.progress[-1] >= 90
    assert ctx.saved == {}  # small: inline
    # When AutoDesigner's input is built from it
    design, ctx = _run("autodesigner", autodesigner_input(fire))
    assert ctx.progress == sorted(ctx.progress) and len(ctx.progress) >= 3
    # Then its layout is inline and a file, and its performance faces carry every face with modules
    layout = json.loads(ctx.saved["layout.json"])
    assert design["layout"] == "inline" and layout["faces"] == design["faces"]
    assert [f["id"] for f in design["performance_faces"]] == ["south", "north"]
    assert sum(f["module_count"] for f in design["performance_faces"]) == design["count"] > 0
    # and performance simulation's result provides proposal_pdf's fields (without a weather file,
    # `notes` saying the production is a cloudless upper bound, which the PDF prints)
    simulated, ctx = _run("performance_simulation", performance_input(design))
    assert simulated["module_count"] == design["count"]
    assert simulated["proposal"] == {
        "system_size_kw": design["dc_kw"],
        "annual_production_kwh": simulated["annual_ac_kwh"],
        "module_count": design["count"],
        "notes": CLEAR_SKY_PROPOSAL_NOTE,
    }
    proposal = ProposalInput.model_validate(proposal_input(simulated))
    assert proposal.module_count == design["count"] and proposal.notes == CLEAR_SKY_PROPOSAL_NOTE
    rows = ctx.saved["performance_hourly.csv"].decode().splitlines()
    assert rows[0] == "time,ac_w,dc_w" and len(rows) == 8761


def test_a_large_layout_is_a_file_and_the_result_stays_inline():
    # Given a 60 m x 30 m flat area (~900 modules: far over 32 KiB of corners)
    body = {
        "faces": [
            {
                "id": "big",
                "usable": [{"exterior": [[0, 0], [60, 0], [60, 30], [0, 30]]}],
                "tilt_deg": 10,
                "azimuth_deg": 180,
            }
        ],
        "module": MODULE,
        "orientation": "portrait",
        "offset_steps": 1,
    }
    result, ctx = _run("autodesigner", body)
    # Then the corners are in layout.json only; counts and DC size stay in the result
    layout = json.loads(ctx.saved["layout.json"])
    modules = layout["faces"][0]["areas"][0]["modules"]
    assert len(modules) == result["count"] == result["faces"][0]["module_count"] > 800
    assert result["layout"] == "file" and "modules" not in result["faces"][0]["areas"][0]
    assert len(json.dumps(result, separators=(",", ":"))) < MAX_INLINE_RESULT_BYTES


def test_a_large_fire_pathways_result_moves_its_setback_polygons_to_a_file():
    # Given a roof of 150 faces (a result over 48 KiB with its setback polygons)
    faces = [{**ROOF["faces"][i % 2], "id": f"f{i}"} for i in range(150)]
    result, ctx = _run("fire_pathways", {"faces": faces})
    full = json.loads(ctx.saved["fire_pathways.json"])
    assert "polygons" in full["faces"][0]["setbacks"][0]
    assert "polygons" not in result["faces"][0]["setbacks"][0]
    assert result["faces"][0]["usable"] == full["faces"][0]["usable"]  # what AutoDesigner needs stays
    assert result["files"][0]["name"] == "fire_pathways.json"
    assert len(json.dumps(result, separators=(",", ":"))) < MAX_INLINE_RESULT_BYTES


def test_irradiance_saves_the_hourly_csv_and_reads_an_uploaded_weather_file():
    result, ctx = _run("irradiance", IRRADIANCE)
    rows = ctx.saved["irradiance_hourly.csv"].decode().splitlines()
    assert rows[0] == "time,ghi,south_poa_global" and len(rows) == 8761
    assert result["files"][0]["name"] == "irradiance_hourly.csv"
    assert "Ineichen" in result["models"]["irradiance"]
    # A weather file of constant 100/50/50 W/m²: the site's GHI is 100 W/m² x 8,760 h
    csv = "ghi,dni,dhi\n" + "100,50,50\n" * 8760
    ctx = Context({"file_0123456789abcdef0123456789abcdef": csv.encode()})
    result, _ = _run(
        "irradiance", {**IRRADIANCE, "weather_file": "file_0123456789abcdef0123456789abcdef"}, ctx
    )
    assert result["site"]["ghi"]["annual_kwh_m2"] == pytest.approx(876.0)
    assert result["models"]["irradiance"] == "uploaded hourly weather file"


def test_a_bad_weather_file_fails_invalid_weather():
    ctx = Context({"file_0123456789abcdef0123456789abcdef": b"ghi,dni\n1,2\n"})
    with pytest.raises(ActionFailed) as caught:
        _run(
            "performance_simulation",
            {**PERFORMANCE, "weather_file": "file_0123456789abcdef0123456789abcdef"},
            ctx,
        )
    assert caught.value.code == "invalid_weather" and "dhi" in caught.value.message


# -- review (i14) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "holes",
    [
        [[[4, 0], [5, 0], [5, 1], [4, 1]]],  # a skylight drawn flush with the eave: shares its edge
        [[[4, 2], [6, 2], [6, 4], [4, 4]], [[5, 3], [7, 3], [7, 5], [5, 5]]],  # two overlapping holes
    ],
)
def test_a_hole_touching_its_outline_or_another_hole_is_named_as_the_problem(holes):
    body = {
        "faces": [{"id": "f", "usable": [{"exterior": [[0, 0], [10, 0], [10, 6], [0, 6]], "holes": holes}]}],
        "module": MODULE,
    }
    # When the request is validated (RunFunction: a 422) or else run (the job fails invalid_geometry)
    try:
        ACTIONS["autodesigner"].input_model.model_validate(body)
    except ValidationError as error:
        message = str(error)
    else:
        with pytest.raises(ActionFailed) as caught:
            _run("autodesigner", body)
        message = caught.value.message
    # Then the message says a hole is at fault, not "list the vertices in order around the outline,
    # without self-intersections" about an outline that is a plain rectangle
    assert "hole" in message, message


def test_a_simulation_without_weather_says_its_yield_is_a_cloudless_upper_bound():
    # Given a performance simulation without a weather file: a clear-sky year, every hour cloudless
    # (Golden, CO: ~1,900 kWh/kWp where PVWatts' TMY gives ~1,600; Tromsø ~1,220 where PVGIS gives
    # ~700-800), whose `proposal` goes as is into a customer's proposal PDF as year-one production
    result, _ = _run("performance_simulation", PERFORMANCE)
    # Then the result says so beside the figures, not only in models.irradiance's model name
    warnings = " ".join([*result.get("warnings", []), result["proposal"].get("note", "")]).lower()
    assert "clear" in warnings and ("upper bound" in warnings or "cloud" in warnings), result.get("warnings")


@pytest.mark.parametrize(
    ("holes", "message"),
    [
        ([[[1, 1], [5, 1], [5, 5], [1, 5]], [[2, 2], [3, 2], [3, 3]]], "hole 1: it lies inside hole 0"),
        ([[[0, 3], [1, 2], [1, 4]]], "hole 0: its edge"),  # one vertex on the outline (shapely allows it)
        ([[[11, 1], [12, 1], [12, 2]]], "hole 0: it lies outside the outline"),
    ],
)
def test_hole_checks_in_pure_python_name_the_hole(holes, message):
    with pytest.raises(ValueError, match=message):
        check_polygon([(0, 0), (10, 0), (10, 6), (0, 6)], holes, what="f")


def test_holes_inside_their_outline_and_apart_are_accepted_and_taken_out_of_the_area():
    holes = [[(1, 1), (2, 1), (2, 2), (1, 2)], [(3, 1), (5, 1), (5, 2)]]
    assert check_polygon([(0, 0), (10, 0), (10, 6), (0, 6)], holes, what="f") == pytest.approx(60 - 1 - 1)


def test_only_a_clear_sky_year_is_flagged_and_its_proposal_notes_go_into_the_pdf_input():
    # Without weather: irradiance says so too, models name the clear sky, and the proposal's notes
    # (proposal_pdf's field, printed under the figures) say it is an upper bound
    irradiance, _ = _run("irradiance", IRRADIANCE)
    assert irradiance["warnings"] == [CLEAR_SKY_WARNING]
    assert "clear sky every hour" in irradiance["models"]["irradiance"]
    simulated, _ = _run("performance_simulation", PERFORMANCE)
    assert simulated["warnings"] == [CLEAR_SKY_WARNING]
    assert "upper bound" in ProposalInput.model_validate(proposal_input(simulated)).notes
    # With a weather file: no warning, no notes
    csv = "ghi,dni,dhi\n" + "100,50,50\n" * 8760
    ctx = Context({"file_0123456789abcdef0123456789abcdef": csv.encode()})
    weather = {"weather_file": "file_0123456789abcdef0123456789abcdef"}
    simulated, _ = _run("performance_simulation", {**PERFORMANCE, **weather}, ctx)
    assert simulated["warnings"] == [] and "notes" not in simulated["proposal"]
