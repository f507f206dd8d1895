"""The four design actions as jobs: each `run(inputs, ctx)` reports progress, calls its pure
computation and returns a JSON summary; what is too large for a job's result goes to S3 through
`ctx.save_file` and comes back as a download URL in the status document.

Imported by ScienceExecutorFunction only (the registry names these functions as strings; the
input models are the jobs layer's, `asyncjobs.actions.<action>`, so RunFunction validates
requests without this layer).

Files and sizes:
- Irradiance Analysis and Performance Simulation: the hourly CSV (8,760 rows, a header, ~0.3-1 MB)
  is always a file; the result keeps the annual and monthly figures.
- AutoDesigner: the full layout (every module's corners) is always a file, `layout.json`
  (face-local metres, so plain JSON: GeoJSON means longitude/latitude). The module corners are
  also inline while the result stays under `INLINE_LAYOUT_BYTES` (32 KiB, about 200 modules);
  above that the result keeps per-face and per-area counts and DC size, then per-face totals only
  if that is still over `MAX_SUMMARY_BYTES`.
- Fire Pathway Placement: inline, unless over `MAX_SUMMARY_BYTES` (48 KiB, a roof of ~100 faces):
  then the full result is the file `fire_pathways.json` and the inline one leaves out the setback
  polygons (their rule, edge, width and area stay), keeping the usable polygons AutoDesigner needs.

Without a weather file every hour is cloudless (clear sky): Irradiance Analysis and Performance
Simulation say so in `warnings` (the figures are an upper bound), and Performance Simulation's
`proposal` carries `notes` saying so too, which proposal_pdf prints under the figures, so a
customer does not read a cloudless year as the expected production.

48 KiB keeps a result under the runner's inline limit (64 KiB, `MAX_INLINE_RESULT_BYTES`), so it
is read in the status document and the next action's input built from it. What can remain over it
(AutoDesigner's per-face totals for 200 faces with long ids, fire pathways' usable polygons of a
20,000-vertex roof) the runner stores as `result.json`. The input caps bound it: 200 faces of
totals are ~100 KB; a usable polygon gains at most ~34 vertices (a rounded strip end) per edge with
a setback, so even 20,000 such edges give ~15 MB, under the 50 MiB a result may reach at all
(`MAX_RESULT_BYTES`, `result_too_large`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from asyncjobs_science import autodesigner, fire_pathways, irradiance, performance

if TYPE_CHECKING:
    from asyncjobs.actions.autodesigner import AutoDesignInput
    from asyncjobs.actions.base import JobContext
    from asyncjobs.actions.fire_pathways import FirePathwayInput
    from asyncjobs.actions.irradiance import IrradianceInput
    from asyncjobs.actions.performance_simulation import PerformanceInput

__all__ = ["run_autodesigner", "run_fire_pathways", "run_irradiance", "run_performance_simulation"]

INLINE_LAYOUT_BYTES = 32 * 1024
CLEAR_SKY_PROPOSAL_NOTE = (
    "Estimated production assumes a year without clouds (clear-sky model; no local weather data "
    "was used): it is an upper bound, and actual production will be lower."
)
MAX_SUMMARY_BYTES = 48 * 1024


def _size(result: dict[str, Any]) -> int:
    return len(json.dumps(result, separators=(",", ":"), default=str).encode())


def _weather(file_id: str | None, ctx: JobContext) -> irradiance.Weather | None:
    """The uploaded weather file, parsed (ActionFailed `invalid_weather` if it does not parse)."""
    if file_id is None:
        return None
    data = ctx.read_file(file_id, max_bytes=irradiance.MAX_WEATHER_BYTES)
    ctx.check_cancelled()
    return irradiance.parse_weather_csv(data)


def run_irradiance(inputs: IrradianceInput, ctx: JobContext) -> dict[str, Any]:
    ctx.report_progress(5)
    weather = _weather(inputs.weather_file, ctx)
    ctx.report_progress(15)
    summary, poa = irradiance.analyse(inputs, weather)
    ctx.report_progress(80)
    file = ctx.save_file("irradiance_hourly.csv", irradiance.hourly_csv(poa), "text/csv")
    ctx.report_progress(95)
    return {**summary, "files": [file]}


def run_performance_simulation(inputs: PerformanceInput, ctx: JobContext) -> dict[str, Any]:
    ctx.report_progress(5)
    weather = _weather(inputs.weather_file, ctx)
    ctx.report_progress(15)
    simulation = performance.simulate(inputs, weather)
    ctx.report_progress(80)
    file = ctx.save_file("performance_hourly.csv", performance.hourly_csv(simulation), "text/csv")
    ctx.report_progress(95)
    summary = simulation.summary
    counts = [f.module_count for f in inputs.faces]
    module_count = sum(c for c in counts if c is not None) if all(c is not None for c in counts) else None
    for face, given in zip(summary["faces"], inputs.faces, strict=True):
        face["module_count"] = given.module_count
    # The fields of the proposal_pdf input this result provides, under its names.
    proposal = {"system_size_kw": summary["dc_kw"], "annual_production_kwh": summary["annual_ac_kwh"]}
    if module_count is not None:
        proposal["module_count"] = module_count
    if weather is None:
        # proposal_pdf prints `notes` under the figures: the customer sees what the yield assumes
        proposal["notes"] = CLEAR_SKY_PROPOSAL_NOTE
    return {**summary, "module_count": module_count, "proposal": proposal, "files": [file]}


def run_autodesigner(inputs: AutoDesignInput, ctx: JobContext) -> dict[str, Any]:
    ctx.report_progress(2)
    total = len(inputs.faces)
    result = autodesigner.design(inputs, on_face=lambda i: ctx.report_progress(2 + 88 * i / total))
    for face in result["faces"]:
        face["module_count"] = face["count"]
    # What performance simulation takes as `faces`, under its names: faces with modules whose tilt
    # and azimuth were given.
    result["performance_faces"] = [
        {k: f[k] for k in ("id", "tilt_deg", "azimuth_deg", "dc_kw", "module_count")}
        for f in result["faces"]
        if f["count"] > 0 and f["tilt_deg"] is not None and f["azimuth_deg"] is not None
    ]
    missing = [
        f["id"] for f in result["faces"] if f["count"] > 0 and None in (f["tilt_deg"], f["azimuth_deg"])
    ]
    result["warnings"] = (
        [f"faces {missing} have modules but no tilt_deg/azimuth_deg: add them for performance simulation"]
        if missing
        else []
    )
    ctx.report_progress(92)
    file = ctx.save_file(
        "layout.json", json.dumps(result, separators=(",", ":")).encode(), "application/json"
    )
    result["files"] = [file]
    result["layout"] = "inline"
    if _size(result) > INLINE_LAYOUT_BYTES:
        for face in result["faces"]:
            for area in face["areas"]:
                del area["modules"]
        result["layout"] = "file"
    if _size(result) > MAX_SUMMARY_BYTES:
        for face in result["faces"]:
            del face["areas"]
    return result


def run_fire_pathways(inputs: FirePathwayInput, ctx: JobContext) -> dict[str, Any]:
    ctx.report_progress(5)
    result = fire_pathways.place(inputs)
    ctx.report_progress(90)
    if _size(result) > MAX_SUMMARY_BYTES:
        file = ctx.save_file(
            "fire_pathways.json", json.dumps(result, separators=(",", ":")).encode(), "application/json"
        )
        for face in result["faces"]:
            for setback in face["setbacks"]:
                del setback["polygons"]
        result["files"] = [file]
    return result
