"""The design actions (fire pathways, AutoDesigner, irradiance, performance simulation) through the
run route, the science queue and the real executor handler, against moto: each job succeeds with
its files in the results bucket, reports progress, and a bad weather file fails it."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.design_examples import BOWTIE, IRRADIANCE, PERFORMANCE, ROOF, autodesigner_input, performance_input


@pytest.fixture
def progress(harness, monkeypatch):
    """Every progress value the executor wrote, in order (the real store, its writes recorded)."""
    store = harness.services().store
    written: list[int] = []
    report = store.report_progress

    def recording(job, value):
        written.append(value)
        return report(job, value)

    monkeypatch.setattr(store, "report_progress", recording)
    return written


def _run(harness, action: str, body) -> tuple[str, dict]:
    reply = harness.run("acme", f"/designs/d-1/{action}", body)
    assert reply.status == 202, reply.body
    job_id = reply.body["job_id"]
    # the job went to the science queue, so to ScienceExecutorFunction
    assert harness.queue_depth(harness.stack.ref("ScienceJobsQueue")) == 1
    harness.pump()
    return job_id, harness.status("acme", f"/designs/d-1/{action}", job_id).body


def _file(harness, job_id: str, name: str) -> bytes:
    obj = harness.s3.get_object(Bucket=harness.env["RESULTS_BUCKET"], Key=f"results/acme/{job_id}/{name}")
    return obj["Body"].read()


def test_fire_pathways_then_autodesigner_succeed_with_the_layout_file(harness, progress):
    job_id, doc = _run(harness, "fire_pathways", ROOF)
    assert doc["status"] == "succeeded" and doc["progress"] == 100, doc
    fire = doc["result"]
    assert fire["rules"]["code"].startswith("IFC 2018 §1204.2.1")
    assert {p["face_id"] for p in fire["pathways"]} == {"south", "north"}
    assert progress and progress == sorted(progress)

    progress.clear()
    job_id, doc = _run(harness, "autodesigner", autodesigner_input(fire))
    assert doc["status"] == "succeeded", doc
    design = doc["result"]
    (file,) = design["files"]
    assert file["name"] == "layout.json" and "X-Amz-Signature=" in file["download_url"]
    layout = json.loads(_file(harness, job_id, "layout.json"))
    assert layout["count"] == design["count"] > 0
    assert sum(len(a["modules"]) for f in layout["faces"] for a in f["areas"]) == design["count"]
    assert len(progress) >= 3 and progress == sorted(progress)


def test_irradiance_and_performance_store_the_hourly_csv(harness, progress):
    job_id, doc = _run(harness, "irradiance", IRRADIANCE)
    assert doc["status"] == "succeeded", doc
    assert doc["result"]["files"][0]["name"] == "irradiance_hourly.csv"
    rows = list(csv.DictReader(io.StringIO(_file(harness, job_id, "irradiance_hourly.csv").decode())))
    assert len(rows) == 8760 and set(rows[0]) == {"time", "ghi", "south_poa_global"}
    annual = sum(float(r["south_poa_global"]) for r in rows) / 1000
    assert annual == pytest.approx(doc["result"]["faces"][0]["annual_kwh_m2"], abs=0.1)
    assert len(progress) >= 3

    job_id, doc = _run(harness, "performance_simulation", PERFORMANCE)
    assert doc["status"] == "succeeded", doc
    result = doc["result"]
    rows = list(csv.DictReader(io.StringIO(_file(harness, job_id, "performance_hourly.csv").decode())))
    assert len(rows) == 8760
    assert sum(float(r["ac_w"]) for r in rows) / 1000 == pytest.approx(result["annual_ac_kwh"], abs=0.5)
    assert result["proposal"]["module_count"] == 15 and result["models"]["dc"].startswith("PVWatts")


def _upload(harness, data: bytes) -> str:
    return harness.services().files.put_upload("acme", data, "weather.csv", "text/csv")


def test_an_uploaded_weather_file_is_used(harness):
    weather = _upload(harness, b"ghi,dni,dhi,temp_air\n" + b"200,100,100,25\n" * 8760)
    _, doc = _run(harness, "irradiance", {**IRRADIANCE, "weather_file": weather})
    assert doc["status"] == "succeeded", doc
    assert doc["result"]["site"]["ghi"]["annual_kwh_m2"] == pytest.approx(1752.0)


@pytest.mark.parametrize("action", ["irradiance", "performance_simulation"])
def test_a_bad_weather_file_fails_the_job_invalid_weather(harness, action):
    weather = _upload(harness, b"ghi,dni,dhi\n" + b"200,100,100\n" * 100)  # 100 hours, not 8,760
    body = IRRADIANCE if action == "irradiance" else PERFORMANCE
    _, doc = _run(harness, action, {**body, "weather_file": weather})
    assert doc["status"] == "failed", doc
    assert doc["error"]["code"] == "invalid_weather"
    assert "100 values, not 8760" in doc["error"]["message"]


def test_a_weather_file_that_was_never_uploaded_is_refused_at_submit(harness):
    reply = harness.run("acme", "/designs/d-1/irradiance", {**IRRADIANCE, "weather_file": "file_" + "0" * 32})
    assert reply.status == 422 and reply.body["error"]["code"] == "file_not_found", reply.body


@pytest.mark.parametrize(
    ("action", "body", "names"),
    [
        ("fire_pathways", {"faces": [{**ROOF["faces"][0], "vertices": BOWTIE}]}, "Self-intersection"),
        ("autodesigner", {**autodesigner_input({"faces": []}), "faces": []}, "faces"),
        ("irradiance", {**IRRADIANCE, "site": {**IRRADIANCE["site"], "latitude": 91}}, "latitude"),
        ("performance_simulation", performance_input({"performance_faces": []}), "faces"),
    ],
)
def test_invalid_inputs_are_refused_before_a_job_exists(harness, action, body, names):
    reply = harness.run("acme", f"/designs/d-1/{action}", body)
    assert reply.status == 422, reply.body
    assert names in reply.body["error"]["message"]
    assert harness.queue_depth(harness.stack.ref("ScienceJobsQueue")) == 0
