"""The design actions over the local stack's HTTP API: a roof through fire pathways, AutoDesigner,
performance simulation and the proposal PDF, each job's input built from the previous job's result
as a caller would, the files downloaded from their URLs; and the 422s that name what to fix."""

from __future__ import annotations

import csv
import io
import json

import pytest
import requests

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


def _job(api, path: str, body) -> dict:
    reply = api.run(path, body)
    assert reply.status == 202, reply.text
    doc = api.wait(reply.headers["Location"], timeout=120)
    assert doc["status"] == "succeeded", doc
    return doc["result"]


def _download(result: dict, name: str) -> bytes:
    (file,) = [f for f in result["files"] if f["name"] == name]
    got = requests.get(file["download_url"], timeout=60)
    assert got.status_code == 200, got.text
    assert len(got.content) == file["size_bytes"]
    return got.content


def test_a_roof_from_fire_pathways_to_a_proposal_pdf(api):
    # Given a gable roof: fire pathways place the setbacks and leave the usable area
    fire = _job(api, "/designs/d-chain/fire_pathways", ROOF)
    assert len(fire["pathways"]) == 2 and fire["warnings"] == []
    # When AutoDesigner fills the usable area of each face (its input from that result)
    design = _job(api, "/designs/d-chain/autodesigner", autodesigner_input(fire))
    layout = json.loads(_download(design, "layout.json"))
    assert layout["count"] == design["count"] > 0
    # and the performance simulation takes AutoDesigner's faces with modules
    simulated = _job(api, "/designs/d-chain/performance_simulation", performance_input(design))
    assert simulated["module_count"] == design["count"]
    assert simulated["dc_kw"] == pytest.approx(design["count"] * MODULE["watts"] / 1000)
    hourly = list(csv.reader(io.StringIO(_download(simulated, "performance_hourly.csv").decode())))
    assert hourly[0] == ["time", "ac_w", "dc_w"] and len(hourly) - 1 == 8760
    assert sum(float(row[1]) for row in hourly[1:]) / 1000 == pytest.approx(
        simulated["annual_ac_kwh"], abs=0.5
    )
    # and the proposal PDF takes the simulation's figures
    proposal = _job(api, "/designs/d-chain/proposal_pdf", proposal_input(simulated))
    # Then the PDF is downloadable, its figures from the chain
    assert _download(proposal, "proposal.pdf").startswith(b"%PDF")
    expected = simulated["annual_ac_kwh"] / simulated["dc_kw"]
    assert proposal["specific_yield_kwh_per_kwp"] == pytest.approx(expected, abs=0.1)


def test_irradiance_hourly_csv_is_downloadable(api):
    result = _job(api, "/designs/d-sun/irradiance", IRRADIANCE)
    rows = list(csv.DictReader(io.StringIO(_download(result, "irradiance_hourly.csv").decode())))
    assert len(rows) == 8760
    assert sum(float(r["south_poa_global"]) for r in rows) / 1000 == pytest.approx(
        result["faces"][0]["annual_kwh_m2"], abs=0.1
    )


_SQUARE = [[0, 0], [5, 0], [5, 4], [0, 4]]


@pytest.mark.parametrize(
    ("action", "body", "expected"),
    [
        # missing fields
        ("fire_pathways", {"faces": [{"id": "s", "vertices": _SQUARE}]}, ["faces.0.edges", "is required"]),
        (
            "autodesigner",
            {"faces": [{"id": "f", "usable": [{"exterior": _SQUARE}]}]},
            ["module", "is required"],
        ),
        ("irradiance", {"faces": IRRADIANCE["faces"]}, ["site", "is required"]),
        ("performance_simulation", {**PERFORMANCE, "inverter": {}}, ["inverter.ac_kw", "is required"]),
        # out of range
        (
            "fire_pathways",
            {"faces": [{**ROOF["faces"][0], "tilt_deg": 95}]},
            ["faces.0.tilt_deg", "less than 90"],
        ),
        (
            "autodesigner",
            {"faces": [{"id": "f", "usable": [{"exterior": _SQUARE}]}], "module": {**MODULE, "watts": 0}},
            ["module.watts", "greater than 0"],
        ),
        ("irradiance", {**IRRADIANCE, "albedo": 1.5}, ["albedo", "less than or equal to 1"]),
        (
            "performance_simulation",
            {**PERFORMANCE, "site": {**PERFORMANCE["site"], "timezone": "Mars/Olympus"}},
            ["site.timezone", "unknown time zone 'Mars/Olympus'", "IANA name"],
        ),
        # self-intersecting polygons
        (
            "fire_pathways",
            {"faces": [{**ROOF["faces"][0], "vertices": BOWTIE}]},
            ["face 'south': the polygon is invalid (Self-intersection", "list the vertices in order"],
        ),
        (
            "autodesigner",
            {"faces": [{"id": "f", "usable": [{"exterior": BOWTIE}]}], "module": MODULE},
            ["face 'f' usable[0]: the polygon is invalid (Self-intersection", "without self-intersections"],
        ),
    ],
)
def test_invalid_inputs_answer_422_naming_the_field_and_the_fix(api, action, body, expected):
    reply = api.run(f"/designs/d-bad/{action}", body)
    assert reply.status == 422, reply.text
    message = reply.body["error"]["message"]
    for part in expected:
        assert part in message, message
